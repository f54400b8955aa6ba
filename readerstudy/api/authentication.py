from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import is_form_media_type


class BrowserSessionAuthentication(SessionAuthentication):
    """Session login that answers 401 (not 403) when the login is missing or expired.

    The workstation tells the two apart: 401 means "log in again, your draft is kept", 403 means "not allowed".
    """

    def authenticate_header(self, request):
        return 'Session realm="readerstudy"'

    def enforce_csrf(self, request):
        """DRF's check looks for the token in request.POST, which parses the body, so a malformed body would be
        answered 400 before the permissions are checked (a coordinator would get 400, not 403). Only a form body
        can carry the token; for any other, Django's own request has an empty POST and the body is left unread."""
        super().enforce_csrf(request if is_form_media_type(request.content_type) else request._request)


class BrowserSessionScheme(OpenApiAuthenticationExtension):
    """Documents the session login in the OpenAPI schema, like DRF's own SessionAuthentication."""

    target_class = BrowserSessionAuthentication
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
