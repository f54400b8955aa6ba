"""A study's data for statisticians: reads, timing events and annotations, as rows built one at a time.

Every table is a header plus a generator of rows, so the CSV and JSON writers (and the streamed HTTP
responses) never hold a whole table in memory. Values are human-readable: label and arm names, not ids. Reads
come from the one loader of read records (reading.records), a page at a time.
"""

import csv
import io
import json
from collections import Counter

from readerstudy.core.scoring import score_case
from readerstudy.models import Arm, ErrorCategory, Label, StudyReader, TimingEvent, TraceAnnotation
from readerstudy.reading.records import StudyReads

CHUNK = 500


def _labels(study):
    return list(Label.objects.filter(vocabulary=study.label_vocabulary))


def read_columns(study):
    questions = [q.key for q in study.questions.all()]
    slugs = [label.slug for label in _labels(study)]
    return (
        [
            "study",
            "design",
            "blank_truth",
            "reader",
            "reader_years_experience",
            "reader_subspecialty",
            "case",
            "case_type",
            "ground_truth",
            "arm",
            "previous_arm",
            "session",
            "position",
            "practice",
            "opened_at",
            "submitted_at",
            "active_ms",
            "total_ms",
            "idle_ms",
            "hidden_ms",
        ]
        + [f"rating_{key}" for key in questions]
        + [f"finding_{slug}" for slug in slugs]
        + ["report_findings", "report_impression", "problem_flagged", "problem_reason"]
        + [f"annotations_{category}" for category in ErrorCategory.values]
        + ["ai_labels_shown", "jaccard"]
        + [f"correct_{slug}" for slug in slugs]
        + ["simulated"]
        + ["unaided_committed_at", "unaided_findings"]
        + [f"unaided_rating_{key}" for key in _before_ai_keys(study)]
        + ["unaided_active_ms", "aided_active_ms", "findings_changed", "labels_added", "labels_removed"]
    )


def _before_ai_keys(study):
    """The questions a sequential read asks in its first report (those not about the AI)."""
    return [q.key for q in study.questions.all() if not q.is_about_ai]


def read_rows(study):
    """One row per submitted read, in reader, session and position order."""
    reads = StudyReads(study)
    questions = list(study.questions.all())
    keys, before_ai = [q.key for q in questions], [q.key for q in questions if not q.is_about_ai]
    for record in reads.records():
        names = dict(reads.labels)
        yield _read_row(study, record, names, keys) + _first_read_cells(record, names, before_ai)


def _first_read_cells(record, names, before_ai):
    """A sequential read's first report and what changed after the AI; empty cells for any other read."""
    first = record.first_read
    if first is None:
        return [""] * (7 + len(before_ai))

    def named(slugs):
        return "; ".join(name for slug, name in names.items() if slug in slugs)

    added, removed = record.findings - first.findings, first.findings - record.findings
    return (
        [first.committed_at.isoformat(), named(first.findings)]
        + [first.ratings.get(key, "") for key in before_ai]
        + [first.active_ms, record.aided_active_ms, int(bool(added or removed)), named(added), named(removed)]
    )


def _read_row(study, record, names, questions):
    read, assignment, enrolment = record.read, record.assignment, record.enrolment
    # Scored on the labels the reader could choose from, under the study's blank rule.
    score = score_case(record.findings, record.truth, blank=study.blank_truth)
    annotated = Counter(annotation.category for annotation in record.annotations)
    previous_arm = record.previous_arm
    return (
        [
            study.title,
            study.design_version,
            study.blank_truth,
            enrolment.reader_code if enrolment else "",
            enrolment.years_experience if enrolment else "",
            enrolment.subspecialty if enrolment else "",
            assignment.case.public_id,
            {True: "abnormal", False: "normal"}.get(assignment.case.is_abnormal, "unknown"),
            "; ".join(names.get(slug, slug) for slug in sorted(score.actual)),
            assignment.get_arm_display(),
            Arm(previous_arm).label if previous_arm else "",
            assignment.session.index,
            assignment.position,
            "yes" if assignment.is_practice else "no",
            read.opened_at.isoformat(),
            read.submitted_at.isoformat(),
            read.active_ms,
            read.total_ms,
            read.idle_ms,
            read.hidden_ms,
        ]
        + [_rating_cell(record, key) for key in questions]
        + [int(slug in record.findings) for slug in names]
        + [read.report_findings, read.report_impression, int(read.problem_flagged), read.problem_reason]
        + [annotated.get(category, 0) for category in ErrorCategory.values]
        + ["; ".join(item["name"] for item in record.ai_labels or ()), round(score.jaccard, 6)]
        + [_correct(score, slug) for slug in names]
        + ["yes" if read.is_simulated else "no"]
    )


# The rating cell of a question answered N/A (R's and pandas' missing-value spelling); empty: not answered.
NOT_APPLICABLE_CELL = "NA"


def _rating_cell(record, key):
    if key in record.not_applicable:
        return NOT_APPLICABLE_CELL
    return record.ratings.get(key, "")


def _correct(score, slug):
    outcome = score.outcomes.get(slug)
    return "" if outcome is None else int(outcome in ("tp", "tn"))


EVENT_COLUMNS = ["study", "reader", "case", "arm", "session", "page_load", "type", "client_ms", "server_at", "payload"]


def event_rows(study):
    codes = dict(StudyReader.objects.filter(study=study).values_list("user_id", "reader_code"))
    events = (
        TimingEvent.objects.filter(assignment__study=study)
        .select_related("assignment__case", "assignment__session")
        .order_by("assignment_id", "page_load_id", "client_ms")
    )
    for e in events.iterator(chunk_size=CHUNK):
        a = e.assignment
        yield [
            study.title,
            codes.get(a.reader_id, ""),
            a.case.public_id,
            a.get_arm_display(),
            a.session.index,
            str(e.page_load_id),
            e.type,
            e.client_ms,
            e.server_at.isoformat(),
            json.dumps(e.payload),
        ]


ANNOTATION_COLUMNS = [
    "study",
    "reader",
    "case",
    "arm",
    "session",
    "target",
    "turn",
    "start",
    "end",
    "annotated_text",
    "step",
    "label",
    "category",
    "clinically_significant",
    "comment",
    "submitted",
    "repeats",
]


def annotation_rows(study):
    codes = dict(StudyReader.objects.filter(study=study).values_list("user_id", "reader_code"))
    annotations = (
        TraceAnnotation.objects.filter(read__assignment__study=study)
        .select_related("read__assignment__case", "read__assignment__session", "label")
        .order_by("read_id", "created_at")
    )
    for n in annotations.iterator(chunk_size=CHUNK):
        a = n.read.assignment
        yield [
            study.title,
            codes.get(a.reader_id, ""),
            a.case.public_id,
            a.get_arm_display(),
            a.session.index,
            n.get_target_display(),
            n.turn,
            n.start,
            n.end,
            n.quote,
            n.step,
            n.label.name if n.label else "",
            n.get_category_display(),
            int(n.clinically_significant),
            n.comment,
            int(n.read.is_submitted),
            len(n.repeats),
        ]


TABLES = {
    "reads": (read_columns, read_rows),
    "timing_events": (lambda study: EVENT_COLUMNS, event_rows),
    "annotations": (lambda study: ANNOTATION_COLUMNS, annotation_rows),
}


# A spreadsheet reads a cell that starts with one of these as a formula: a reader's report text such as
# =HYPERLINK("http://…"&C2) would run when a statistician opens the file (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_lines(columns, rows):
    """CSV text, one line at a time (for streaming)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    yield _drain(buffer)
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row])
        yield _drain(buffer)


def _csv_cell(value):
    """Text that a spreadsheet would take for a formula gets a leading ' (shown as text, OWASP's advice);
    numbers, negative ones too, are written as they are."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def json_chunks(columns, rows):
    """A JSON array of objects, one object at a time (for streaming)."""
    yield "["
    for i, row in enumerate(rows):
        yield ("," if i else "") + json.dumps(dict(zip(columns, row)), ensure_ascii=False)
    yield "]"


def _drain(buffer):
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


FILES = [
    ("reads.csv", "reads", csv_lines),
    ("reads.json", "reads", json_chunks),
    ("timing_events.csv", "timing_events", csv_lines),
    ("annotations.csv", "annotations", csv_lines),
]


def table(study, name, writer):
    """The chunks of one exported file."""
    columns, rows = TABLES[name]
    return writer(columns(study), rows(study))
