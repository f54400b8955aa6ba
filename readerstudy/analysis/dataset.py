"""The data a study's analysis is computed from, loaded once, with a hash that names it.

One row per analysed read. Excluded, and counted: practice reads, reads the reader flagged as a problem case
(non-diagnostic image, technical fault) and reads with no active time. Reading times stay in integer
milliseconds, as exported, so medians computed here and from the export are the same numbers.
"""

import hashlib
import json
import math
from dataclasses import dataclass, field

import pandas as pd

from inference.models import StudyOutputPin
from readerstudy.core.scoring import has_truth, score_case
from readerstudy.models import Arm, Case, GroundTruth, Label, Read, StudyReader, TraceAnnotation, TruthValue
from readerstudy.studies.carryover import previous_arms

NORMAL, ABNORMAL, UNKNOWN_TYPE = "normal", "abnormal", "unknown"
NO_PREVIOUS_ARM = "none"  # the first reading of a case by its reader (the sensitivity model codes it)
CASE_TYPES = (NORMAL, ABNORMAL)


@dataclass(frozen=True)
class Annotation:
    label: str | None  # slug of the label it names, if any
    category: str
    clinically_significant: bool


@dataclass
class StudyData:
    study: object
    arms: list  # the study's arms, canonical order
    reads: pd.DataFrame
    questions: list
    labels: list  # (slug, name) of the study's vocabulary
    truths: dict  # case id -> {slug: truth value}
    outputs: dict  # case id -> pinned ModelOutput
    annotations: dict  # read id -> [Annotation]
    submitted: int
    excluded: dict
    data_hash: str = ""
    simulated_reads: int = 0
    simulated_outputs: int = 0
    case_types: dict = field(default_factory=dict)  # case id -> normal | abnormal | unknown
    blank: str = "negative"  # how blank truth scores: the study's rule

    def has_truth(self, case_id):
        return has_truth(self.truths.get(case_id, {}), blank=self.blank)


def rating_column(key):
    return f"rating_{key}"


def load(study):
    questions = list(study.questions.all())
    reads = list(
        Read.objects.filter(assignment__study=study, submitted_at__isnull=False)
        .select_related("assignment__case", "assignment__session")
        .prefetch_related("finding_links__label", "ratings__question")
        .order_by("pk")
    )
    case_ids = {read.assignment.case_id for read in reads}
    pins = {pin.case_id: pin.output for pin in StudyOutputPin.objects.filter(study=study).select_related("output__job")}
    case_ids |= set(pins)
    codes = dict(StudyReader.objects.filter(study=study).values_list("user_id", "reader_code"))
    truths = _truths(case_ids, study.label_vocabulary)
    analysed, excluded = _split(reads)
    annotations = _annotations(analysed)
    previous = previous_arms(study)
    data = StudyData(
        study=study,
        arms=[arm.value for arm in study.ordered_arms],
        reads=_frame(analysed, codes, truths, questions, study.blank_truth, previous),
        questions=questions,
        labels=list(Label.objects.filter(vocabulary=study.label_vocabulary).values_list("slug", "name")),
        truths=truths,
        outputs=pins,
        annotations=annotations,
        submitted=len(reads),
        excluded=excluded,
        simulated_reads=sum(read.is_simulated for read in reads),
        simulated_outputs=sum(output.is_simulated for output in pins.values()),
        case_types={
            case_id: _case_type(is_abnormal)
            for case_id, is_abnormal in Case.objects.filter(pk__in=case_ids).values_list("pk", "is_abnormal")
        },
        blank=study.blank_truth,
    )
    data.data_hash = _hash(study, reads, codes, truths, pins, annotations, questions, data.labels, previous)
    return data


def _split(reads):
    """The reads analysed, and how many of each kind were left out (a read counts under its first reason)."""
    excluded = {"practice": 0, "problem_flagged": 0, "zero_active_time": 0}
    analysed = []
    for read in reads:
        if read.assignment.is_practice:
            excluded["practice"] += 1
        elif read.problem_flagged:
            excluded["problem_flagged"] += 1
        elif read.active_ms == 0:
            excluded["zero_active_time"] += 1
        else:
            analysed.append(read)
    return analysed, excluded


def _truths(case_ids, vocabulary):
    """Each case's truth over the labels readers choose from, as Case.truth_by_slug gives it, in two queries."""
    slugs = list(Label.objects.filter(vocabulary=vocabulary).values_list("slug", flat=True))
    known = {}
    rows = GroundTruth.objects.filter(case_id__in=case_ids, label__vocabulary=vocabulary).values_list(
        "case_id", "label__slug", "value"
    )
    for case_id, slug, value in rows:
        known.setdefault(case_id, {})[slug] = value
    return {
        case_id: {slug: known.get(case_id, {}).get(slug, TruthValue.UNKNOWN) for slug in slugs} for case_id in case_ids
    }


def _annotations(reads):
    by_read = {read.pk: [] for read in reads}
    for read_id, label, category, significant in (
        TraceAnnotation.objects.filter(read__in=reads)
        .order_by("read_id", "created_at", "pk")
        .values_list("read_id", "label__slug", "category", "clinically_significant")
    ):
        by_read[read_id].append(Annotation(label, category, significant))
    return by_read


def _frame(reads, codes, truths, questions, blank, previous):
    columns = [
        "read",
        "reader",
        "case",
        "case_id",
        "case_type",
        "arm",
        "session",
        "previous_arm",
        "active_ms",
        "active_s",
        "log_active_s",
        "findings",
        "jaccard",
        "simulated",
    ] + [rating_column(q.key) for q in questions]
    rows = []
    for read in reads:
        assignment = read.assignment
        truth = truths[assignment.case_id]
        findings = frozenset(link.label.slug for link in read.finding_links.all())
        ratings = {rating.question.key: rating.value for rating in read.ratings.all()}
        rows.append(
            [
                read.pk,
                codes.get(assignment.reader_id, f"user-{assignment.reader_id}"),
                assignment.case.public_id,
                assignment.case_id,
                _case_type(assignment.case.is_abnormal),
                assignment.arm,
                assignment.session.index,
                previous.get(assignment.pk) or NO_PREVIOUS_ARM,
                read.active_ms,
                read.active_ms / 1000,
                math.log(read.active_ms / 1000),
                findings,
                score_case(findings, truth, blank=blank).jaccard if has_truth(truth, blank=blank) else math.nan,
                read.is_simulated,
            ]
            + [float(ratings[q.key]) if q.key in ratings else math.nan for q in questions]
        )
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"active_ms": "int64", "session": "int64", "jaccard": "float64"}).sort_values(
        ["reader", "case", "arm"], ignore_index=True
    )


def _case_type(is_abnormal):
    return {True: ABNORMAL, False: NORMAL}.get(is_abnormal, UNKNOWN_TYPE)


def _hash(study, reads, codes, truths, pins, annotations, questions, labels, previous):
    """SHA-256 of everything the analysis reads, in a canonical order: the same data gives the same hash."""
    canonical = {
        "study": [study.pk, study.title, study.status, sorted(study.arms), study.label_vocabulary, study.blank_truth],
        "questions": [
            [q.key, q.text, q.min_anchor, q.max_anchor, q.scale_min, q.scale_max, sorted(q.arms)] for q in questions
        ],
        "labels": labels,
        "reads": [
            [
                read.pk,
                codes.get(read.assignment.reader_id),
                read.assignment.case.public_id,
                read.assignment.arm,
                read.assignment.session.index,
                previous.get(read.assignment_id),
                read.assignment.is_practice,
                read.problem_flagged,
                read.active_ms,
                read.is_simulated,
                sorted(link.label.slug for link in read.finding_links.all()),
                sorted((rating.question.key, rating.value) for rating in read.ratings.all()),
            ]
            for read in reads
        ],
        "truths": sorted([case_id, sorted(truth.items())] for case_id, truth in truths.items()),
        "outputs": sorted(
            [case_id, output.pk, output.labels, output.deliberate_errors, output.job.status]
            for case_id, output in pins.items()
        ),
        "annotations": sorted(
            [read_id, [[a.label, a.category, a.clinically_significant] for a in items]]
            for read_id, items in annotations.items()
        ),
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode()).hexdigest()


def arm_name(arm):
    return Arm(arm).label
