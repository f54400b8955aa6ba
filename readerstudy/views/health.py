"""Health endpoints for the orchestrator and load balancer: JSON, no login, never a 500.

/healthz says the process answers; /readyz checks what a request needs (the database, the Celery broker, a
writable DICOM store). A failing check names only the exception's class: its message can hold a host name
or a password from a URL.
"""

import tempfile
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from kombu import Connection

from inference.models import WorkerHeartbeat
from readerstudy.core import dicom_store

BROKER_TIMEOUT_S = 2


@never_cache
@require_safe
def healthz(request):
    return JsonResponse({"status": "ok"})


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker():
    # One short connection attempt (Celery's default retries for minutes); for Redis, connecting sends PING.
    with Connection(
        settings.CELERY_BROKER_URL,
        connect_timeout=BROKER_TIMEOUT_S,
        transport_options={**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "socket_timeout": BROKER_TIMEOUT_S},
    ) as broker:
        broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)


def _dicom_store():
    root = dicom_store.store_root()
    root.mkdir(parents=True, exist_ok=True)  # a fresh installation's store appears with its first image
    with tempfile.NamedTemporaryFile(dir=root, prefix=".readyz-"):
        pass


CHECKS = {"database": _database, "broker": _broker, "dicom_store": _dicom_store}


def _newest_heartbeat_age_s():
    """Seconds since any worker process last reported (WorkerHeartbeat has no queue); None if none or unknown.

    Informational: a worker silent between jobs is not a reason to take the web tier out of service."""
    try:
        newest = WorkerHeartbeat.objects.filter(last_seen__gte=timezone.now() - timedelta(days=1)).first()
    except Exception:
        return None
    return None if newest is None else round((timezone.now() - newest.last_seen).total_seconds(), 1)


@never_cache
@require_safe
def readyz(request):
    checks = {}
    for name, check in CHECKS.items():
        try:
            check()
            checks[name] = {"ok": True}
        except Exception as error:
            checks[name] = {"ok": False, "error": type(error).__name__}
    ready = all(result["ok"] for result in checks.values())
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": checks,
        "workers": {"newest_heartbeat_age_s": _newest_heartbeat_age_s()},
    }
    return JsonResponse(body, status=200 if ready else 503)
