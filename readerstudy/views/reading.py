"""The reader's pages: the worklist, the workstation shell (its content comes from the reading API) and the
page that ends a session."""

from dataclasses import dataclass

from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from readerstudy.core.roles import READER, role_required
from readerstudy.models import Assignment, ReadingSession, Study
from readerstudy.reading.access import (
    OutOfOrder,
    ReadingRefused,
    next_assignment,
    reading_assignment,
    refuse_unless_readable,
)
from readerstudy.reading.progress import session_end
from readerstudy.studies.sessions import session_is_open, when_session_opens


@dataclass
class SessionRow:
    session: ReadingSession
    done: int
    total: int
    is_open: bool
    next_assignment: Assignment | None
    opens: str


@role_required(READER)
def worklist(request):
    """The reader's open studies, each session with its progress, its opening date and a Continue link."""
    now = timezone.now()
    sessions = (
        ReadingSession.objects.filter(reader=request.user, study__status=Study.Status.OPEN)
        .select_related("study")
        .order_by("study__title", "study_id", "index")
    )
    studies = {}
    for session in sessions:
        assignments = list(session.assignments.order_by("position"))
        if not assignments:
            continue
        unread = [a for a in assignments if a.status != Assignment.Status.SUBMITTED]
        is_open = session_is_open(session, now)
        row = SessionRow(
            session,
            len(assignments) - len(unread),
            len(assignments),
            is_open,
            unread[0] if unread else None,
            "" if is_open else when_session_opens(session),
        )
        studies.setdefault(session.study, []).append(row)
    # Instructions come first until the reader has opened their first case of the study.
    started = set(
        Assignment.objects.filter(reader=request.user)
        .exclude(status=Assignment.Status.ASSIGNED)
        .values_list("study_id", flat=True)
    )
    return render(
        request,
        "reading/worklist.html",
        {
            "studies": [(study, rows, study.pk not in started) for study, rows in studies.items()],
        },
    )


@role_required(READER)
def workstation(request, public_id):
    assignment = reading_assignment(Assignment.objects.filter(reader=request.user), public_id=public_id)
    if assignment is None:
        raise Http404("No such assignment.")
    try:
        refuse_unless_readable(assignment)
    except OutOfOrder as refused:
        return render(
            request,
            "reading/unavailable.html",
            {"message": refused.message, "next": refused.expected},
            status=refused.status,
        )
    except ReadingRefused as refused:
        following = next_assignment(assignment) if assignment.status == Assignment.Status.SUBMITTED else None
        return render(
            request, "reading/unavailable.html", {"message": refused.message, "next": following}, status=refused.status
        )
    return render(request, "reading/workstation.html", {"assignment": assignment})


@role_required(READER)
def session_complete(request, session_id):
    """Where the last submit of a session lands: how many cases were read, and when the next session opens."""
    session = ReadingSession.objects.select_related("study").filter(pk=session_id, reader=request.user).first()
    if session is None:
        raise Http404("No such session.")
    return render(request, "reading/session_complete.html", {"end": session_end(session)})
