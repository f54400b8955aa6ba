"""Logging in per role, and the role permissions of the Django admin. What each role reaches on every route,
on its own and another team's study, is the access matrix's (test_access_matrix.py)."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROLE_USERS = {
    "anonymous": None,
    "reader": ["reader"],
    "coordinator": ["coordinator"],
    "admin": ["admin"],
}


def client_for(client, role):
    if ROLE_USERS[role] is not None:
        client.force_login(UserFactory(roles=ROLE_USERS[role]))
    return client


@pytest.mark.parametrize(
    ("role", "expected"),
    [("anonymous", 302), ("reader", 403), ("coordinator", 403), ("admin", 200)],
)
def test_case_import_page_is_for_admins_only(client, role, expected):
    response = client_for(client, role).get(reverse("import-cases"))
    assert response.status_code == expected
    if role == "anonymous":
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    ("role", "expected"),
    [("anonymous", 302), ("reader", 302), ("coordinator", 200), ("admin", 200)],
)
def test_django_admin_is_for_coordinators_and_admins(client, role, expected):
    response = client_for(client, role).get(reverse("admin:index"))
    assert response.status_code == expected


@pytest.mark.parametrize(
    ("role", "page", "expected"),
    [
        ("coordinator", "admin:readerstudy_study_changelist", 200),
        ("coordinator", "admin:readerstudy_case_changelist", 200),
        ("coordinator", "admin:auth_user_changelist", 403),
        ("admin", "admin:auth_user_changelist", 200),
        ("admin", "admin:readerstudy_read_changelist", 200),
    ],
)
def test_admin_model_pages_follow_role_permissions(client, role, page, expected):
    response = client_for(client, role).get(reverse(page))
    assert response.status_code == expected


def test_history_is_read_only_in_the_admin_even_for_admins(client):
    from tests.factories import ReadFactory

    read = ReadFactory()
    client_for(client, "admin")
    assert client.get(reverse("admin:readerstudy_read_change", args=[read.pk])).status_code == 200
    assert client.post(reverse("admin:readerstudy_read_delete", args=[read.pk]), {"post": "yes"}).status_code == 403


@pytest.mark.parametrize("role", ["reader", "coordinator", "admin"])
def test_login_page_logs_each_role_in_and_home_greets_them(client, role):
    user = UserFactory(roles=ROLE_USERS[role])
    response = client.post(reverse("login"), {"username": user.username, "password": "correct horse battery"})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert f"Welcome, {user.username}" in client.get(reverse("home")).content.decode()


def test_wrong_password_is_refused_with_a_message(client):
    user = UserFactory(roles=["reader"])
    response = client.post(reverse("login"), {"username": user.username, "password": "wrong"})
    assert response.status_code == 200
    assert "did not match" in response.content.decode()


def test_logout_needs_a_post_and_ends_the_session(client):
    client_for(client, "reader")
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302
