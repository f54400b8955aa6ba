"""Opening and closing a study, and the changes a running study allows, each written to its audit log."""

from django.db import transaction
from django.utils import timezone

from inference.models import StudyOutputPin
from readerstudy.core.errors import Refused
from readerstudy.core.signals import study_data_changed
from readerstudy.models import AI_ARMS, Assignment, AuditEntry, Case, Read, ReadingSession, Study
from readerstudy.studies import served_images
from readerstudy.studies.sessions import session_is_open


class LifecycleRefused(Refused):
    pass


def audit(study, user, action, detail, reason=""):
    return AuditEntry.objects.create(
        study=study, user=user if getattr(user, "pk", None) else None, action=action, detail=detail, reason=reason
    )


def open_study(study, user):
    """Open a designed study whose AI arms have a pinned output for every case; its protocol is then frozen."""
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        if study.status != Study.Status.DRAFT:
            raise LifecycleRefused(f"The study is {study.get_status_display().lower()}; only a draft can be opened.")
        if not Assignment.objects.filter(study=study).exists():
            raise LifecycleRefused("Design the study first: add its readers.")
        problems = study.primary_comparison_problems()
        if problems:
            raise LifecycleRefused(" ".join(problems.values()) + " Declare the primary comparison in the admin.")
        if any(arm in AI_ARMS for arm in study.arms):
            # Every case a reader will see under an AI arm (design, practice or free-form) needs its output.
            pinned = StudyOutputPin.objects.filter(study=study).values("case_id")
            missing = list(
                Case.objects.filter(assignments__study=study, assignments__arm__in=AI_ARMS)
                .exclude(pk__in=pinned)
                .distinct()
                .order_by("public_id")
                .values_list("public_id", flat=True)
            )
            if missing:
                raise LifecycleRefused(
                    f"{len(missing)} case(s) have no pinned AI output: {', '.join(missing[:10])}"
                    + (" …" if len(missing) > 10 else "")
                    + "."
                )
        study.status, study.opened_at = Study.Status.OPEN, timezone.now()
        study.save(update_fields=["status", "opened_at"], transition=True)
        readers = Assignment.objects.filter(study=study).values("reader").distinct().count()
        audit(study, user, AuditEntry.Action.OPENED, f"Opened with {readers} reader(s).")
        return study


def close_study(study, user):
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        if study.status != Study.Status.OPEN:
            raise LifecycleRefused(
                f"The study is {study.get_status_display().lower()}; only an open study can be closed."
            )
        study.status, study.closed_at = Study.Status.CLOSED, timezone.now()
        study.save(update_fields=["status", "closed_at"], transition=True)
        audit(study, user, AuditEntry.Action.CLOSED, "Closed: no more reading.")
        study_data_changed.send(
            sender=Study, study_id=study.pk
        )  # the final analysis, which states that the study is closed
        return study


def open_session_early(session, user, reason):
    """Open a reader's next session before its washout has passed; only with a stated reason."""
    if not reason.strip():
        raise LifecycleRefused("Say why the session opens before its washout has passed.")
    with transaction.atomic():
        session = ReadingSession.objects.select_for_update().select_related("study", "reader").get(pk=session.pk)
        if session.study.status != Study.Status.OPEN:
            raise LifecycleRefused("Only sessions of an open study can be opened.")
        if session_is_open(session):
            raise LifecycleRefused(f"Session {session.index} of {session.reader} is already open.")
        session.opens_at = timezone.now()
        session.save(update_fields=["opens_at"])
        audit(
            session.study,
            user,
            AuditEntry.Action.SESSION_OPENED_EARLY,
            f"Session {session.index} of {session.reader.get_username()} opened early.",
            reason.strip(),
        )
        return session


def _unstarted(assignment):
    locked = (
        Assignment.objects.select_for_update()
        .select_related("study", "reader", "case", "session")
        .get(pk=assignment.pk)
    )
    if locked.status != Assignment.Status.ASSIGNED or Read.objects.filter(assignment=locked).exists():
        raise LifecycleRefused(f"Assignment {locked.public_id} has been opened; started and submitted reads stay.")
    return locked


def _described(a):
    return f"{a.get_arm_display()} read of case {a.case.public_id} (session {a.session.index}, position {a.position})"


def revoke_assignment(assignment, user, reason=""):
    """Remove an assignment nobody has opened yet."""
    with transaction.atomic():
        locked = _unstarted(assignment)
        detail = f"Revoked the {_described(locked)} of {locked.reader.get_username()}."
        study = locked.study
        locked._change_reason = reason or "revoked"
        locked.delete()
        transaction.on_commit(lambda: served_images.discard(locked), robust=True)
        audit(study, user, AuditEntry.Action.ASSIGNMENT_REVOKED, detail, reason)


def move_assignment(assignment, to_reader, user, reason=""):
    """Give an unopened assignment to another reader of the study, at the end of their session of that index."""
    with transaction.atomic():
        locked = _unstarted(assignment)
        target = (
            ReadingSession.objects.select_for_update()
            .filter(study=locked.study, reader=to_reader, index=locked.session.index)
            .first()
        )
        if target is None:
            raise LifecycleRefused(f"{to_reader.get_username()} has no session {locked.session.index} in this study.")
        if Assignment.objects.filter(study=locked.study, reader=to_reader, case=locked.case, arm=locked.arm).exists():
            raise LifecycleRefused(f"{to_reader.get_username()} already reads this case under this arm.")
        detail = f"Moved the {_described(locked)} from {locked.reader.get_username()} to {to_reader.get_username()}."
        last = target.assignments.order_by("-position").values_list("position", flat=True).first() or 0
        locked.reader, locked.session, locked.position = to_reader, target, last + 1
        locked._change_reason = reason or "moved"  # the assignment's history keeps the move and its reason
        locked.save(update_fields=["reader", "session", "position"])
        audit(locked.study, user, AuditEntry.Action.ASSIGNMENT_MOVED, detail, reason)
