"""When a reader's session opens: with the study for the first, the washout after the previous otherwise,
or earlier when a coordinator opened it early."""

from datetime import UTC, timedelta

from django.db.models import Count, JSONField, Max, OuterRef, Q, Subquery
from django.db.models.functions import JSONObject
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from readerstudy.models import Assignment, ReadingSession, Study


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


def previous_session_state(session="pk"):
    """An annotation, `previous_session`, giving for each row the previous session of the reader's (the
    session's pk is at `session`) as {"cases", "unread", "last"}: its number of cases, how many are unread and
    its last submission (None when there is no previous session). One subquery of the row's own query: a
    request that looks up its assignment with it knows the opening without another query."""
    prefix = "" if session == "pk" else f"{session}__"
    previous = (
        Assignment.objects.filter(
            session__study=OuterRef(f"{prefix}study"),
            session__reader=OuterRef(f"{prefix}reader"),
            session__index=OuterRef(f"{prefix}index") - 1,
        )
        .order_by()
        .values("session")  # one group: the previous session
        .annotate(
            state=JSONObject(
                cases=Count("id"),
                unread=Count("id", filter=~Q(status=Assignment.Status.SUBMITTED)),
                last=Max("read__submitted_at"),
            )
        )
    )
    return {"previous_session": Subquery(previous.values("state"), output_field=JSONField())}


def keep_previous_state(session, row):
    """Hand the previous session's state, annotated on `row` by previous_session_state, to `session`."""
    session._previous = row.previous_session or {}


def _opens_at(session):
    if session.opens_at or session.index == 1:
        return session.opens_at or session.study.opened_at
    previous = getattr(session, "_previous", None)
    if previous is None:
        rows = ReadingSession.objects.filter(pk=session.pk).annotate(**previous_session_state())
        previous = rows.values_list("previous_session", flat=True).get() or {}
    if not previous.get("cases"):
        return session.study.opened_at
    if previous["unread"]:
        return None
    last = parse_datetime(previous["last"])
    if timezone.is_naive(last):  # SQLite's JSON holds the stored UTC time without its offset
        last = timezone.make_aware(last, UTC)
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
