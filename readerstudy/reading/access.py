"""Whether a reader may work on an assignment now: the study and the session open, the read not final, the
session's order kept. The lookup of an assignment brings what these checks need in its own query
(with_reading_state), so a request checks it without another.
"""

from typing import NamedTuple

from django.db.models import Aggregate, JSONField, OuterRef, Subquery
from django.db.models.functions import JSONObject

from readerstudy.core.errors import Refused
from readerstudy.models import Assignment, Study
from readerstudy.studies.sessions import (
    keep_previous_state,
    previous_session_state,
    session_is_open,
    when_session_opens,
)


class ReadingRefused(Refused):
    """The request cannot be done in the assignment's state; `status` is the HTTP status the API answers."""

    status = 409


class OutOfOrder(ReadingRefused):
    """A case asked for before the cases that precede it in the session's randomised order."""

    def __init__(self, expected):
        super().__init__(f"Cases are read in the order of your session: read case {expected.position} first.")
        self.expected = expected


def refuse_unless_readable(assignment, ahead=0):
    """Reading needs an open study and an open session; a submitted read is final; cases come in order.

    `ahead` unread cases may precede this one: 1 lets the page prefetch the next case's images.
    """
    if assignment.study.status != Study.Status.OPEN:
        raise ReadingRefused("This study is not open for reading.", status=403)
    if not session_is_open(assignment.session):
        raise ReadingRefused(f"This session opens {when_session_opens(assignment.session)}.", status=403)
    if assignment.status == Assignment.Status.SUBMITTED:
        raise ReadingRefused("This read is submitted and final.", status=409)
    refuse_out_of_order(assignment, ahead)


def refuse_out_of_order(assignment, ahead=0):
    """The session's order is randomised to balance learning and fatigue across arms (ARCHITECTURE.md); a reader
    who picks cases breaks it. So a case opens only after every case before it is submitted, unless the study
    was created with free order. The case being read, the first unread one, may be reopened at will."""
    if assignment.study.free_order:
        return
    earlier = [case for case in session_unread(assignment) if case.position < assignment.position]
    if len(earlier) > ahead:
        raise OutOfOrder(earlier[0])


def next_assignment(assignment):
    """The next unsubmitted case of the same session after this one in the session's order, else the first
    unsubmitted before it (a free-order session), as an UnreadCase; None when the session is done."""
    unread = [case for case in session_unread(assignment) if case.public_id != assignment.public_id]
    after = [case for case in unread if case.position > assignment.position]
    return (after or unread or [None])[0]


class UnreadCase(NamedTuple):
    """An unsubmitted case of a session: where it stands in the order, its assignment and its case."""

    position: int
    public_id: str
    case_id: int


def session_unread(assignment):
    """The unsubmitted cases of the assignment's session in its order (this one too while unsubmitted), as the
    assignment's lookup found them (with_reading_state), or queried once for an assignment loaded otherwise
    (the simulation, the shell)."""
    if not hasattr(assignment, "session_unread"):
        assignment.session_unread = (
            Assignment.objects.filter(pk=assignment.pk)
            .annotate(session_unread=_session_unread())
            .values_list("session_unread", flat=True)
            .get()
        )
    return sorted(UnreadCase(**case) for case in assignment.session_unread or ())  # by position


def _session_unread():
    """The session's unsubmitted cases as one JSON list, a subquery of the assignment's own row."""
    unread = (
        Assignment.objects.filter(session=OuterRef("session"))
        .exclude(status=Assignment.Status.SUBMITTED)
        .order_by()
        .values("session")  # one group: the session
    )
    case = JSONObject(position="position", public_id="public_id", case_id="case_id")
    rows = unread.annotate(cases=JSONList(case)).values("cases")
    return Subquery(rows, output_field=JSONField())


class JSONList(Aggregate):
    """The rows' values as one JSON array, in no set order: jsonb_agg on PostgreSQL, json_group_array on SQLite
    (the demo's database), where an ordered aggregate has no syntax."""

    function = "JSONB_AGG"
    output_field = JSONField()

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="JSON_GROUP_ARRAY", **extra)


def with_reading_state(assignments):
    """The assignments with what the reading checks need, in their own query: the session's unsubmitted cases
    (the order, the next case) and the previous session's state (studies.sessions). A request that looks its
    assignment up this way checks it without another query (reading_assignment)."""
    return assignments.select_related("study", "session").annotate(
        session_unread=_session_unread(), **previous_session_state("session")
    )


def reading_assignment(assignments, **lookup):
    """The assignment of `assignments` matching `lookup`, with its reading state (with_reading_state), or
    None."""
    assignment = with_reading_state(assignments).filter(**lookup).first()
    return assignment and kept_state(assignment)


def kept_state(assignment):
    """An assignment looked up with_reading_state, its session made to share its study object and to know the
    previous session's state."""
    assignment.session.study = assignment.study
    keep_previous_state(assignment.session, assignment)
    return assignment
