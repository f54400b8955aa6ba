"""The ground-truth CSV of case ingest: `case_id` plus one column per label (slug or CheXpert name).

Values follow CheXpert: 1 positive, 0 negative, -1 uncertain (1.0 / 0.0 / -1.0 too), and a blank cell is kept
as blank: each study says how blanks score (negative by default, as CheXpert's evaluation does, or unknown).
A label without a column stays unknown.
"""

import csv
from dataclasses import dataclass

from readerstudy.core.errors import Refused
from readerstudy.models import Label, TruthValue

CSV_VALUES = {
    "1": TruthValue.POSITIVE,
    "1.0": TruthValue.POSITIVE,
    "0": TruthValue.NEGATIVE,
    "0.0": TruthValue.NEGATIVE,
    "-1": TruthValue.UNCERTAIN,
    "-1.0": TruthValue.UNCERTAIN,
    "": TruthValue.BLANK,
}


class LabelsFileError(Refused):
    """The file is malformed; `problems` holds one message per offending line."""


@dataclass
class LabelsFile:
    truth: dict  # source id -> {label slug: TruthValue}
    lines: dict  # source id -> line number, for messages


def read_labels_file(path, case_ids) -> LabelsFile:
    """Parse and validate the whole file against the cases found; raises LabelsFileError."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise LabelsFileError([f"cannot read the labels file: {error}"]) from None
    if not rows:
        raise LabelsFileError(["line 1: the labels file is empty"])
    columns = _label_columns(rows[0])
    problems, truth, lines = [], {}, {}
    for line_number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        problems.extend(_row_problems(row, line_number, len(rows[0]), truth, lines, case_ids))
        if len(row) == len(rows[0]) and row[0].strip() not in truth:
            values = _row_values(row, columns, line_number, problems)
            truth[row[0].strip()] = values
            lines[row[0].strip()] = line_number
    if problems:
        raise LabelsFileError(problems)
    return LabelsFile(truth=truth, lines=lines)


def _label_columns(header):
    """Map each column after `case_id` to a label slug; unknown columns are an error."""
    header = [cell.strip() for cell in header]
    if not header or header[0] != "case_id":
        raise LabelsFileError(["line 1: the first column must be headed case_id"])
    by_key = {}
    for label in Label.objects.all():
        by_key[label.slug.lower()] = label.slug
        by_key[label.name.lower()] = label.slug
    problems, columns, seen = [], [], set()
    for name in header[1:]:
        slug = by_key.get(name.lower())
        if slug is None:
            problems.append(f"line 1: unknown label column {name!r}")
        elif slug in seen:
            problems.append(f"line 1: label {name!r} appears twice")
        seen.add(slug)
        columns.append(slug)
    if problems:
        raise LabelsFileError(problems)
    return columns


def _row_problems(row, line_number, width, truth, lines, case_ids):
    case_id = row[0].strip() if row else ""
    if len(row) != width:
        return [f"line {line_number}: expected {width} columns, found {len(row)}"]
    if not case_id:
        return [f"line {line_number}: case_id is empty"]
    if case_id in truth:
        return [f"line {line_number}: case {case_id!r} already given on line {lines[case_id]}"]
    if case_id not in case_ids:
        return [f"line {line_number}: case {case_id!r} has no images in this import"]
    return []


def _row_values(row, columns, line_number, problems):
    values = {}
    for slug, cell in zip(columns, row[1:]):
        value = CSV_VALUES.get(cell.strip())
        if value is None:
            problems.append(f"line {line_number}: {slug}: value {cell.strip()!r} is not 1, 0, -1 or blank")
        else:
            values[slug] = value
    return values
