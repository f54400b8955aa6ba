"""Where a study's readers stand: per reader and session, and per arm (for coordinators)."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from statistics import median

from django.db.models import Count, Max
from django.utils import timezone

from readerstudy.models import Assignment, ReadingSession, StudyReader, TimingEvent
from readerstudy.reading.records import StudyReads
from readerstudy.studies.sessions import session_is_open, when_session_opens


@dataclass
class SessionProgress:
    session: ReadingSession
    done: int
    total: int
    median_active_s: float | None
    last_activity: object
    is_open: bool
    opens: str
    # Submitted reads the analysis will leave out, by reason (practice cases, which are never analysed, aside).
    left_out: dict = field(default_factory=dict)


def reader_progress(study):
    """[(enrolment, [SessionProgress…])] in reader-code order."""
    submitted, left_out = {}, {}
    for record in StudyReads(study).records(content=False):
        session_id = record.assignment.session_id
        submitted.setdefault(session_id, []).append(record.read.active_ms)
        if record.excluded_because not in (None, "practice"):
            left_out.setdefault(session_id, Counter())[record.excluded_because] += 1
    totals = dict(Assignment.objects.filter(study=study).values_list("session_id").annotate(n=Count("id")))
    last = dict(
        TimingEvent.objects.filter(assignment__study=study)
        .values_list("assignment__session_id")
        .annotate(at=Max("server_at"))
    )
    sessions = {}
    for session in ReadingSession.objects.filter(study=study).select_related("study", "reader").order_by("index"):
        times = submitted.get(session.pk, [])
        is_open = session_is_open(session)
        sessions.setdefault(session.reader_id, []).append(
            SessionProgress(
                session,
                len(times),
                totals.get(session.pk, 0),
                median(times) / 1000 if times else None,
                last.get(session.pk),
                is_open,
                "" if is_open else when_session_opens(session),
                dict(left_out.get(session.pk, {})),
            )
        )
    return [
        (enrolment, sessions.get(enrolment.user_id, []))
        for enrolment in StudyReader.objects.filter(study=study).select_related("user")
    ]


def arm_progress(study):
    """{arm label: (submitted, total)} in the study's arm order."""
    result = {}
    for arm in study.ordered_arms:
        assignments = Assignment.objects.filter(study=study, arm=arm)
        result[arm.label] = (assignments.filter(status=Assignment.Status.SUBMITTED).count(), assignments.count())
    return result


def silent_assignments(study, now=None, silence=timedelta(days=1)):
    """Started, unsubmitted assignments whose last sign of life is older than `silence`."""
    cutoff = (now or timezone.now()) - silence
    started = (
        Assignment.objects.filter(study=study, status=Assignment.Status.STARTED)
        .select_related("reader", "session", "read")
        .annotate(last_event=Max("timing_events__server_at"))
    )
    return [a for a in started if (a.last_event or a.read.opened_at) < cutoff]


def waiting_sessions(study):
    """Later sessions that are open for their reader but not begun: the reader may need a reminder."""
    untouched = (
        ReadingSession.objects.filter(study=study, index__gt=1)
        .select_related("study", "reader")
        .exclude(assignments__status__in=[Assignment.Status.STARTED, Assignment.Status.SUBMITTED])
    )
    return [session for session in untouched if session_is_open(session)]


@dataclass
class SessionEnd:
    """What the reader sees when a session ends: how far they got and what comes next."""

    session: ReadingSession
    sessions: int
    done: int
    total: int
    # The reader's next session, whether it is open now, when it opens otherwise, and where it starts.
    following: ReadingSession | None
    following_is_open: bool
    following_opens: str
    following_start: Assignment | None

    @property
    def is_complete(self):
        return self.done == self.total


def session_end(session):
    statuses = list(session.assignments.values_list("status", flat=True))
    following = (
        ReadingSession.objects.filter(study=session.study_id, reader=session.reader_id, index=session.index + 1)
        .select_related("study")
        .first()
    )
    is_open = following is not None and session_is_open(following)
    return SessionEnd(
        session,
        ReadingSession.objects.filter(study=session.study_id, reader=session.reader_id).count(),
        statuses.count(Assignment.Status.SUBMITTED),
        len(statuses),
        following,
        is_open,
        "" if following is None or is_open else when_session_opens(following),
        following.assignments.exclude(status=Assignment.Status.SUBMITTED).order_by("position").first()
        if is_open
        else None,
    )
