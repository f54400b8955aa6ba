"""The ground-truth CSV: accepted forms, and every malformed form reported by line."""

import pytest

from readerstudy.cases.labels_csv import LabelsFileError, read_labels_file
from readerstudy.models import TruthValue

pytestmark = pytest.mark.django_db


def write(tmp_path, text):
    path = tmp_path / "labels.csv"
    path.write_text(text)
    return path


def test_columns_by_chexpert_name_or_slug_and_values_in_both_notations(tmp_path):
    path = write(tmp_path, "case_id,Pleural Effusion,cardiomegaly,No Finding\na,1,0,\nb,-1.0,1.0,0.0\n")
    parsed = read_labels_file(path, {"a", "b"})
    assert parsed.truth == {
        "a": {
            "pleural-effusion": TruthValue.POSITIVE,
            "cardiomegaly": TruthValue.NEGATIVE,
            "no-finding": TruthValue.BLANK,
        },
        "b": {
            "pleural-effusion": TruthValue.UNCERTAIN,
            "cardiomegaly": TruthValue.POSITIVE,
            "no-finding": TruthValue.NEGATIVE,
        },
    }


def test_a_utf8_byte_order_mark_and_blank_lines_are_tolerated(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_bytes("\ufeffcase_id,Edema\r\na,1\r\n\r\n".encode())
    assert read_labels_file(path, {"a"}).truth == {"a": {"edema": TruthValue.POSITIVE}}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("case_id,Edema,Broken Heart\na,1,1\n", "line 1: unknown label column 'Broken Heart'"),
        ("case,Edema\na,1\n", "line 1: the first column must be headed case_id"),
        ("case_id,Edema,edema\na,1,1\n", "line 1: label 'edema' appears twice"),
        ("case_id,Edema\na,yes\n", "line 2: edema: value 'yes' is not 1, 0, -1 or blank"),
        ("case_id,Edema\na,1\na,0\n", "line 3: case 'a' already given on line 2"),
        ("case_id,Edema\nghost,1\n", "line 2: case 'ghost' has no images in this import"),
        ("case_id,Edema\na,1,0\n", "line 2: expected 2 columns, found 3"),
        ("case_id,Edema\n,1\n", "line 2: case_id is empty"),
        ("", "line 1: the labels file is empty"),
    ],
)
def test_malformed_files_name_the_line_and_the_fault(tmp_path, text, problem):
    with pytest.raises(LabelsFileError) as raised:
        read_labels_file(write(tmp_path, text), {"a"})
    assert problem in raised.value.problems


def test_every_bad_line_is_reported_not_only_the_first(tmp_path):
    path = write(tmp_path, "case_id,Edema\na,7\nghost,1\n")
    with pytest.raises(LabelsFileError) as raised:
        read_labels_file(path, {"a"})
    assert raised.value.problems == [
        "line 2: edema: value '7' is not 1, 0, -1 or blank",
        "line 3: case 'ghost' has no images in this import",
    ]


def test_a_binary_file_is_reported_not_crashed_on(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(LabelsFileError, match="cannot read the labels file"):
        read_labels_file(path, {"a"})
