"""Signing in and the headers every response carries: login lockout (django-axes), 12-hour sessions, the
Content-Security-Policy, HSTS and a clean `check --deploy` in production, and a logout that empties the cache."""

import logging
import os
import secrets
import subprocess
import sys
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from readerstudy.views.accounts import client_address
from tests.factories import UserFactory
from tests.login import log_in_through_page, logs_in

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
WRONG = "wrong-password-never-logged"
LOCKED = "Too many failed logins: this account is locked for 30 minutes."


def fail(client, username, times, **meta):
    """`times` failed logins; the failure that reaches the limit is answered with the lockout."""
    statuses = [log_in_through_page(client, username, WRONG, **meta).status_code for _ in range(times)]
    assert statuses == [200] * min(times, 4) + [429] * (times - 4)


def test_the_sixth_attempt_after_five_failures_is_refused_even_with_the_right_password(client, reader, caplog):
    with caplog.at_level(logging.WARNING, logger="axes"):
        fail(client, reader.username, 5)
    response = log_in_through_page(client, reader.username, PASSWORD)
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert "_auth_user_id" not in client.session
    # The five failures and the refused attempt, which counts as one more.
    attempt = AccessAttempt.objects.get(username=reader.username)
    assert attempt.failures_since_start == 6
    # Failures are recorded and logged with the username, never with the password.
    assert reader.username in caplog.text and WRONG not in caplog.text
    assert WRONG not in str(attempt.post_data)


def test_logging_in_as_oneself_does_not_reset_the_count_of_guesses_at_another_account(client, reader):
    other = UserFactory(roles=["reader"])
    fail(client, reader.username, 4)
    assert logs_in(client, other.username, PASSWORD)  # the same address, someone else's right password
    client.logout()
    assert log_in_through_page(client, reader.username, WRONG).status_code == 429


def test_with_no_lockout_time_the_account_stays_locked_until_an_admin_unlocks_it(client, reader, settings):
    settings.AXES_COOLOFF_TIME = None  # LOGIN_LOCKOUT_MINUTES=0
    fail(client, reader.username, 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(days=30))
    response = log_in_through_page(client, reader.username, PASSWORD)
    assert response.status_code == 429
    assert "this account is locked until an administrator unlocks it." in response.content.decode()


def test_behind_a_proxy_the_address_the_proxy_saw_is_locked(client, settings):
    """With nginx in front, every request comes from nginx: the lockout must key on the client's address
    (the right-most X-Forwarded-For entry), whatever the client wrote into the header itself."""
    settings.TRUSTED_PROXY_COUNT = 1
    users = UserFactory.create_batch(6, roles=["reader"])
    statuses = [
        log_in_through_page(
            client, user.username, WRONG, REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 203.0.113.9"
        ).status_code
        for n, user in enumerate(users[:5])
    ]
    assert statuses == [200, 200, 200, 200, 429]
    assert (
        log_in_through_page(
            client, users[5].username, PASSWORD, REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9"
        ).status_code
        == 429
    )
    assert logs_in(
        client, users[5].username, PASSWORD, REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.4"
    )


def test_a_lockout_ends_when_its_time_has_passed(client, reader):
    fail(client, reader.username, 5)
    assert not logs_in(client, reader.username, PASSWORD)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=31))
    assert logs_in(client, reader.username, PASSWORD)


def test_an_admin_unlocks_an_account_in_the_admin(client, reader, admin_user):
    fail(client, reader.username, 5)
    attempt = AccessAttempt.objects.get(username=reader.username)
    client.force_login(admin_user)
    listing = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert reader.username in listing.content.decode()
    deleted = client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
    assert deleted.status_code == 302
    client.logout()
    assert logs_in(client, reader.username, PASSWORD)


def test_five_failures_from_one_address_lock_that_address_for_every_account(client, db):
    users = UserFactory.create_batch(6, roles=["reader"])
    statuses = [
        log_in_through_page(client, user.username, WRONG, REMOTE_ADDR="10.0.0.7").status_code for user in users[:5]
    ]
    assert statuses == [200, 200, 200, 200, 429]
    assert log_in_through_page(client, users[5].username, PASSWORD, REMOTE_ADDR="10.0.0.7").status_code == 429
    assert logs_in(client, users[5].username, PASSWORD, REMOTE_ADDR="10.0.0.8")


def test_the_admin_login_is_locked_too(client, admin_user):
    fail(client, admin_user.username, 5)
    response = client.post(reverse("admin:login"), {"username": admin_user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "proxies,forwarded,address",
    [
        (0, "203.0.113.9", "172.18.0.5"),  # nothing trusted in front: the connection's address
        (1, "203.0.113.9", "203.0.113.9"),  # nginx appended the client's address
        (1, "1.1.1.1, 203.0.113.9", "203.0.113.9"),  # what the client wrote itself is not believed
        (2, "1.1.1.1, 198.51.100.4, 10.0.0.2", "198.51.100.4"),
        (1, "", "172.18.0.5"),  # a request that did not come through the proxy
    ],
)
def test_the_client_address_is_read_only_from_trusted_proxies(settings, proxies, forwarded, address):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == address


def test_a_session_lasts_twelve_hours(client, reader):
    log_in_through_page(client, reader.username, PASSWORD)
    assert client.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 12 * 3600


EXPECTED_CSP = {
    "default-src 'self'",
    "script-src 'self'",
    "worker-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
}


def test_every_page_sends_the_content_security_policy(client, reader, coordinator, admin_user, demo_case_set):
    from readerstudy.models import Arm
    from tests.reading_setup import open_study_with_assignments

    study, assignments = open_study_with_assignments(demo_case_set, reader, arms=[Arm.UNAIDED], team=[coordinator])
    pages = [(None, reverse("login"), 200), (None, "/no-such-page/", 404)]
    pages += [
        (reader, path, 200)
        for path in (
            reverse("home"),
            reverse("worklist"),
            reverse("workstation", args=[assignments[Arm.UNAIDED].public_id]),
            reverse("api-assignments"),
        )
    ]
    pages += [(coordinator, reverse("study-detail", args=[study.pk]), 200), (admin_user, reverse("admin:index"), 200)]
    for user, path, status in pages:
        if user:
            client.force_login(user)
        response = client.get(path)
        assert response.status_code == status, path
        assert set(response["Content-Security-Policy"].split("; ")) == EXPECTED_CSP, path


def test_logout_clears_the_browsers_cache_but_not_its_storage(client, reader):
    client.force_login(reader)
    response = client.post(reverse("logout"))
    assert (response.status_code, response["Location"]) == (302, reverse("login"))
    assert response["Clear-Site-Data"] == '"cache"'


def production_env(tmp_path):
    # Not the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE, which production must never set (check --deploy says so).
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    return env | {
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECURE_COOKIES": "true",
        "USE_X_ACCEL_REDIRECT": "true",
        "TRUSTED_PROXY_COUNT": "1",
        "ALLOWED_HOSTS": "reading.example.org",
        "DJANGO_SETTINGS_MODULE": "readerstudy.settings",
    }


def test_check_deploy_passes_with_the_production_environment(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
    )
    assert result.returncode == 0, result.stderr
    # The one silenced check (HSTS preload) has its reason in settings.py.
    assert result.stdout.strip() == "System check identified no issues (1 silenced)."


SHOW_HEADERS = """
from django.test import Client
client = Client(HTTP_HOST="reading.example.org")
secure = client.get("/login/", secure=True, HTTP_X_FORWARDED_PROTO="https")
plain = client.get("/login/")
print(secure.status_code, secure["Strict-Transport-Security"])
print(plain.status_code, plain["Location"])
"""


def test_production_sends_hsts_and_redirects_plain_http(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", SHOW_HEADERS],
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "200 max-age=31536000; includeSubDomains",
        "301 https://reading.example.org/login/",
    ]
