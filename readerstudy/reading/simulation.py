"""Plausible reads for a dry-run study, through the same services as the API (events, annotations, submit).

What each read holds comes from the study model of reading/simulation_model.py (times with reader, case,
reader×arm, case×arm, arm, abnormal-case, carry-over and learning effects; findings under the AI's influence;
ratings; flags on the AI's errors), keyed by the reader's code and the case, so an analysis has a known truth
to recover. A case is named by its place in the case set: public ids are random, and the same study must give
the same reads. Every session fills: reads are given simulated submission times, spaced by the washout, that
end before now.

In a sequential study (Study.sequential_reading) each AI-arm read first commits the reader's own report: the
findings the same reader would give unaided (the same draws, without the AI's help or pull) and the answers to
the questions asked before the AI, after FIRST_READ_SHARE of the read's active time; the AI output is shown
(and its errors flagged) only after it.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from readerstudy.core.errors import Refused
from readerstudy.core.scoring import resolve_truth
from readerstudy.models import (
    ABNORMALITY_KEY,
    AI_ARMS,
    Assignment,
    CaseSetMembership,
    ErrorCategory,
    Read,
    Study,
    StudyReader,
    UnaidedRead,
)
from readerstudy.reading.ai_content import pinned_output
from readerstudy.reading.ai_errors import ai_errors
from readerstudy.reading.annotations import create_annotation
from readerstudy.reading.reads import Report, asked_before_ai, questions_for, record_events, submit_read
from readerstudy.reading.sequential import FirstReport, commit_first_read
from readerstudy.reading.simulation_model import Effects, Question, StudyModel
from readerstudy.reading.simulation_model import Read as SimulatedRead
from readerstudy.studies.carryover import previous_arms

PAGE_LOAD_MS = 400  # from page shown to the first rendered image
MINUTES_BETWEEN_READS = 2
FIRST_READ_SHARE = 0.7  # of a sequential read's active time, spent on the first report (without the AI)


class SimulationRefused(Refused):
    pass


@dataclass
class SimulationSettings(Effects):
    seed: int = 1


def simulate_reads(study, settings=None):
    """Submit a simulated read for every unsubmitted assignment of the dry-run study; returns the count."""
    settings = settings or SimulationSettings()
    if not study.is_dry_run:
        raise SimulationRefused("Only dry-run studies take simulated reads.")
    if study.status != Study.Status.OPEN:
        raise SimulationRefused("Open the dry-run study first.")
    model = StudyModel(settings, settings.seed)
    assignments = list(
        Assignment.objects.filter(study=study)
        .exclude(status=Assignment.Status.SUBMITTED)
        .select_related("case", "session", "study")
        .order_by("reader_id", "session__index", "position")
    )
    codes = dict(StudyReader.objects.filter(study=study).values_list("user_id", "reader_code"))
    places = _case_places(study)
    previous = previous_arms(study)
    sessions = max((a.session.index for a in assignments), default=1)
    # Sessions a washout (plus a day) apart, the last one ending before now.
    start = timezone.now() - timedelta(days=sessions * (study.washout_days + 1))
    for a in assignments:
        # A free-form study may assign cases from other case sets: those are named by their public id.
        case = places.get(a.case_id) or a.case.public_id
        read = SimulatedRead(
            reader=codes[a.reader_id],
            case=case,
            arm=a.arm,
            session=a.session.index,
            previous_arm=previous.get(a.pk),
            abnormal=bool(a.case.is_abnormal),
        )
        submitted_at = start + timedelta(
            days=(a.session.index - 1) * (study.washout_days + 1), minutes=a.position * MINUTES_BETWEEN_READS
        )
        _simulate_one(a, model, read, submitted_at)
    return len(assignments)


def _case_places(study):
    """{case id: its place in the study's case set (or practice set)}: stable names for the study model."""
    places = {}
    for prefix, case_set_id in (("practice", study.practice_case_set_id), ("case", study.case_set_id)):
        places |= {
            case_id: f"{prefix}-{position}"
            for case_id, position in CaseSetMembership.objects.filter(case_set_id=case_set_id).values_list(
                "case_id", "position"
            )
        }
    return places


def _simulate_one(assignment, model, read, submitted_at):
    with transaction.atomic():
        blank = assignment.study.blank_truth
        truth = resolve_truth(assignment.case.truth_by_slug(assignment.study.label_vocabulary), blank=blank)
        active_ms = model.active_ms(read)
        sequential = assignment.is_sequential
        first_ms = round(active_ms * FIRST_READ_SHARE) if sequential else None
        events = _events(
            active_ms, random.Random(f"{model.seed}:events:{read.reader}:{read.case}:{read.arm}"), first_ms
        )
        # The page and the first image, as the browser sends them; then the first report of a sequential read,
        # then the AI panel, then the read.
        record_events(assignment, events[:2])
        questions = questions_for(assignment)
        scales = [Question(q.key, q.scale_min, q.scale_max) for q in questions]
        rest = events[2:]
        if sequential:
            own = model.findings(read, truth, None)  # the same draws as the final read's, without the AI
            before = {q.key for q in questions if asked_before_ai(assignment, q)}
            own_ratings = model.ratings(read, scales, own, ABNORMALITY_KEY)
            commit = next(i for i, e in enumerate(rest) if e["type"] == "unaided_commit") + 1
            commit_first_read(
                assignment,
                uuid.uuid4(),
                FirstReport(sorted(own), {key: value for key, value in own_ratings.items() if key in before}),
                rest[:commit],
            )
            rest = rest[commit:]
        output = pinned_output(assignment) if assignment.arm in AI_ARMS else None
        if output is not None:
            shown = sorted(ai_errors(output, truth, assignment.arm, blank=blank), key=lambda e: (e.category, e.label))
            _flag(assignment, model, read, model.flagged(read, shown))
        findings = model.findings(read, truth, set(output.labels) if output is not None else None)
        ratings = model.ratings(read, scales, findings, ABNORMALITY_KEY)
        report = Report(findings=sorted(findings), report_findings="Simulated read.", ratings=ratings)
        saved, _ = submit_read(assignment, uuid.uuid4(), report, rest, {"active_ms": active_ms})
        if sequential:
            UnaidedRead.objects.filter(assignment=assignment).update(
                committed_at=submitted_at - timedelta(milliseconds=active_ms - first_ms)
            )
        Read.objects.filter(pk=saved.pk).update(
            is_simulated=True,
            submitted_at=submitted_at,
            first_image_at=submitted_at - timedelta(milliseconds=active_ms),
            opened_at=submitted_at - timedelta(milliseconds=active_ms + PAGE_LOAD_MS),
        )


def _events(active_ms, rng, first_ms=None):
    """A page shown, the image, input heartbeats every few seconds, then submit after `active_ms`; with
    `first_ms`, a sequential read's first report committed that long after the image."""
    page = str(uuid.uuid4())
    times = [("page_shown", 0.0), ("image_rendered", float(PAGE_LOAD_MS))]
    t = PAGE_LOAD_MS
    while t + 5_000 < PAGE_LOAD_MS + active_ms:
        t += rng.uniform(2_000, 5_000)
        times.append(("input", t))
    if first_ms is not None:  # added after the draws: a sequential study's heartbeats are the same
        times = sorted([*times, ("unaided_commit", float(PAGE_LOAD_MS + first_ms))], key=lambda item: item[1])
    times.append(("submit", float(PAGE_LOAD_MS + active_ms)))
    return [
        {"uuid": str(uuid.uuid4()), "page_load_id": page, "type": kind, "client_ms": ms, "payload": {}}
        for kind, ms in times
    ]


def _flag(assignment, model, read, errors):
    """Annotate each flagged error: a false label on the label itself, any other error on the output; half of
    them judged clinically significant."""
    for error in errors:
        significant = model.rng("significant", read.reader, read.case, read.arm, error).random() < 0.5
        create_annotation(
            assignment,
            {
                "id": uuid.uuid4(),
                "target": "label" if error.category == ErrorCategory.FALSE_FINDING else "output",
                "label": error.label,
                "category": error.category,
                "clinically_significant": significant,
                "comment": "",
                "turn": None,
                "start": None,
                "end": None,
                "step": None,
            },
        )
