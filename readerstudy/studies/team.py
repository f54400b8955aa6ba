"""A study's team: coordinators added and removed by an admin or a coordinator of the study, each change in
the study's audit log (readerstudy/rules.py says what the team may do)."""

from django.db import IntegrityError, transaction

from readerstudy.core.errors import Refused
from readerstudy.core.roles import COORDINATOR, has_role
from readerstudy.models import AuditEntry, StudyCoordinator
from readerstudy.studies.lifecycle import audit


class TeamRefused(Refused):
    pass


def add_to_team(study, user, by, reason=""):
    """Put coordinator `user` on `study`'s team."""
    if not user.is_active:
        raise TeamRefused(f"{user.get_username()}'s account is deactivated.")
    if not has_role(user, COORDINATOR):
        raise TeamRefused(f"{user.get_username()} is not a coordinator: only coordinators join a study's team.")
    try:
        with transaction.atomic():
            StudyCoordinator.objects.create(study=study, user=user, added_by=by if getattr(by, "pk", None) else None)
            audit(study, by, AuditEntry.Action.TEAM_JOINED, f"{user.get_username()} joined the team.", reason)
    except IntegrityError:
        raise TeamRefused(f"{user.get_username()} is already on the team.") from None


def remove_from_team(study, user, by, reason=""):
    with transaction.atomic():
        removed, _ = StudyCoordinator.objects.filter(study=study, user=user).delete()
        if not removed:
            raise TeamRefused(f"{user.get_username()} is not on the team.")
        audit(study, by, AuditEntry.Action.TEAM_LEFT, f"{user.get_username()} left the team.", reason)
