"""The three roles (groups made by a migration) and the checks every view uses.

reader      reads their own assignments, nothing else
coordinator designs and runs studies, sees provenance and statistics; may use the Django admin
admin       accounts, case ingest, case sets, assignments; everything a coordinator may do
"""

from functools import wraps

from django.contrib.auth.models import Group, Permission
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

READER = "reader"
COORDINATOR = "coordinator"
ADMIN = "admin"
ROLES = (READER, COORDINATOR, ADMIN)

# Django model permissions per role (the Django admin uses them); applied after every migrate so models
# added by later migrations are covered. Admins get every permission of these apps.
ROLE_APPS = ("readerstudy", "inference")
COORDINATOR_PERMISSIONS = {
    "readerstudy": {
        "view": "__all__",
        "add": ["study", "studyquestion", "caseset", "casesetmembership"],
        "change": ["study", "studyquestion", "caseset", "casesetmembership"],
    },
    "inference": {"view": "__all__"},
}


def user_roles(user):
    if not user.is_authenticated:
        return set()
    if user.is_superuser:
        return set(ROLES)
    # Cached per request object: templates and views ask more than once.
    if not hasattr(user, "_role_cache"):
        user._role_cache = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    return user._role_cache


def has_role(user, *roles):
    """True if the user holds any of `roles`; admins may do whatever a coordinator may."""
    held = user_roles(user)
    if ADMIN in held:
        held = held | {COORDINATOR}
    return bool(held & set(roles))


def role_required(*roles):
    """View decorator: anonymous users go to the login page, users without the role get 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, *roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def role_context(request):
    user = getattr(request, "user", None)
    if user is None:
        return {}
    return {
        "is_reader": has_role(user, READER),
        "is_coordinator": has_role(user, COORDINATOR),
        "is_admin": has_role(user, ADMIN),
    }


def grant_role_permissions(sender=None, using="default", **kwargs):
    """post_migrate: give the coordinator and admin groups their model permissions (idempotent)."""
    admin_group = Group.objects.using(using).filter(name=ADMIN).first()
    coordinator_group = Group.objects.using(using).filter(name=COORDINATOR).first()
    if admin_group is None or coordinator_group is None:
        return
    perms = Permission.objects.using(using).filter(content_type__app_label__in=ROLE_APPS).select_related("content_type")
    admin_group.permissions.add(*perms)
    # Admins also manage accounts, and unlock those locked after failed logins (django-axes' records).
    admin_group.permissions.add(*Permission.objects.using(using).filter(content_type__app_label__in=("auth", "axes")))
    coordinator_group.permissions.add(*[p for p in perms if _coordinator_may(p)])


def _coordinator_may(permission):
    action, _, model = permission.codename.partition("_")
    allowed = COORDINATOR_PERMISSIONS.get(permission.content_type.app_label, {}).get(action, [])
    return allowed == "__all__" or model in allowed
