from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import SessionAuthentication


class BrowserSessionAuthentication(SessionAuthentication):
    """Session login that answers 401 (not 403) when the login is missing or expired.

    The workstation tells the two apart: 401 means "log in again, your draft is kept", 403 means "not allowed".
    """

    def authenticate_header(self, request):
        return 'Session realm="readerstudy"'


class BrowserSessionScheme(OpenApiAuthenticationExtension):
    """Documents the session login in the OpenAPI schema, like DRF's own SessionAuthentication."""

    target_class = BrowserSessionAuthentication
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
