"""A reader's work on one assignment: opening it, the event log, the autosaved draft and the final submit.

Every write is idempotent (events by client UUID, drafts by replacement, submit by submission UUID), so the
browser can retry anything it is not sure arrived (ARCHITECTURE.md: nothing lost or doubled).
"""

import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from readerstudy.core.errors import Refused
from readerstudy.core.labels import exclusive_labels
from readerstudy.core.signals import study_data_changed
from readerstudy.models import Assignment, Label, Rating, Read, ReadFinding, Study, TimingEvent, UnaidedRead
from readerstudy.reading.timing import Event, derive_times
from readerstudy.studies import served_images
from readerstudy.studies.sessions import session_is_open, when_session_opens

MAX_TEXT = 20_000


class ReadingRefused(Refused):
    """The request cannot be done in the assignment's state; `status` is the HTTP status the API answers."""

    status = 409


class ReportInvalid(Refused):
    """The report's fields, each with its problem: `errors` maps a field to its message."""

    def __init__(self, errors):
        super().__init__([f"{k}: {v}" for k, v in errors.items()])
        self.errors = errors


@dataclass
class Report:
    """What the reader writes, as the browser sends it (draft or final)."""

    findings: list = field(default_factory=list)
    report_findings: str = ""
    report_impression: str = ""
    ratings: dict = field(default_factory=dict)
    problem_flagged: bool = False
    problem_reason: str = ""
    not_applicable: list = field(default_factory=list)  # keys of the questions answered N/A


# --- access -------------------------------------------------------------------------------------------------


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
    earlier = [case for case in session_cases(assignment) if case.position < assignment.position and not case.done]
    if len(earlier) > ahead:
        raise OutOfOrder(earlier[0])


def session_cases(assignment):
    """The assignment's session case by case in its order (id, position, public_id, case_id, done), loaded once
    per assignment object: the order check, the progress and the next case all read it."""
    if not hasattr(assignment, "_session_cases"):
        assignment._session_cases = list(
            Assignment.objects.filter(session=assignment.session_id)
            .order_by("position")
            .annotate(done=Q(status=Assignment.Status.SUBMITTED))
            .values_list("pk", "position", "public_id", "case_id", "done", named=True)
        )
    return assignment._session_cases


def next_assignment(assignment):
    """The next unsubmitted case of the same session after this one in the session's order, else the first
    unsubmitted before it (a free-order session), as a session_cases row; None when the session is done."""
    unread = [case for case in session_cases(assignment) if not case.done and case.pk != assignment.pk]
    after = [case for case in unread if case.position > assignment.position]
    return (after or unread or [None])[0]


def lock_and_refresh(assignment):
    """Lock the assignment's row until the transaction ends and refresh its status (another request may have
    changed it). The instance keeps its loaded study, session and case, so the checks after the lock need no
    query of their own for them."""
    assignment.status = Assignment.objects.select_for_update().values_list("status", flat=True).get(pk=assignment.pk)
    return assignment


def start_reading(assignment):
    """The assignment's read, created (and the assignment marked started) the first time it is opened."""
    read = Read.objects.filter(assignment=assignment).first()
    if read is not None:  # every request but the first: one query
        return read
    with transaction.atomic():
        read, created = Read.objects.get_or_create(assignment=assignment)
        if created:
            Assignment.objects.filter(pk=assignment.pk, status=Assignment.Status.ASSIGNED).update(
                status=Assignment.Status.STARTED
            )
    return read


# --- events -------------------------------------------------------------------------------------------------


def record_events(assignment, events):
    """Store new events append-only with the server's time; duplicates (same client UUID) are ignored."""
    with transaction.atomic():
        lock_and_refresh(assignment)
        refuse_unless_readable(assignment)
        read = start_reading(assignment)
        return insert_events(assignment, read, events)


def insert_events(assignment, read, events):
    rows = [
        TimingEvent(
            assignment=assignment,
            page_load_id=e["page_load_id"],
            type=e["type"],
            client_ms=e["client_ms"],
            client_uuid=uuid.UUID(str(e["uuid"])),  # the API gives UUIDs, the simulation strings
            payload=e.get("payload") or {},
        )
        for e in events
    ]
    # Replays (an outbox resending after a lost answer) are known by their UUIDs; the assignment's row lock
    # keeps another request from storing the same events meanwhile.
    known = set(
        TimingEvent.objects.filter(client_uuid__in=[row.client_uuid for row in rows])
        .order_by()  # the model's ordering would join the assignment for nothing
        .values_list("client_uuid", flat=True)
    )
    new = []
    for row in rows:  # each UUID once, the first time it comes (a batch may repeat an event too)
        if row.client_uuid not in known:
            known.add(row.client_uuid)
            new.append(row)
    if not new:
        return 0
    TimingEvent.objects.bulk_create(new, ignore_conflicts=True)
    # The first image_rendered sets the read's first image time; none was stored before while it is unset.
    rendered = [row.server_at for row in new if row.type == TimingEvent.Type.IMAGE_RENDERED]
    if read.first_image_at is None and rendered:
        read.first_image_at = min(rendered)
        Read.objects.filter(pk=read.pk).update(first_image_at=read.first_image_at)
    return len(new)


def image_has_rendered(assignment):
    return TimingEvent.objects.filter(assignment=assignment, type=TimingEvent.Type.IMAGE_RENDERED).exists()


def first_read_committed(assignment):
    return UnaidedRead.objects.filter(assignment=assignment).exists()


def refuse_until_ai_may_show(assignment):
    """When the AI's output (its text, its length, its labels) may reach the reader, through any response: the
    clock starts at the first rendered image, so not before it; and a sequential read's first report is the
    reader's own, so not before it is committed."""
    if not image_has_rendered(assignment):
        raise ReadingRefused("The AI output is shown once the image has appeared.")
    if assignment.is_sequential and not first_read_committed(assignment):
        raise ReadingRefused("Commit your first read before the AI output is shown.")


# --- report -------------------------------------------------------------------------------------------------


def questions_for(assignment):
    return [q for q in study_questions(assignment.study) if q.is_asked_in(assignment.arm)]


def study_questions(study):
    """The study's questions, loaded once per study object (a request asks for them several times)."""
    if not hasattr(study, "_questions"):
        study._questions = list(study.questions.all())
    return study._questions


def asked_before_ai(assignment, question):
    """In a sequential read every question not about the AI is asked in the first report, before the AI."""
    return assignment.is_sequential and not question.is_about_ai


def vocabulary_for(study):
    """The study's labels, loaded once per study object."""
    if not hasattr(study, "_labels"):
        study._labels = list(Label.objects.filter(vocabulary=study.label_vocabulary))
    return study._labels


def validate_report(assignment, report, final):
    """Labels and ratings as model objects ({question: value}, None for N/A), or ReportInvalid naming each
    problem. Drafts may be incomplete."""
    labels = {label.slug: label for label in vocabulary_for(assignment.study)}
    errors = findings_problems(report.findings, labels)
    questions = {q.key: q for q in questions_for(assignment)}
    ratings = checked_ratings(report.ratings, questions, errors)
    ratings |= checked_not_applicable(report.not_applicable, report.ratings, questions, errors)
    for name in ("report_findings", "report_impression", "problem_reason"):
        if len(getattr(report, name)) > MAX_TEXT:
            errors[name] = f"At most {MAX_TEXT} characters."
    if final:
        for name, message in _missing_for_submit(report, questions, ratings, labels).items():
            errors.setdefault(name, message)
    if errors:
        raise ReportInvalid(errors)
    return [labels[slug] for slug in dict.fromkeys(report.findings)], ratings


def checked_not_applicable(keys, answers, questions, errors):
    """{question: None} for the questions answered N/A (`keys`), which must allow it and have no value in
    `answers` as well; each problem goes into `errors` as `ratings.<key>`. N/A answers a required question."""
    chosen = {}
    for key in dict.fromkeys(keys):
        question = questions.get(key)
        if question is None:
            errors[f"ratings.{key}"] = "This question is not asked in this reading."
        elif answers.get(key) is not None:
            errors[f"ratings.{key}"] = "Choose a value or N/A, not both."
        elif not question.allows_not_applicable:
            errors[f"ratings.{key}"] = "This question has no N/A."
        else:
            chosen[question] = None
    return chosen


def findings_problems(findings, labels):
    """{"findings": why} for labels outside the vocabulary (`labels`: slug -> Label) or an exclusive label's
    rule broken; {} when the findings are fine."""
    unknown = [slug for slug in findings if slug not in labels]
    if unknown:
        return {"findings": f"Unknown finding(s): {', '.join(map(str, unknown))}."}
    if conflict := _exclusive_conflict(findings, labels):
        return {"findings": conflict}
    return {}


def checked_ratings(answers, questions, errors):
    """{question: value} of the answers (key -> value, None: unanswered) to `questions` (key -> question); each
    problem goes into `errors` as `ratings.<key>`."""
    ratings = {}
    for key, value in answers.items():
        question = questions.get(key)
        if question is None:
            errors[f"ratings.{key}"] = "This question is not asked in this reading."
        elif value is None:
            continue
        elif (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not question.scale_min <= value <= question.scale_max
        ):
            errors[f"ratings.{key}"] = f"Choose a whole number from {question.scale_min} to {question.scale_max}."
        else:
            ratings[question] = value
    return ratings


def no_findings_message(labels):
    normal = "".join(f", or “{labels[slug].name}”" for slug in exclusive_labels(labels))
    return f"Choose at least one finding{normal}."


def _exclusive_conflict(findings, labels):
    """Why the chosen findings break an exclusive label's rule (core.labels.exclusive_labels), or None."""
    for exclusive, allowed in exclusive_labels(labels).items():
        if exclusive in findings and set(findings) - {exclusive, *allowed}:
            beside = f" except {', '.join(labels[slug].name for slug in allowed)}" if allowed else ""
            return f"“{labels[exclusive].name}” cannot be combined with other findings{beside}."
    return None


def _missing_for_submit(report, questions, ratings, labels):
    """A flagged case needs only its reason; a read needs findings, report text and the required ratings."""
    if report.problem_flagged:
        return {} if report.problem_reason.strip() else {"problem_reason": "Say what is wrong with this case."}
    missing = {}
    if not report.findings:
        missing["findings"] = no_findings_message(labels)
    if not report.report_findings.strip() and not report.report_impression.strip():
        missing["report_findings"] = "Write the report: findings, impression or both."
    answered = {q.key for q in ratings}
    for key, question in questions.items():
        if question.required and key not in answered:
            missing[f"ratings.{key}"] = "Answer this question."
    return missing


def _write_report(read, report, labels, ratings):
    read.report_findings = report.report_findings
    read.report_impression = report.report_impression
    read.problem_flagged = report.problem_flagged
    read.problem_reason = report.problem_reason if report.problem_flagged else ""
    ReadFinding.objects.filter(read=read).exclude(label__in=labels).delete()
    ReadFinding.objects.bulk_create([ReadFinding(read=read, label=label) for label in labels], ignore_conflicts=True)
    Rating.objects.filter(read=read).exclude(question__in=list(ratings)).delete()
    # One upsert for every answer (None: answered N/A), on the one-rating-per-question constraint.
    Rating.objects.bulk_create(
        [Rating(read=read, question=q, value=value, not_applicable=value is None) for q, value in ratings.items()],
        update_conflicts=True,
        unique_fields=["read", "question"],
        update_fields=["value", "not_applicable"],
    )


def report_of(read):
    """The read's current content in the shape the browser sends (restores a draft)."""
    answers = read.ratings.order_by("question__order", "question__key").values_list(
        "question__key", "value", "not_applicable"
    )
    return Report(
        findings=list(read.finding_links.values_list("label__slug", flat=True)),
        report_findings=read.report_findings,
        report_impression=read.report_impression,
        ratings={key: value for key, value, na in answers if not na},
        problem_flagged=read.problem_flagged,
        problem_reason=read.problem_reason,
        not_applicable=[key for key, _, na in answers if na],
    )


def save_draft(assignment, report):
    """Replace the draft; returns it as stored."""
    with transaction.atomic():
        locked = lock_and_refresh(assignment)
        refuse_unless_readable(locked)
        labels, ratings = validate_report(locked, report, final=False)
        read = start_reading(locked)
        _write_report(read, report, labels, ratings)
        read.save()
        return saved_report(read, labels, ratings)


def saved_report(read, labels, ratings):
    """What report_of(read) reads back after _write_report(read, …, labels, ratings), without reading it."""
    answers = sorted(ratings.items(), key=lambda item: (item[0].order, item[0].key))
    return Report(
        findings=[label.slug for label in labels],
        report_findings=read.report_findings,
        report_impression=read.report_impression,
        ratings={q.key: value for q, value in answers if value is not None},
        problem_flagged=read.problem_flagged,
        problem_reason=read.problem_reason,
        not_applicable=[q.key for q, value in answers if value is None],
    )


# --- submit -------------------------------------------------------------------------------------------------


def submit_read(assignment, submission_uuid, report, events=(), client_times=None):
    """Finalise the read once. Returns (read, created); a replay with the same UUID returns the same read."""
    with transaction.atomic():
        locked = lock_and_refresh(assignment)
        read = Read.objects.filter(assignment=locked).first()
        if read and read.is_submitted:
            if str(read.client_submission_uuid) == str(submission_uuid):
                return read, False
            raise ReadingRefused("This read was already submitted; a submitted read is final.")
        refuse_unless_readable(locked)
        if locked.is_sequential and not first_read_committed(locked):
            raise ReadingRefused("Commit your first read, without the AI, before submitting the final read.")
        labels, ratings = validate_report(locked, report, final=True)
        read = read or start_reading(locked)
        insert_events(locked, read, events)
        times = derive_times(stored_events(locked), locked.study.idle_threshold_s * 1000)
        _write_report(read, report, labels, ratings)
        read.total_ms, read.hidden_ms, read.idle_ms = times.total_ms, times.hidden_ms, times.idle_ms
        read.active_ms = times.active_ms
        read.client_times = client_times or {}
        read.client_submission_uuid = submission_uuid
        read.submitted_at = timezone.now()
        try:
            with transaction.atomic():
                read.save()
        except IntegrityError:
            raise ReadingRefused("This submission id belongs to another read.") from None
        Assignment.objects.filter(pk=locked.pk).update(status=Assignment.Status.SUBMITTED)
        study_data_changed.send(sender=Read, study_id=locked.study_id)
        # The reader's copy of the images is no longer needed (robust: a file left behind is not an error).
        transaction.on_commit(lambda: served_images.discard(locked), robust=True)
        return read, True


def stored_events(assignment):
    return [
        Event(str(page_load_id), type_, client_ms, payload)
        for page_load_id, type_, client_ms, payload in TimingEvent.objects.filter(assignment=assignment)
        # The model's order within one assignment, without the join its "assignment" term would make.
        .order_by("server_at", "client_ms")
        .values_list("page_load_id", "type", "client_ms", "payload")
    ]
