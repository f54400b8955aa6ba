from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import SessionAuthentication


class BrowserSessionAuthentication(SessionAuthentication):
    """Session login that answers 401 (not 403) when the login is missing or expired.

    The workstation tells the two apart: 401 means "log in again, your draft is kept", 403 means "not allowed".
    """

    def authenticate_header(self, request):
        return 'Session realm="readerstudy"'

    def enforce_csrf(self, request):
        """Django's own check, on Django's request: DRF's would read the token from its request.POST, which runs
        the API's parsers, so a malformed or unsupported body would be answered 400 or 415 before the
        permissions are checked (a coordinator would get 400, not 403). Django reads a form body's token itself
        and leaves any other body unread; the token then comes from the X-CSRFToken header, as before."""
        super().enforce_csrf(request._request)


class BrowserSessionScheme(OpenApiAuthenticationExtension):
    """Documents the session login in the OpenAPI schema, like DRF's own SessionAuthentication."""

    target_class = BrowserSessionAuthentication
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
