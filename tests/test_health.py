"""The health endpoints: /healthz (the process answers) and /readyz (what a request needs), with no login."""

import json
import os
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from inference.models import WorkerHeartbeat
from tooling.servers import gunicorn

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok(client):
    response = client.get(reverse("healthz"))
    assert (response.status_code, response["Content-Type"], response.json()) == (
        200,
        "application/json",
        {"status": "ok"},
    )


def test_readyz_is_ok_when_every_check_passes(client, dicom_store):
    response = client.get(reverse("readyz"))
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"ok": True}, "broker": {"ok": True}, "dicom_store": {"ok": True}},
        # No worker runs in this test, so none has reported.
        "workers": {"default": {"newest_heartbeat_age_s": None}, "gpu": {"newest_heartbeat_age_s": None}},
    }
    assert not any(dicom_store.iterdir()), "the probe's file stays behind"


def test_readyz_names_an_unreachable_broker_and_an_unwritable_store(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "redis://:hunter2@127.0.0.1:1/0"
    settings.DICOM_STORE_DIR = tmp_path / "a-file"
    settings.DICOM_STORE_DIR.write_bytes(b"")
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "broker": False,
        "dicom_store": False,
    }
    assert b"hunter2" not in response.content and b"127.0.0.1" not in response.content


def get(url):
    try:
        response = urllib.request.urlopen(url, timeout=30)
    except urllib.error.HTTPError as error:
        response = error
    return response.status, json.loads(response.read())


def test_a_server_whose_database_is_down_is_alive_but_not_ready(tmp_path, settings):
    env = {
        "PATH": os.environ["PATH"],
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": "postgres://postgres:hunter2@127.0.0.1:1/readerstudy",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    with gunicorn(env) as url:
        assert get(f"{url}/healthz") == (200, {"status": "ok"})
        status, body = get(f"{url}/readyz")
    assert (status, body["status"]) == (503, "unavailable")
    assert body["checks"]["database"]["ok"] is False and body["checks"]["database"]["error"]
    assert body["checks"]["broker"] == body["checks"]["dicom_store"] == {"ok": True}
    assert body["workers"] == {"default": {"newest_heartbeat_age_s": None}, "gpu": {"newest_heartbeat_age_s": None}}
    assert "hunter2" not in json.dumps(body)


def test_readyz_gives_each_queues_newest_worker_heartbeat_without_failing_on_an_old_one(client, dicom_store):
    now = timezone.now()
    for queues, seconds in (("gpu", 30), ("default,gpu", 300), ("default", 7200), ("reports", 5)):
        WorkerHeartbeat.objects.create(
            process_key=uuid.uuid4(), hostname="w", pid=1, queues=queues, last_seen=now - timedelta(seconds=seconds)
        )
    response = client.get(reverse("readyz"))
    assert response.status_code == 200
    ages = {queue: age["newest_heartbeat_age_s"] for queue, age in response.json()["workers"].items()}
    assert list(ages) == ["default", "gpu", "reports"]
    assert 300 <= ages["default"] < 302 and 30 <= ages["gpu"] < 32 and 5 <= ages["reports"] < 7
