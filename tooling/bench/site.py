"""A throwaway site for a benchmark: a PostgreSQL database of its own on the configured server (migrated, then
dropped), a temporary DATA_DIR, and the environment gunicorn runs with. Nothing of it outlives the run."""

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connections
from django.test.utils import override_settings
from psycopg import sql

from tooling.servers import ROOT


@dataclass
class Site:
    data_dir: Path
    env: dict  # gunicorn's whole environment, for the bench database and DATA_DIR

    @property
    def store(self):
        return self.data_dir / "dicom"


@contextlib.contextmanager
def throwaway_site(kind):
    """Creates and migrates database readerstudy_bench_<pid>, and points this process's connection, DATA_DIR
    and secret key at the same site as gunicorn's; yields a Site. Everything is undone on the way out."""
    db = settings.DATABASES["default"]  # the very dict the connection reads its settings from
    if not db["ENGINE"].endswith("postgresql"):
        raise CommandError("the benchmarks need PostgreSQL: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1/x)")
    name = f"readerstudy_bench_{os.getpid()}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    url = f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{name}"
    # mkdtemp's 0700 would keep nginx's workers (www-data when run as root) out of the store.
    data_dir = Path(tempfile.mkdtemp(prefix=f"readerstudy-bench-{kind}-"))
    data_dir.chmod(0o750)
    # The sessions this process makes carry a hash made with the key gunicorn checks them with.
    secret_key = secrets.token_urlsafe(50)
    # No CELERY_BROKER_URL: tasks a submit enqueues go to the filesystem broker under DATA_DIR, not a real queue.
    env = {"PATH": os.environ["PATH"], "DATA_DIR": str(data_dir), "DATABASE_URL": url, "SECRET_KEY": secret_key}
    server = psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname="postgres", autocommit=True
    )
    original_name = db["NAME"]
    try:
        server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        connections["default"].close()
        db["NAME"] = name
        with override_settings(DATA_DIR=data_dir, DICOM_STORE_DIR=data_dir / "dicom", SECRET_KEY=secret_key):
            yield Site(data_dir, env)
    finally:
        connections["default"].close()
        db["NAME"] = original_name
        server.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        server.close()
        shutil.rmtree(data_dir)
