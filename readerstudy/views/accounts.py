"""Signing in and out: the lockout page django-axes shows, and a logout that empties the browser's cache."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render


def client_address(request):
    """The client's address as the outermost of TRUSTED_PROXY_COUNT proxies saw it."""
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if settings.TRUSTED_PROXY_COUNT and len(forwarded) >= settings.TRUSTED_PROXY_COUNT:
        return forwarded[-settings.TRUSTED_PROXY_COUNT]
    return request.META.get("REMOTE_ADDR")


def locked_out(request, response=None, credentials=None):
    """The login page, saying the account is locked (django-axes' AXES_LOCKOUT_CALLABLE)."""
    minutes = settings.AXES_COOLOFF_TIME.total_seconds() // 60 if settings.AXES_COOLOFF_TIME else None
    return render(
        request,
        "registration/login.html",
        {"form": AuthenticationForm(request), "locked": True, "lockout_minutes": int(minutes) if minutes else None},
        status=429,
    )


class LogoutView(auth_views.LogoutView):
    """Logging out also drops the browser's cached images of the reader's cases. Only the cache: "storage"
    would wipe the page's outbox of reads and events not yet sent."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        response["Clear-Site-Data"] = '"cache"'
        return response
