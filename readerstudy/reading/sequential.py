"""Sequential reading (the "second-read" design of CAD studies, Study.sequential_reading): in the AI arms the
reader first commits findings and the answers to the questions not about the AI without seeing the AI, then
sees its output and may revise before submitting the final read.

The first report is committed once (idempotent by its submission UUID) and is final; the AI output is held
back until it is (reads.refuse_until_ai_may_show, which every path to the AI output meets), and the final
submit waits for it. Its reading time is derived from the events stored when it is committed, up to the
`unaided_commit` event (reading/timing.py).
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from readerstudy.models import UnaidedRead
from readerstudy.reading.access import ReadingRefused, refuse_unless_readable
from readerstudy.reading.reads import (
    ReportInvalid,
    asked_before_ai,
    checked_ratings,
    findings_problems,
    image_has_rendered,
    lock_and_refresh,
    no_findings_message,
    questions_for,
    start_reading,
    store_events,
    stored_events,
    vocabulary_for,
)
from readerstudy.reading.timing import UNAIDED_END, derive_times


@dataclass
class FirstReport:
    """What the browser sends when the reader commits the first report of a sequential read."""

    findings: list
    ratings: dict


def questions_before_ai(assignment):
    return [q for q in questions_for(assignment) if asked_before_ai(assignment, q)]


def first_read_of(assignment):
    return UnaidedRead.objects.filter(assignment=assignment).first()


def validate_first_report(assignment, report):
    """The findings (at least one, the exclusive labels' rule) and the required questions asked before the AI;
    ReportInvalid naming each problem. Returns (label slugs in the vocabulary's order, {key: value})."""
    labels = {label.slug: label for label in vocabulary_for(assignment.study)}
    errors = findings_problems(report.findings, labels)
    if not report.findings:
        errors["findings"] = no_findings_message(labels)
    before = {q.key: q for q in questions_before_ai(assignment)}
    for key in report.ratings:
        if key not in before and any(q.key == key for q in questions_for(assignment)):
            errors[f"ratings.{key}"] = "This question is asked after the AI output is shown."
    ratings = checked_ratings(
        {key: value for key, value in report.ratings.items() if f"ratings.{key}" not in errors}, before, errors
    )
    answered = {q.key for q in ratings}
    for key, question in before.items():
        if question.required and key not in answered:
            errors.setdefault(f"ratings.{key}", "Answer this question.")
    if errors:
        raise ReportInvalid(errors)
    chosen = set(report.findings)
    return [slug for slug in labels if slug in chosen], {q.key: value for q, value in ratings.items()}


def commit_first_read(assignment, submission_uuid, report, events=()):
    """Commit the first report of a sequential read once. Returns (UnaidedRead, created); the same UUID again
    returns the stored one unchanged."""
    with transaction.atomic():
        locked = lock_and_refresh(assignment)
        existing = first_read_of(locked)
        if existing:
            if str(existing.client_submission_uuid) == str(submission_uuid):
                return existing, False
            raise ReadingRefused("Your first read is already committed; it is final. Revise in the final read.")
        refuse_unless_readable(locked)
        if not locked.is_sequential:
            raise ReadingRefused("This reading is not sequential: there is no first read to commit.")
        if UnaidedRead.objects.filter(client_submission_uuid=submission_uuid).exists():
            raise ReadingRefused("This submission id belongs to another read.")
        findings, ratings = validate_first_report(locked, report)
        read = start_reading(locked)
        store_events(locked, read, events)
        if not image_has_rendered(locked):
            raise ReadingRefused("Commit your first read once the image has appeared.")
        times = derive_times(stored_events(locked), locked.study.idle_threshold_s * 1000, end=UNAIDED_END)
        try:
            with transaction.atomic():
                first = UnaidedRead.objects.create(
                    assignment=locked,
                    findings=findings,
                    ratings=ratings,
                    committed_at=timezone.now(),
                    client_submission_uuid=submission_uuid,
                    total_ms=times.total_ms,
                    hidden_ms=times.hidden_ms,
                    idle_ms=times.idle_ms,
                    active_ms=times.active_ms,
                )
        except IntegrityError:
            raise ReadingRefused("This submission id belongs to another read.") from None
        return first, True
