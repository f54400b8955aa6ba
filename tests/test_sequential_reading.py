"""Sequential reading (the second-read design): in the AI arms the reader commits a first report without the
AI, then sees the AI's output and may revise; both reports, each phase's time and what changed are stored,
exported and analysed."""

import csv
import io
import math
import uuid

import pandas as pd
import pytest
from django.urls import reverse

from readerstudy.analysis.dataset import StudyData, load
from readerstudy.analysis.report import analyse
from readerstudy.analysis.sequential import sequential_section
from readerstudy.exports import csv_lines, read_columns, table
from readerstudy.models import Arm, ProtocolFrozen, Read, TimingEvent, UnaidedRead
from readerstudy.reading.records import FirstReadRecord
from readerstudy.reading.simulation import SimulationSettings, simulate_reads
from tests.reading_setup import open_study_with_assignments
from tests.test_reading_api import annotation, event, post, submit, url
from tests.test_simulation import dry_run

pytestmark = pytest.mark.django_db

FIRST_AI_MESSAGE = "Commit your first read before the AI output is shown."


@pytest.fixture
def sequential(demo_case_set, reader):
    return open_study_with_assignments(demo_case_set, reader, canaries=True, free_order=True, sequential_reading=True)


@pytest.fixture
def assignments(sequential):
    return sequential[1]


@pytest.fixture
def reader_client(client, reader):
    client.force_login(reader)
    return client


def first_report(submission_uuid=None, events=(), **fields):
    return {
        "findings": ["edema"],
        "ratings": {"confidence": 2},
        "submission_uuid": str(submission_uuid or uuid.uuid4()),
        "events": list(events),
        **fields,
    }


def commit(client, assignment, body=None, **fields):
    return post(client, url("api-unaided", assignment), body or first_report(**fields))


def image(client, assignment, ms=0):
    assert post(client, url("api-events", assignment), {"events": [event("image_rendered", ms)]}).status_code == 200


# --- the detail ---------------------------------------------------------------------------------------------


def test_the_detail_says_which_readings_are_sequential_and_which_questions_come_before_the_ai(
    reader_client, assignments, demo_case_set, reader
):
    labels = reader_client.get(url("api-assignment", assignments[Arm.LABELS_ONLY])).json()
    assert (labels["sequential"], labels["unaided"]) == (True, None)
    assert {q["key"]: q["before_ai"] for q in labels["questions"]} == {
        "confidence": True,
        "usefulness": False,
        "trust": False,
    }
    full = reader_client.get(url("api-assignment", assignments[Arm.FULL_REASONING])).json()
    assert {q["key"] for q in full["questions"] if q["before_ai"]} == {"confidence"}
    # The unaided arm shows no AI: one read, as in any study.
    unaided = reader_client.get(url("api-assignment", assignments[Arm.UNAIDED])).json()
    assert (unaided["sequential"], unaided["unaided"]) == (False, None)
    assert [q["before_ai"] for q in unaided["questions"]] == [False]


def test_a_study_that_is_not_sequential_asks_nothing_before_the_ai(reader_client, demo_case_set, reader):
    _, plain = open_study_with_assignments(demo_case_set, reader, free_order=True)
    detail = reader_client.get(url("api-assignment", plain[Arm.LABELS_ONLY])).json()
    assert (detail["sequential"], detail["unaided"]) == (False, None)
    assert not any(q["before_ai"] for q in detail["questions"])
    image(reader_client, plain[Arm.LABELS_ONLY])
    response = commit(reader_client, plain[Arm.LABELS_ONLY])
    assert response.status_code == 409
    assert response.json() == {"detail": "This reading is not sequential: there is no first read to commit."}


# --- committing the first report ----------------------------------------------------------------------------


def test_the_first_report_is_committed_once_and_a_replay_changes_nothing(reader_client, assignments):
    assignment = assignments[Arm.LABELS_ONLY]
    image(reader_client, assignment)
    body = first_report(events=[event("input", 2_000), event("unaided_commit", 8_000)])
    created = commit(reader_client, assignment, body)
    assert created.status_code == 201
    stored = UnaidedRead.objects.get(assignment=assignment)
    assert created.json() == {"committed_at": stored.committed_at.isoformat().replace("+00:00", "Z")}
    assert (stored.findings, stored.ratings, str(stored.client_submission_uuid)) == (
        ["edema"],
        {"confidence": 2},
        body["submission_uuid"],
    )
    assert (stored.total_ms, stored.hidden_ms, stored.idle_ms, stored.active_ms) == (8_000, 0, 0, 8_000)

    replay = commit(reader_client, assignment, body)
    assert (replay.status_code, replay.json()) == (200, created.json())
    assert UnaidedRead.objects.count() == 1 and TimingEvent.objects.filter(assignment=assignment).count() == 3

    again = commit(reader_client, assignment, first_report(findings=["pneumonia"]))
    assert again.status_code == 409
    assert again.json() == {"detail": "Your first read is already committed; it is final. Revise in the final read."}
    detail = reader_client.get(url("api-assignment", assignment)).json()
    assert detail["unaided"] == {"findings": ["edema"], "ratings": {"confidence": 2}, **created.json()}


def test_the_first_report_needs_the_image_to_have_appeared(reader_client, assignments):
    assignment = assignments[Arm.FULL_REASONING]
    response = commit(reader_client, assignment, first_report(events=[event("page_shown", 0)]))
    assert (response.status_code, response.json()) == (
        409,
        {"detail": "Commit your first read once the image has appeared."},
    )
    assert not UnaidedRead.objects.exists() and not TimingEvent.objects.filter(assignment=assignment).exists()
    # The image event may come in the same request.
    assert commit(reader_client, assignment, events=[event("image_rendered", 0)]).status_code == 201


@pytest.mark.parametrize(
    "fields,errors",
    [
        ({"findings": []}, {"findings": "Choose at least one finding, or “No Finding”."}),
        ({"findings": ["no-such-label"]}, {"findings": "Unknown finding(s): no-such-label."}),
        (
            {"findings": ["no-finding", "edema"]},
            {"findings": "“No Finding” cannot be combined with other findings except Support Devices."},
        ),
        ({"ratings": {}}, {"ratings.confidence": "Answer this question."}),
        ({"ratings": {"confidence": 9}}, {"ratings.confidence": "Choose a whole number from 1 to 5."}),
        (
            {"ratings": {"confidence": 3, "usefulness": 4}},
            {"ratings.usefulness": "This question is asked after the AI output is shown."},
        ),
        (
            {"ratings": {"confidence": 3, "reasoning_accuracy": 4}},
            {"ratings.reasoning_accuracy": "This question is not asked in this reading."},
        ),
    ],
)
def test_an_invalid_first_report_is_refused_field_by_field(reader_client, assignments, fields, errors):
    assignment = assignments[Arm.LABELS_ONLY]
    image(reader_client, assignment)
    response = commit(reader_client, assignment, **fields)
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "Please correct the marked fields.", "errors": errors},
    )
    assert not UnaidedRead.objects.exists()


def test_a_malformed_body_is_a_400_naming_the_field(reader_client, assignments):
    response = post(reader_client, url("api-unaided", assignments[Arm.LABELS_ONLY]), {"findings": ["edema"]})
    assert response.status_code == 400
    assert response.json()["errors"] == {"submission_uuid": "This field is required."}


# --- blinding and the final read -----------------------------------------------------------------------------


def test_the_ai_output_and_annotations_wait_for_the_first_report(reader_client, assignments):
    assignment = assignments[Arm.FULL_REASONING]
    image(reader_client, assignment)
    for response in (
        reader_client.get(url("api-ai", assignment)),
        reader_client.get(url("api-annotations", assignment)),
        post(reader_client, url("api-annotations", assignment), annotation(target="label", label="pneumonia")),
    ):
        assert (response.status_code, response.json()) == (409, {"detail": FIRST_AI_MESSAGE})
    assert commit(reader_client, assignment).status_code == 201
    ai = reader_client.get(url("api-ai", assignment))
    assert ai.status_code == 200 and set(ai.json()) == {"labels", "reasoning", "report"}
    assert (
        post(
            reader_client, url("api-annotations", assignment), annotation(target="label", label="pneumonia")
        ).status_code
        == 201
    )


def test_the_final_read_waits_for_the_first_report_and_may_differ_from_it(reader_client, assignments):
    assignment = assignments[Arm.LABELS_ONLY]
    image(reader_client, assignment)
    refused = submit(reader_client, assignment, events=[event("submit", 9_000)])
    assert (refused.status_code, refused.json()) == (
        409,
        {"detail": "Commit your first read, without the AI, before submitting the final read."},
    )
    assert not Read.objects.filter(submitted_at__isnull=False).exists()
    first = first_report()
    assert commit(reader_client, assignment, first).status_code == 201
    done = submit(reader_client, assignment, findings=["consolidation"], events=[event("submit", 9_000)])
    assert done.status_code == 201
    read = Read.objects.get(assignment=assignment)
    assert list(read.finding_links.values_list("label__slug", flat=True)) == ["consolidation"]
    # Submitted: the first report's replay still answers, anything else is refused.
    assert commit(reader_client, assignment, first).status_code == 200
    assert commit(reader_client, assignment).status_code == 409


def test_the_unaided_arm_of_a_sequential_study_reads_once(reader_client, assignments):
    assignment = assignments[Arm.UNAIDED]
    assert (
        submit(reader_client, assignment, events=[event("image_rendered", 0), event("submit", 5_000)]).status_code
        == 201
    )
    assert not UnaidedRead.objects.exists()


def test_sequential_reading_is_frozen_with_the_protocol_and_the_first_report_is_final(
    reader_client, sequential, assignments
):
    study, _ = sequential
    study.sequential_reading = False
    with pytest.raises(ProtocolFrozen, match="sequential reading"):
        study.save()
    image(reader_client, assignments[Arm.LABELS_ONLY])
    commit(reader_client, assignments[Arm.LABELS_ONLY])
    stored = UnaidedRead.objects.get()
    stored.findings = ["pneumonia"]
    with pytest.raises(ValueError, match="append-only"):
        stored.save()
    with pytest.raises(ValueError, match="append-only"):
        stored.delete()


# --- phase times and the export -------------------------------------------------------------------------------


def test_the_export_holds_both_reports_the_time_of_each_phase_and_what_changed(
    reader_client, client, sequential, assignments, coordinator
):
    study, _ = sequential
    study.coordinators.add(coordinator)
    for arm in (Arm.UNAIDED, Arm.LABELS_ONLY):
        assignment = assignments[arm]
        image(reader_client, assignment)
        if arm == Arm.LABELS_ONLY:
            # 10 s to the first report; the final read 15 s more (25 s from the image to the submit).
            events = [event("input", 4_000), event("unaided_commit", 10_000)]
            body = first_report(findings=["edema", "pneumonia"], ratings={"confidence": 2}, events=events)
            assert commit(reader_client, assignment, body).status_code == 201
        response = submit(
            reader_client,
            assignment,
            findings=["edema", "consolidation"],
            events=[event("input", 14_000), event("submit", 25_000)],
        )
        assert response.status_code == 201
    rows = {row["arm"]: row for row in csv.DictReader(io.StringIO("".join(table(study, "reads", csv_lines))))}
    columns = read_columns(study)
    first = UnaidedRead.objects.get()
    aided = rows["AI labels only"]
    assert {column: aided[column] for column in columns if column.startswith(("unaided_", "aided_"))} | {
        column: aided[column] for column in ("findings_changed", "labels_added", "labels_removed", "active_ms")
    } == {
        "unaided_committed_at": first.committed_at.isoformat(),
        "unaided_findings": "Edema; Pneumonia",
        "unaided_rating_confidence": "2",
        "unaided_active_ms": "10000",
        "aided_active_ms": "15000",
        "active_ms": "25000",
        "findings_changed": "1",
        "labels_added": "Consolidation",
        "labels_removed": "Pneumonia",
    }
    plain = rows["Unaided"]
    assert {plain[column] for column in columns[columns.index("unaided_committed_at") :]} == {""}


def test_the_first_report_columns_follow_the_questions_asked_before_the_ai(sequential):
    study, _ = sequential
    columns = read_columns(study)
    assert columns[columns.index("simulated") + 1 :] == [
        "unaided_committed_at",
        "unaided_findings",
        "unaided_rating_confidence",
        "unaided_active_ms",
        "aided_active_ms",
        "findings_changed",
        "labels_added",
        "labels_removed",
    ]


# --- the analysis ---------------------------------------------------------------------------------------------

POS, NEG = "positive", "negative"
LABELS = [("consolidation", "Consolidation"), ("edema", "Edema"), ("pneumonia", "Pneumonia")]
TRUTHS = {
    1: {"consolidation": NEG, "edema": POS, "pneumonia": "unknown"},
    2: {"consolidation": POS, "edema": NEG, "pneumonia": "unknown"},
    3: {"consolidation": "unknown", "edema": "unknown", "pneumonia": "unknown"},  # no ground truth
}
# (read, arm, case, first report's findings or None, final findings, active ms, first report's active ms)
READS = [
    (1, Arm.LABELS_ONLY, 1, {"consolidation"}, {"edema"}, 30_000, 10_000),  # 2 wrong -> right; improved
    (2, Arm.LABELS_ONLY, 2, {"consolidation"}, {"consolidation", "edema"}, 20_000, 12_000),  # 1 right -> wrong
    (3, Arm.LABELS_ONLY, 1, {"edema"}, {"edema"}, 40_000, 30_000),  # unchanged
    (4, Arm.LABELS_ONLY, 3, {"edema"}, {"pneumonia"}, 10_000, 4_000),  # 2 changes without truth
    (5, Arm.FULL_REASONING, 2, {"edema"}, {"consolidation"}, 50_000, 20_000),  # 2 wrong -> right
    (6, Arm.FULL_REASONING, 2, None, {"consolidation"}, 50_000, None),  # no first report
    (7, Arm.UNAIDED, 1, None, {"edema"}, 50_000, None),
]


def hand_built():
    frame = pd.DataFrame(
        [(read, arm.value, frozenset(final), case, active) for read, arm, case, _, final, active, _ in READS],
        columns=["read", "arm", "findings", "case_id", "active_ms"],
    )
    first_reads = {
        read: FirstReadRecord(frozenset(first), {}, first_ms, None)
        for read, _, _, first, _, _, first_ms in READS
        if first is not None
    }
    return StudyData(
        study=None,
        arms=[arm.value for arm in (Arm.UNAIDED, Arm.LABELS_ONLY, Arm.FULL_REASONING)],
        reads=frame,
        questions=[],
        labels=LABELS,
        truths=TRUTHS,
        outputs={},
        annotations={},
        submitted=len(READS),
        excluded={},
        first_reads=first_reads,
    )


def wilson(count, n, z=1.959963984540054):
    """The Wilson score interval, written out."""
    p = count / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_the_change_rate_and_whether_changes_were_right_per_arm_on_a_hand_built_dataset():
    section = sequential_section(hand_built())
    assert section["estimable"] is True
    labels_only, full = section["per_arm"]
    low, high = wilson(3, 4)
    assert labels_only.pop("change_ci_low") == pytest.approx(low)
    assert labels_only.pop("change_ci_high") == pytest.approx(high)
    assert labels_only == {
        "arm": "LABELS_ONLY",
        "reads": 4,
        "reads_without_first_report": 0,
        "changed": 3,
        "change_rate": 0.75,
        "labels_added": 3,  # edema (read 1), edema (2), pneumonia (4)
        "labels_removed": 2,  # consolidation (1), edema (4)
        "wrong_to_right": 2,  # read 1: edema missed -> found, consolidation false -> dropped
        "right_to_wrong": 1,  # read 2: edema rightly absent -> falsely added
        "net_corrections": 1,
        "unscored_changes": 2,  # read 4's case has no ground truth
        "reads_scored": 3,
        "reads_improved": 1,  # read 1: Jaccard 0 -> 1
        "reads_worsened": 1,  # read 2: Jaccard 1 -> 1/2
        "median_unaided_s": 11.0,  # of 10, 12, 30, 4 s
        "median_aided_s": 9.0,  # of 20, 8, 10, 6 s
        "per_label": [
            {
                "label": "consolidation",
                "name": "Consolidation",
                "added": 0,
                "removed": 1,
                "wrong_to_right": 1,
                "right_to_wrong": 0,
            },
            {"label": "edema", "name": "Edema", "added": 2, "removed": 1, "wrong_to_right": 1, "right_to_wrong": 1},
            {
                "label": "pneumonia",
                "name": "Pneumonia",
                "added": 1,
                "removed": 0,
                "wrong_to_right": 0,
                "right_to_wrong": 0,
            },
        ],
    }
    low, high = wilson(1, 1)
    assert (full["arm"], full["reads"], full["reads_without_first_report"], full["changed"]) == (
        "FULL_REASONING",
        1,
        1,
        1,
    )
    assert (full["change_rate"], full["change_ci_low"], full["change_ci_high"]) == (
        1.0,
        pytest.approx(low),
        pytest.approx(high),
    )
    assert (full["wrong_to_right"], full["right_to_wrong"], full["net_corrections"], full["reads_improved"]) == (
        2,
        0,
        2,
        1,
    )


def test_the_section_is_not_estimable_without_first_reports():
    data = hand_built()
    data.first_reads = {}
    assert sequential_section(data) == {"estimable": False, "reason": "no analysed AI-arm read has a first report"}


def test_the_analysis_report_shows_the_section_for_a_sequential_study_only(reader_client, sequential, assignments):
    study, _ = sequential
    assignment = assignments[Arm.LABELS_ONLY]
    image(reader_client, assignment)
    commit(reader_client, assignment, events=[event("unaided_commit", 3_000)], findings=["no-finding"])
    submit(reader_client, assignment, findings=["no-finding"], events=[event("submit", 6_000)])
    result = analyse(load(study))
    section = result.result["sequential"]
    assert section["estimable"] is True
    assert [(row["arm"], row["reads"], row["changed"]) for row in section["per_arm"]] == [
        ("LABELS_ONLY", 1, 0),
        ("FULL_REASONING", 0, 0),
    ]
    assert 'data-testid="sequential"' in result.html

    study.sequential_reading = False  # the same data, read as a study that is not sequential
    plain = analyse(load(study))
    assert "sequential" not in plain.result and 'id="sequential"' not in plain.html


# --- dry runs --------------------------------------------------------------------------------------------------


def test_a_sequential_dry_run_commits_the_readers_own_first_report_before_the_ai(
    demo_case_set, coordinator, reader, client
):
    study = dry_run(demo_case_set, [reader], coordinator, sequential_reading=True)
    effects = SimulationSettings(seed=5, automation_bias={"LABELS_ONLY": 0.9, "FULL_REASONING": 0.9})
    assert simulate_reads(study, effects) == 18
    firsts = UnaidedRead.objects.filter(assignment__study=study).select_related("assignment__read")
    assert firsts.count() == 12 and {f.assignment.arm for f in firsts} == {"LABELS_ONLY", "FULL_REASONING"}
    for first in firsts:
        read = first.assignment.read
        assert first.committed_at < read.submitted_at
        assert first.active_ms == round(read.active_ms * 0.7)
        assert set(first.ratings) == {"confidence"}
    # Annotating the AI's errors is refused before the first report: the dry run met that rule for every read.
    events = TimingEvent.objects.filter(assignment__study=study, type="unaided_commit")
    assert events.count() == 12
    section = analyse(load(study)).result["sequential"]
    assert section["estimable"] and sum(row["reads"] for row in section["per_arm"]) == 12
    client.force_login(coordinator)
    response = client.get(reverse("study-export", args=[study.pk, "reads", "csv"]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sum(row["unaided_active_ms"] != "" for row in rows) == 12
