"""Settings, all read from the environment (README: Configuration).

With nothing set, the app runs on its embedded defaults: SQLite and a filesystem Celery broker under
DATA_DIR, so `make demo` needs no server. Tests and production set DATABASE_URL and CELERY_BROKER_URL.
"""

import secrets
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])


def _embedded_secret_key():
    """A key made once per DATA_DIR, so a first run is never on a published default key."""
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _embedded_secret_key()


def _embedded_deidentification_key():
    path = DATA_DIR / "deidentification_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


# The key of the keyed hash that replaces UIDs in de-identified files: one per installation, kept, so that
# re-importing a file finds the copy stored before. Never rotate it on a running installation.
DEIDENTIFICATION_KEY = (env.str("DEIDENTIFICATION_KEY", default="") or _embedded_deidentification_key()).encode()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "simple_history",
    "axes",
    # Object permissions: loads each app's rules.py (readerstudy/rules.py: who runs which study).
    "rules.apps.AutodiscoverRulesConfig",
    "readerstudy",
    "inference",
    # Demo and test tooling (synthetic radiographs, the tiny model, seed_demo): no production module imports it.
    "tooling",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Who made each change the model history records (django-simple-history).
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "readerstudy.urls"
WSGI_APPLICATION = "readerstudy.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "readerstudy.core.roles.role_context",
            ],
        },
    },
]

if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    # Persistent connections: a new PostgreSQL connection per request cost more than the image access check
    # itself. Health checks drop a connection the server closed (a restart) before a request uses it.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    # Embedded SQLite shared by the web and worker processes: WAL lets readers run beside a writer, and
    # IMMEDIATE transactions take the write lock up front instead of failing with "database is locked".
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login lockout (django-axes): after LOGIN_FAILURE_LIMIT failed logins for one username, or from one
# address, further attempts are refused, the right password included, for LOGIN_LOCKOUT_MINUTES (0: until
# an admin unlocks it under Admin › Axes, or `manage.py axes_reset_username NAME`). Failures are recorded
# and logged with the username and address, never the password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=30)) or None
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Failures expire with the cool-off, never at a successful login: axes would then also forget the address's
# failures, so anyone with an account could reset another's count by logging in between guesses.
AXES_RESET_ON_SUCCESS = False
# Each failure is kept (Admin › Axes › Access failures), not only the per-account counter.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_CALLABLE = "readerstudy.views.accounts.locked_out"
# Failures and lockouts are logged with the username (no patient data; the operator needs it to act); the
# password is never logged.
AXES_SENSITIVE_PARAMETERS = []
# How many proxies in front append the client's address to X-Forwarded-For (docker-compose's nginx: 1; 0: none,
# the address is REMOTE_ADDR). The address is read that many places from the right, never further left, where
# a client could have written one of its choosing.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "readerstudy.views.accounts.client_address"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)

# Stored, normalised DICOM files, content-addressed by sha256 (readerstudy.core.dicom_store).
DICOM_STORE_DIR = DATA_DIR / "dicom"
# Largest case archive the browser upload accepts.
CASE_UPLOAD_MAX_BYTES = env.int("CASE_UPLOAD_MAX_BYTES", default=2 * 1024**3)
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2
DATA_UPLOAD_MAX_NUMBER_FILES = 2

# Behind nginx in production the stored DICOM file is sent by nginx after Django has checked access.
USE_X_ACCEL_REDIRECT = env.bool("USE_X_ACCEL_REDIRECT", default=False)
X_ACCEL_REDIRECT_PREFIX = "/protected-dicom/"

SESSION_COOKIE_HTTPONLY = True
# A reading day, not the two weeks of Django's default: a shared workstation left signed in expires overnight.
SESSION_COOKIE_AGE = env.int("SESSION_HOURS", default=12) * 3600
# Production runs behind TLS: secure cookies, HTTPS only (HSTS), and trust nginx's X-Forwarded-Proto.
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE = SECURE_COOKIES
if SECURE_COOKIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = env.int("HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SILENCED_SYSTEM_CHECKS = [
    # HSTS preload puts the domain into browsers' built-in lists, which only its owner can ask for and is slow
    # to undo; a hospital's IT decides it, not this application.
    "security.W021",
]
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp) on every response: scripts, styles, workers and fetches from this site
# only; no inline script, no eval. The viewer's decoders run as workers from the bundle; its tools draw their
# cursors as blob: images. No WebAssembly: the viewer is only ever sent uncompressed files
# (dicom_files.normalised_bytes), so its WebAssembly codecs never run; serving compressed files would need
# 'wasm-unsafe-eval' in script-src (every browser test fails on a blocked resource, so they would say so).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "worker-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["readerstudy.api.authentication.BrowserSessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON only (the workstation sends nothing else), refused with a 400 when nested too deep to parse.
    "DEFAULT_PARSER_CLASSES": ["readerstudy.api.parsers.DepthLimitedJSONParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CXR reasoning reader study API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema is for the site's users, not the public.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated", "readerstudy.api.permissions.HasAnyRole"],
}

# Celery: Redis in tests and production; without CELERY_BROKER_URL, kombu's filesystem transport under
# DATA_DIR, which (unlike memory://) works across the web and worker processes.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "filesystem://"
# Longer than the longest job, so Redis does not hand a running job's message to a second worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_S", default=7200)}
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = DATA_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS |= {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Exchange bindings; kombu's default is a folder in the current directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"inference.run_job": {"queue": "gpu"}}
# A job's message is acknowledged only when it is done, and given back if its worker process dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE = {
    "reconcile-inference": {"task": "inference.reconcile", "schedule": env.int("RECONCILE_EVERY_S", default=300)},
    "sweep-analyses": {"task": "analysis.sweep", "schedule": env.int("ANALYSIS_SWEEP_EVERY_S", default=600)},
}

# Study analysis (README: Analysis), computed on the default queue. A change to the reads sends one
# computation this many seconds later, so a burst of submits is analysed once.
ANALYSIS_DELAY_S = env.int("ANALYSIS_DELAY_S", default=10)
# A computation sent this long ago that has not started is sent again (by the next request or the sweep).
ANALYSIS_REQUEUE_AFTER_S = env.int("ANALYSIS_REQUEUE_AFTER_S", default=600)
# One pass of a study's computation may take this long: the worker renews its lease (core.leases) before each
# pass, and a dead worker's lease runs out after it.
ANALYSIS_LEASE_S = env.int("ANALYSIS_LEASE_S", default=3600)

# Inference (README: Inference: running NV-Reason-CXR-3B). The engine reads these in the worker process only.
INFERENCE_DEVICE = env.str("INFERENCE_DEVICE", default="auto")  # auto | cuda | cpu
INFERENCE_DTYPE = env.str("INFERENCE_DTYPE", default="bfloat16")  # bfloat16 | float16 | float32
INFERENCE_TORCH_THREADS = env.int("INFERENCE_TORCH_THREADS", default=0)  # 0: torch's default
# The model was trained on images between 128² and 476² pixels.
INFERENCE_MIN_PIXELS = env.int("INFERENCE_MIN_PIXELS", default=128 * 128)
INFERENCE_MAX_PIXELS = env.int("INFERENCE_MAX_PIXELS", default=476 * 476)
# A worker generates up to this many queued cases of one model configuration together (one generate call per
# turn): on a GPU, decoding is memory-bound and a batch of 4–8 costs little more than one case.
INFERENCE_BATCH_SIZE = env.int("INFERENCE_BATCH_SIZE", default=1)
INFERENCE_OPENAI_BASE_URL = env.str("INFERENCE_OPENAI_BASE_URL", default="http://127.0.0.1:8001")
INFERENCE_OPENAI_API_KEY = env.str("INFERENCE_OPENAI_API_KEY", default="")
INFERENCE_OPENAI_TIMEOUT_S = env.int("INFERENCE_OPENAI_TIMEOUT_S", default=600)
# A worker owns a job for this long after claiming it, loading the model or finishing a turn (it renews its
# lease, core.leases, at each); a dead worker's job is taken over once its lease has run out.
INFERENCE_LEASE_S = env.int("INFERENCE_LEASE_S", default=1800)
INFERENCE_MAX_ATTEMPTS = env.int("INFERENCE_MAX_ATTEMPTS", default=4)
INFERENCE_RETRY_BACKOFF_S = env.int("INFERENCE_RETRY_BACKOFF_S", default=15)
# Queued jobs whose message was sent longer ago than this are sent again by reconcile_inference.
INFERENCE_REQUEUE_AFTER_S = env.int("INFERENCE_REQUEUE_AFTER_S", default=7200)
# Name of a model configuration a GPU worker loads when each process starts (else on its first job).
INFERENCE_PRELOAD_CONFIGURATION = env.str("INFERENCE_PRELOAD_CONFIGURATION", default="")

# Logs carry ids and counts, never patient data (README: Configuration, LOG_LEVEL).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # pydicom logs each failed decoder attempt with a traceback; the ingest reports the reason itself.
    "loggers": {
        "pydicom": {"level": "CRITICAL", "propagate": False},
        # django-axes logs every login and logout at INFO; failures and lockouts are warnings.
        "axes": {"level": "WARNING"},
    },
}

# History is a record, not an undo button: the admin's history pages show changes and never revert them.
SIMPLE_HISTORY_REVERT_DISABLED = True
