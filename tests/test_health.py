"""The health endpoints: /healthz (the process answers) and /readyz (what a request needs), with no login."""

import json
import os
import urllib.error
import urllib.request

import pytest
from django.urls import reverse

from tests.servers import gunicorn

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
        "workers": {"newest_heartbeat_age_s": None},
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
    assert body["workers"] == {"newest_heartbeat_age_s": None}
    assert "hunter2" not in json.dumps(body)
