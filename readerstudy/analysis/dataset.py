"""The data a study's analysis is computed from, loaded once, with a hash that names it.

One row per analysed read, from the one loader of read records (reading.records), which also says which reads
are left out and why: practice reads, reads the reader flagged as a problem case (non-diagnostic image,
technical fault) and reads with no active time, each counted. Reading times stay in integer milliseconds, as
exported, so medians computed here and from the export are the same numbers.
"""

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from readerstudy.core.scoring import has_truth, score_case
from readerstudy.models import Arm, Case
from readerstudy.reading.records import EXCLUSIONS, StudyReads

NORMAL, ABNORMAL, UNKNOWN_TYPE = "normal", "abnormal", "unknown"
NO_PREVIOUS_ARM = "none"  # the first reading of a case by its reader (the sensitivity model codes it)
CASE_TYPES = (NORMAL, ABNORMAL)


@dataclass
class StudyData:
    study: object
    arms: list  # the study's arms, canonical order
    reads: pd.DataFrame
    questions: list
    labels: list  # (slug, name) of the study's vocabulary
    truths: dict  # case id -> {slug: truth value}
    outputs: dict  # case id -> pinned ModelOutput
    annotations: dict  # read id -> [AnnotationRecord]
    submitted: int
    excluded: dict
    data_hash: str = ""
    simulated_reads: int = 0
    simulated_outputs: int = 0
    case_types: dict = field(default_factory=dict)  # case id -> normal | abnormal | unknown
    blank: str = "negative"  # how blank truth scores: the study's rule
    first_reads: dict = field(default_factory=dict)  # read id -> FirstReadRecord (sequential reads)

    def has_truth(self, case_id):
        return has_truth(self.truths.get(case_id, {}), blank=self.blank)


def rating_column(key):
    return f"rating_{key}"


def not_applicable_column(key):
    """True where the read answered the question N/A (its rating column is then empty: N/A is not a score)."""
    return f"not_applicable_{key}"


def load(study):
    questions = list(study.questions.all())
    source = StudyReads(study)
    records = list(source.records())
    analysed = [record for record in records if record.excluded_because is None]
    excluded = dict.fromkeys(EXCLUSIONS, 0) | Counter(
        record.excluded_because for record in records if record.excluded_because is not None
    )
    pins = source.pins
    case_ids = {record.assignment.case_id for record in records} | set(pins)
    truths = source.truths_for(case_ids)
    annotations = {record.read.pk: record.annotations for record in analysed}
    first_reads = {record.read.pk: record.first_read for record in analysed if record.first_read is not None}
    data = StudyData(
        study=study,
        arms=[arm.value for arm in study.ordered_arms],
        reads=_frame(analysed, questions, study.blank_truth),
        questions=questions,
        labels=source.labels,
        truths=truths,
        outputs=pins,
        annotations=annotations,
        submitted=len(records),
        excluded=excluded,
        simulated_reads=sum(record.read.is_simulated for record in records),
        simulated_outputs=sum(output.is_simulated for output in pins.values()),
        case_types={
            case_id: _case_type(is_abnormal)
            for case_id, is_abnormal in Case.objects.filter(pk__in=case_ids).values_list("pk", "is_abnormal")
        },
        blank=study.blank_truth,
        first_reads=first_reads,
    )
    data.data_hash = _hash(study, records, truths, pins, annotations, questions, data.labels)
    return data


def _frame(records, questions, blank):
    columns = (
        [
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
        ]
        + [rating_column(q.key) for q in questions]
        + [not_applicable_column(q.key) for q in questions]
    )
    rows = []
    for record in records:
        read, assignment, truth = record.read, record.assignment, record.truth
        rows.append(
            [
                read.pk,
                record.reader_code or f"user-{assignment.reader_id}",
                assignment.case.public_id,
                assignment.case_id,
                _case_type(assignment.case.is_abnormal),
                assignment.arm,
                assignment.session.index,
                record.previous_arm or NO_PREVIOUS_ARM,
                read.active_ms,
                read.active_ms / 1000,
                math.log(read.active_ms / 1000),
                record.findings,
                score_case(record.findings, truth, blank=blank).jaccard if has_truth(truth, blank=blank) else math.nan,
                read.is_simulated,
            ]
            + [float(record.ratings[q.key]) if q.key in record.ratings else math.nan for q in questions]
            + [q.key in record.not_applicable for q in questions]
        )
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"active_ms": "int64", "session": "int64", "jaccard": "float64"}).sort_values(
        ["reader", "case", "arm"], ignore_index=True
    )


def _case_type(is_abnormal):
    return {True: ABNORMAL, False: NORMAL}.get(is_abnormal, UNKNOWN_TYPE)


def _hash(study, records, truths, pins, annotations, questions, labels):
    """SHA-256 of everything the analysis reads, in a canonical order: the same data gives the same hash."""
    canonical = {
        "study": [study.pk, study.title, study.status, sorted(study.arms), study.label_vocabulary, study.blank_truth],
        "questions": [
            [
                q.key,
                q.text,
                q.min_anchor,
                q.max_anchor,
                q.scale_min,
                q.scale_max,
                sorted(q.arms),
                q.allows_not_applicable,
            ]
            for q in questions
        ],
        "labels": labels,
        "reads": [
            [
                record.read.pk,
                record.reader_code,
                record.assignment.case.public_id,
                record.assignment.arm,
                record.assignment.session.index,
                record.previous_arm,
                record.assignment.is_practice,
                record.read.problem_flagged,
                record.read.active_ms,
                record.read.is_simulated,
                sorted(record.findings),
                sorted(record.ratings.items()),
                sorted(record.not_applicable),
                record.first_read
                and [
                    sorted(record.first_read.findings),
                    sorted(record.first_read.ratings.items()),
                    record.first_read.active_ms,
                ],
            ]
            for record in sorted(records, key=lambda record: record.read.pk)
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
