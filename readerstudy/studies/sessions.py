"""When a reader's session opens: with the study for the first, the washout after the previous otherwise,
or earlier when a coordinator opened it early."""

from datetime import timedelta

from django.db.models import Count, Max, Q
from django.utils import timezone

from readerstudy.models import Assignment, Study


def session_opens_at(session):
    """When the session opens, or None while the reader has not finished the previous one.

    A date set on the session wins (a coordinator opening it early). Otherwise session 1 opens with the
    study, and session n + 1 the study's washout days after the reader's last submission in session n.
    A date, once derived, is kept on the session object (every check of a request asks again): it rests on
    final reads, so only a coordinator's date (`opens_at`, part of the key) can change it. None is not kept,
    since the previous session may be finished at any moment.
    """
    kept = getattr(session, "_opens_at", None)
    if kept is None or kept[0] != session.opens_at:
        opens = _opens_at(session)
        if opens is None:
            return None
        session._opens_at = kept = (session.opens_at, opens)
    return kept[1]


def _opens_at(session):
    if session.opens_at or session.index == 1:
        return session.opens_at or session.study.opened_at
    # The previous session in one query: how many of its cases are unread, and its last submission.
    previous = Assignment.objects.filter(
        session__study=session.study_id, session__reader=session.reader_id, session__index=session.index - 1
    ).aggregate(
        cases=Count("id"),
        unread=Count("id", filter=~Q(status=Assignment.Status.SUBMITTED)),
        last=Max("read__submitted_at"),
    )
    if previous["cases"] == 0:
        return session.study.opened_at
    if previous["unread"]:
        return None
    return previous["last"] + timedelta(days=session.study.washout_days)


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
