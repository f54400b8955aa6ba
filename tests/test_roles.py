"""Who may open which page: a permission matrix per role."""

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


# Pages anyone may open; every other route must turn away a visitor who is not logged in.
PUBLIC_ROUTES = {"login", "logout", "password_reset_confirm", "set-password-done"}


def project_routes():
    """Every named route of the project outside the Django admin, with placeholder arguments."""
    from django.urls import get_resolver
    from django.urls.resolvers import URLPattern, URLResolver

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.app_name != "admin":
                    yield from walk(pattern.url_patterns, prefix + (f"{pattern.namespace}:" if pattern.namespace else ""))
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield prefix + pattern.name, list(pattern.pattern.converters.items())

    samples = {"int": 1, "string": "abc", "uuid": "6f1c1f8e-6a83-4b8e-9b84-1d7b9c1f0a11", "slug": "x", "path": "x"}
    for name, converters in walk(get_resolver().url_patterns):
        kwargs = {key: samples[type(conv).__name__.replace("Converter", "").lower()] for key, conv in converters}
        yield name, reverse(name, kwargs=kwargs)


def test_every_route_turns_away_anonymous_visitors_and_users_without_a_role(client):
    routes = dict(project_routes())
    assert {"worklist", "workstation", "api-submit", "api-image", "study-detail", "study-export", "people",
            "inference:runs"} <= set(routes)
    roleless = UserFactory(username="nobody")
    for name, path in routes.items():
        if name in PUBLIC_ROUTES:
            continue
        client.logout()
        anonymous = client.get(path)
        assert anonymous.status_code in (302, 401, 405), (name, anonymous.status_code)
        if anonymous.status_code == 302:
            assert anonymous["Location"].startswith(reverse("login")), name
        client.force_login(roleless)
        response = client.get(path)
        assert response.status_code in (403, 404, 405) or (name == "home" and response.status_code == 200), (
            name, response.status_code)
