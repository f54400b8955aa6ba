"""When a reader's session opens: with the study for the first, the washout after the previous otherwise,
or earlier when a coordinator opened it early."""

from datetime import timedelta

from django.db.models import Max
from django.utils import timezone

from readerstudy.models import Assignment, Read, ReadingSession, Study


def session_opens_at(session):
    """When the session opens, or None while the reader has not finished the previous one.

    A date set on the session wins (a coordinator opening it early). Otherwise session 1 opens with the
    study, and session n + 1 the study's washout days after the reader's last submission in session n.
    """
    if session.opens_at or session.index == 1:
        return session.opens_at or session.study.opened_at
    previous = ReadingSession.objects.filter(
        study=session.study_id, reader=session.reader_id, index=session.index - 1
    ).first()
    if previous is None:
        return session.study.opened_at
    if previous.assignments.exclude(status=Assignment.Status.SUBMITTED).exists():
        return None
    last = Read.objects.filter(assignment__session=previous).aggregate(at=Max("submitted_at"))["at"]
    return last + timedelta(days=session.study.washout_days)


def session_is_open(session, now=None):
    if session.study.status != Study.Status.OPEN:
        return False
    if session.index == 1 and session.opens_at is None:
        return True
    opens = session_opens_at(session)
    return opens is not None and opens <= (now or timezone.now())


def when_session_opens(session):
    """The opening, in the reader's words."""
    opens = session_opens_at(session)
    if opens is None:
        days = session.study.washout_days
        after = "when" if days == 0 else f"{days} day{'s' if days != 1 else ''} after"
        return f"{after} you finish session {session.index - 1}"
    return f"on {timezone.localtime(opens).strftime('%-d %b %Y, %H:%M')}"
