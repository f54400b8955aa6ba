"""A reader's work on one assignment: opening it, the event log, the autosaved draft and the final submit.

Every write is idempotent (events by client UUID, drafts by replacement, submit by submission UUID), so the
browser can retry anything it is not sure arrived (ARCHITECTURE.md: nothing lost or doubled).
"""

import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from readerstudy.core.errors import Refused
from readerstudy.core.labels import exclusive_labels
from readerstudy.core.signals import study_data_changed
from readerstudy.models import Assignment, Label, Rating, Read, ReadFinding, TimingEvent, UnaidedRead
from readerstudy.reading.access import ReadingRefused, refuse_unless_readable
from readerstudy.reading.timing import Event, derive_times
from readerstudy.studies import served_images

MAX_TEXT = 20_000


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


def lock_and_refresh(assignment):
    """Lock the assignment's row until the transaction ends and refresh its status and its read (another request
    may have changed them), in one query. The instance keeps its loaded study, session and case, so the checks
    after the lock need no query of their own for them."""
    locked = Assignment.objects.select_for_update(of=("self",)).select_related("read").only("status", "read")
    locked = locked.get(pk=assignment.pk)
    assignment.status = locked.status
    assignment._read = getattr(locked, "read", None)  # None: not opened yet
    return assignment


def start_reading(assignment):
    """The assignment's read, created (and the assignment marked started) the first time it is opened; kept on
    the assignment object (and refreshed by lock_and_refresh)."""
    read = getattr(assignment, "_read", None) or Read.objects.filter(assignment=assignment).first()
    if read is None:
        with transaction.atomic():
            read, created = Read.objects.get_or_create(assignment=assignment)
            if created:
                Assignment.objects.filter(pk=assignment.pk, status=Assignment.Status.ASSIGNED).update(
                    status=Assignment.Status.STARTED
                )
    assignment._read = read
    return read


# --- events -------------------------------------------------------------------------------------------------


def record_events(assignment, events):
    """Store new events append-only with the server's time; duplicates (same client UUID) are ignored."""
    with transaction.atomic():
        lock_and_refresh(assignment)
        refuse_unless_readable(assignment)
        return store_events(assignment, start_reading(assignment), events)


def store_events(assignment, read, events):
    """insert_events, and the read's first image time if these events bring it; returns how many were new."""
    new = insert_events(assignment, events)
    if note_first_image(read, new):
        Read.objects.filter(pk=read.pk).update(first_image_at=read.first_image_at)
    return len(new)


def insert_events(assignment, events):
    """Insert the events not stored yet, each UUID once (a batch may repeat an event, an outbox resend a batch);
    returns the new ones as (type, server_at)."""
    rows = {}
    for e in events:
        client_uuid = uuid.UUID(str(e["uuid"]))  # the API gives UUIDs, the simulation strings
        rows.setdefault(
            client_uuid,
            TimingEvent(
                assignment=assignment,
                page_load_id=e["page_load_id"],
                type=e["type"],
                client_ms=e["client_ms"],
                client_uuid=client_uuid,
                payload=e.get("payload") or {},
            ),
        )
    return insert_new(list(rows.values())) if rows else []


def insert_new(rows):
    """INSERT … ON CONFLICT DO NOTHING RETURNING, in one statement: replays are known by the unique client UUID
    and skipped, and only the rows stored are returned (bulk_create(ignore_conflicts=True) cannot say which)."""
    meta = TimingEvent._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    values = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(rows))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) VALUES {values} "
        f"ON CONFLICT ({quote(meta.get_field('client_uuid').column)}) DO NOTHING "
        f"RETURNING {quote(meta.get_field('type').column)}, {quote(meta.get_field('server_at').column)}"
    )
    # pre_save gives each field's value as Django's own insert would (server_at: now, auto_now_add).
    params = [f.get_db_prep_save(f.pre_save(row, True), connection) for row in rows for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def note_first_image(read, new):
    """Set the read's first image time from the first image_rendered among `new` events (as insert_events
    returns them) if it has none yet; True when it changed."""
    rendered = [server_at for type_, server_at in new if type_ == TimingEvent.Type.IMAGE_RENDERED]
    if read.first_image_at is not None or not rendered:
        return False
    read.first_image_at = min(rendered)
    return True


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


def _write_text(read, report):
    read.report_findings = report.report_findings
    read.report_impression = report.report_impression
    read.problem_flagged = report.problem_flagged
    read.problem_reason = report.problem_reason if report.problem_flagged else ""


def _draft(labels, ratings):
    """The draft document of validated findings and answers (validate_report's), answers in the questions'
    order."""
    answers = sorted(ratings.items(), key=lambda item: (item[0].order, item[0].key))
    return {
        "findings": [label.slug for label in labels],
        "ratings": {q.key: value for q, value in answers if value is not None},
        "not_applicable": [q.key for q, value in answers if value is None],
    }


def report_of(read):
    """The draft's current content in the shape the browser sends (restores it)."""
    draft = read.draft
    return Report(
        findings=list(draft.get("findings", [])),
        report_findings=read.report_findings,
        report_impression=read.report_impression,
        ratings=dict(draft.get("ratings", {})),
        problem_flagged=read.problem_flagged,
        problem_reason=read.problem_reason,
        not_applicable=list(draft.get("not_applicable", [])),
    )


def save_draft(assignment, report):
    """Replace the draft, in one UPDATE of the read; returns it as stored."""
    with transaction.atomic():
        locked = lock_and_refresh(assignment)
        refuse_unless_readable(locked)
        labels, ratings = validate_report(locked, report, final=False)
        read = start_reading(locked)
        _write_text(read, report)
        read.draft = _draft(labels, ratings)
        read.save()
        return report_of(read)


# --- submit -------------------------------------------------------------------------------------------------


def submit_read(assignment, submission_uuid, report, events=(), client_times=None):
    """Finalise the read once. Returns (read, created); a replay with the same UUID returns the same read."""
    with transaction.atomic():
        locked = lock_and_refresh(assignment)
        read = locked._read  # as the lock found it: None if never opened
        if read is not None and read.is_submitted:
            if str(read.client_submission_uuid) == str(submission_uuid):
                return read, False
            raise ReadingRefused("This read was already submitted; a submitted read is final.")
        refuse_unless_readable(locked)
        if locked.is_sequential and not first_read_committed(locked):
            raise ReadingRefused("Commit your first read, without the AI, before submitting the final read.")
        labels, ratings = validate_report(locked, report, final=True)
        read = start_reading(locked)
        note_first_image(read, insert_events(locked, events))  # saved with the read below
        times = derive_times(stored_events(locked), locked.study.idle_threshold_s * 1000)
        _write_text(read, report)
        read.draft = {}  # the rows below are the read's findings and answers from now on
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
        ReadFinding.objects.bulk_create([ReadFinding(read=read, label=label) for label in labels])
        Rating.objects.bulk_create(
            [Rating(read=read, question=q, value=value, not_applicable=value is None) for q, value in ratings.items()]
        )
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
