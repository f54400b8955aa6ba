"""Plausible reads for a dry-run study, through the same services as the API (events, annotations, submit).

Reading time: log(active seconds) = log(base) + reader effect + case effect + log(arm multiplier) + noise,
the effects normal with the given standard deviations, so an analysis has a known truth to recover. Findings
are the ground truth as the study scores it (its blank rule, No Finding derived), each positive finding missed
now and then and, now and then, one negative finding label added; the AI errors the reader was shown
(services/ai_errors.py) are flagged with a fixed probability. Ratings are uniform on their scale, except the
probability of abnormality, which follows the read's own call. Every session fills: reads are given simulated
submission times, spaced by the washout, that end before now.
"""

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from inference.scoring import NEGATIVE, NO_FINDING, POSITIVE, resolve_truth
from readerstudy.labels import NORMAL_LABEL_SLUGS
from readerstudy.models import ABNORMALITY_KEY, AI_ARMS, Arm, Assignment, ErrorCategory, Read, Study

from .ai_content import pinned_output
from .ai_errors import ai_errors
from .annotations import create_annotation
from .reading import Report, questions_for, submit_read

PAGE_LOAD_MS = 400  # from page shown to the first rendered image
MINUTES_BETWEEN_READS = 2


class SimulationRefused(Exception):
    pass


@dataclass
class SimulationSettings:
    seed: int = 1
    base_active_s: float = 60.0
    arm_multipliers: dict = field(default_factory=lambda: {Arm.UNAIDED: 1.0, Arm.LABELS_ONLY: 0.9,
                                                           Arm.FULL_REASONING: 0.75})
    reader_sd: float = 0.25
    case_sd: float = 0.3
    noise_sd: float = 0.2
    finding_flip: float = 0.08  # the chance of missing each positive finding, and of one false label per read
    error_flag_rate: float = 0.6


def simulate_reads(study, settings=None):
    """Submit a simulated read for every unsubmitted assignment of the dry-run study; returns the count."""
    settings = settings or SimulationSettings()
    if not study.is_dry_run:
        raise SimulationRefused("Only dry-run studies take simulated reads.")
    if study.status != Study.Status.OPEN:
        raise SimulationRefused("Open the dry-run study first.")
    # Two streams: the times must not depend on how many AI errors a pinned output happens to make (the
    # simulated engine draws those from the cases' random public ids), so an analysis has a fixed truth to find.
    rng, content_rng = random.Random(settings.seed), random.Random(f"{settings.seed}:content")
    assignments = list(Assignment.objects.filter(study=study).exclude(status=Assignment.Status.SUBMITTED)
                       .select_related("case", "session", "study").order_by("reader_id", "session__index",
                                                                            "position"))
    readers = {a.reader_id: rng.gauss(0, settings.reader_sd) for a in assignments}
    cases = {a.case_id: rng.gauss(0, settings.case_sd) for a in assignments}
    sessions = max((a.session.index for a in assignments), default=1)
    # Sessions a washout (plus a day) apart, the last one ending before now.
    start = timezone.now() - timedelta(days=sessions * (study.washout_days + 1))
    for a in assignments:
        log_s = (math.log(settings.base_active_s) + readers[a.reader_id] + cases[a.case_id]
                 + math.log(settings.arm_multipliers.get(a.arm, 1.0)) + rng.gauss(0, settings.noise_sd))
        submitted_at = (start + timedelta(days=(a.session.index - 1) * (study.washout_days + 1),
                                          minutes=a.position * MINUTES_BETWEEN_READS))
        _simulate_one(a, content_rng, settings, round(math.exp(log_s) * 1000), submitted_at)
    return len(assignments)


def _simulate_one(assignment, rng, settings, active_ms, submitted_at):
    with transaction.atomic():
        blank = assignment.study.blank_truth
        truth = resolve_truth(assignment.case.truth_by_slug(assignment.study.label_vocabulary), blank=blank)
        if assignment.arm in AI_ARMS:
            _flag_ai_errors(assignment, truth, rng, settings)
        events = _events(active_ms, rng)
        report = _report(assignment, truth, rng, settings)
        read, _ = submit_read(assignment, uuid.uuid4(), report, events,
                              {"active_ms": active_ms})
        Read.objects.filter(pk=read.pk).update(
            is_simulated=True, submitted_at=submitted_at, first_image_at=submitted_at - timedelta(milliseconds=active_ms),
            opened_at=submitted_at - timedelta(milliseconds=active_ms + PAGE_LOAD_MS))


def _events(active_ms, rng):
    """A page shown, the image, input heartbeats every few seconds, then submit after `active_ms`."""
    page = str(uuid.uuid4())
    times = [("page_shown", 0.0), ("image_rendered", float(PAGE_LOAD_MS))]
    t = PAGE_LOAD_MS
    while t + 5_000 < PAGE_LOAD_MS + active_ms:
        t += rng.uniform(2_000, 5_000)
        times.append(("input", t))
    times.append(("submit", float(PAGE_LOAD_MS + active_ms)))
    return [{"uuid": str(uuid.uuid4()), "page_load_id": page, "type": kind,
             "client_ms": ms, "payload": {}} for kind, ms in times]


def _report(assignment, truth, rng, settings):
    positive = sorted(slug for slug, value in truth.items() if value == POSITIVE and slug != NO_FINDING)
    negative = sorted(slug for slug, value in truth.items() if value == NEGATIVE and slug != NO_FINDING)
    findings = {slug for slug in positive if rng.random() >= settings.finding_flip}
    if negative and rng.random() < settings.finding_flip:
        findings.add(rng.choice(negative))
    # A reader who sees nothing but devices ticks No Finding too, as the form invites.
    called_abnormal = bool(set(findings) - NORMAL_LABEL_SLUGS)
    findings = sorted(findings) if called_abnormal else sorted(findings | {NO_FINDING})
    ratings = {q.key: _abnormality(called_abnormal, rng) if q.key == ABNORMALITY_KEY
               else rng.randint(q.scale_min, q.scale_max) for q in questions_for(assignment)}
    return Report(findings=findings, report_findings="Simulated read.", ratings=ratings)


def _abnormality(called_abnormal, rng):
    """0–100, agreeing with the reader's own call: a logistic of ±1.5 plus noise."""
    latent = (1.5 if called_abnormal else -1.5) + rng.gauss(0, 1)
    return round(100 / (1 + math.exp(-latent)))


def _flag_ai_errors(assignment, truth, rng, settings):
    """Flag each error the reader was shown with a fixed probability: a false label on the label itself, any
    other error on the output as a whole."""
    output = pinned_output(assignment)
    if output is None:
        return
    for error in sorted(ai_errors(output, truth, assignment.arm, blank=assignment.study.blank_truth),
                        key=lambda e: (e.category, e.label)):
        if rng.random() >= settings.error_flag_rate:
            continue
        create_annotation(assignment, {
            "id": uuid.uuid4(), "target": "label" if error.category == ErrorCategory.FALSE_FINDING else "output",
            "label": error.label, "category": error.category, "clinically_significant": rng.random() < 0.5,
            "comment": "", "turn": None, "start": None, "end": None, "step": None})
