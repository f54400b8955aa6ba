"""Logging in as a browser does, through the login page (and so through the lockout, which Client.login skips)."""

from django.urls import reverse


def log_in_through_page(client, username, password, **request_meta):
    """The login page's response; the client is signed in when it redirects."""
    return client.post(reverse("login"), {"username": username, "password": password}, **request_meta)


def logs_in(client, username, password, **request_meta):
    response = log_in_through_page(client, username, password, **request_meta)
    return response.status_code == 302 and "_auth_user_id" in client.session
