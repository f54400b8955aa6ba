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


def _heartbeat_ages_s():
    """{queue: seconds since a worker consuming it last reported, or None} for the project's queues and any
    other a worker reported; every queue None when the database cannot say.

    Informational: a worker silent between tasks is not a reason to take the web tier out of service."""
    ages = dict.fromkeys(_site_queues())
    now = timezone.now()
    try:
        recent = WorkerHeartbeat.objects.filter(last_seen__gte=now - timedelta(days=1)).values_list(
            "queues", "last_seen"
        )
        for queues, last_seen in recent:  # newest first
            for queue in filter(None, queues.split(",")):
                if ages.get(queue) is None:
                    ages[queue] = round((now - last_seen).total_seconds(), 1)
    except Exception:
        return dict.fromkeys(_site_queues())
    return ages


def _site_queues():
    """The queues the site sends tasks to (the default queue and the routes'), always listed in /readyz."""
    routed = sorted({route["queue"] for route in settings.CELERY_TASK_ROUTES.values()})
    return [settings.CELERY_TASK_DEFAULT_QUEUE, *routed]


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
        "workers": {queue: {"newest_heartbeat_age_s": age} for queue, age in _heartbeat_ages_s().items()},
    }
    return JsonResponse(body, status=200 if ready else 503)
