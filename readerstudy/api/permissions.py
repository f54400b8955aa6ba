from rest_framework.permissions import BasePermission

from readerstudy.core.roles import READER, ROLES, has_role


class IsReader(BasePermission):
    message = "Only readers can use the reading API."

    def has_permission(self, request, view):
        return has_role(request.user, READER)


class HasAnyRole(BasePermission):
    """Any of the site's roles; an account without one sees nothing."""

    message = "Your account has no role yet."

    def has_permission(self, request, view):
        return has_role(request.user, *ROLES)
