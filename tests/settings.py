"""Test settings: the real PostgreSQL and Redis on this machine (never SQLite or an in-memory broker)."""

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/readerstudy")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
# setdefault: worker subprocesses started by tests inherit the parent's DATA_DIR.
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="readerstudy-test-"))

from readerstudy.settings import *  # noqa: E402,F403

# Hashing cost is not under test; make logins in tests cheap.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The flush between transactional tests truncates every table, the append-only audit log too: its trigger lets
# a TRUNCATE through only on connections that set this (production connections never do).
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c readerstudy.allow_truncate=on"  # noqa: F405
