"""The study analysis: the mixed model recovers known effects, error auditing counts what it should, small or
incomplete studies say "not estimable" with the reason, and the cache recomputes only when the data changes."""

import math
import uuid
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from inference.models import ModelOutput
from readerstudy.analysis.dataset import load
from readerstudy.analysis.error_audit import audit_read, error_audit_section
from readerstudy.analysis.mixed_model import fit_sensitivity_model
from readerstudy.analysis.refresh import compute_requested
from readerstudy.analysis.report import analyse
from readerstudy.analysis.schedule import request_analysis, sweep
from readerstudy.core.labels import CHEXPERT_LABELS
from readerstudy.models import Arm, Assignment, BlankTruth, GroundTruth, Label, StudyAnalysis, TruthValue
from readerstudy.reading.ai_errors import AIError, ai_errors
from readerstudy.reading.annotations import create_annotation
from readerstudy.reading.reads import Report, questions_for, record_events, submit_read
from readerstudy.reading.records import AnnotationRecord as Annotation
from tests.reading_setup import open_study_with_assignments

ARMS = ["UNAIDED", "LABELS_ONLY", "FULL_REASONING"]


def expected_plots(result):
    """Every plot, the error-flag one only when an AI error was shown (the simulated engine makes its errors
    from the cases' random public ids)."""
    shown = any(row["errors"] for row in result["error_audit"]["per_arm"])
    return ["time-by-arm", "reader-lines", "ratings", "accuracy"] + (["error-flags"] if shown else [])


# --- the model, on data with a known truth ---------------------------------------------------------------------


def simulated_frame(seed, readers=6, cases=30, ratios=(1.0, 0.85, 0.7)):
    """log time = base + reader effect + case effect + log(arm ratio) + noise, every reader reading every case
    in every arm."""
    rng = np.random.default_rng(seed)
    reader_effects, case_effects = rng.normal(0, 0.25, readers), rng.normal(0, 0.3, cases)
    rows = [
        {
            "reader": f"R{r}",
            "case": f"C{c}",
            "arm": arm,
            "y": math.log(60) + reader_effects[r] + case_effects[c] + math.log(ratio) + rng.normal(0, 0.2),
        }
        for r in range(readers)
        for c in range(cases)
        for arm, ratio in zip(ARMS, ratios)
    ]
    return pd.DataFrame(rows)


def test_the_95_percent_intervals_cover_the_true_arm_effects_at_about_their_nominal_rate():
    covered = {"LABELS_ONLY": 0, "FULL_REASONING": 0}
    for seed in range(40):
        model = fit_sensitivity_model(simulated_frame(seed), "y", ARMS, "UNAIDED")
        for effect in model["effects"]:
            truth = math.log({"LABELS_ONLY": 0.85, "FULL_REASONING": 0.7}[effect["arm"]])
            covered[effect["arm"]] += effect["ci_low"] < truth < effect["ci_high"]
    # 40 intervals at 95%: fewer than 34 would happen by chance less than once in a hundred runs.
    assert covered["LABELS_ONLY"] >= 34 and covered["FULL_REASONING"] >= 34, covered


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda f: f[f["reader"] == "R0"], "needs reads from at least 2 readers (has 1)"),
        (lambda f: f[f["case"] == "C0"], "needs reads of at least 2 cases (has 1)"),
        (lambda f: f[f["arm"] != "UNAIDED"], "no reads in the reference arm (Unaided)"),
        (lambda f: f[f["arm"] == "UNAIDED"], "no other arm has reads to compare with Unaided"),
        (lambda f: f.assign(y=3.0), "the outcome is the same in every read"),
        (lambda f: f.iloc[:0], "no reads in the reference arm (Unaided)"),
    ],
)
def test_a_model_that_cannot_be_estimated_says_why(change, reason):
    model = fit_sensitivity_model(change(simulated_frame(1, readers=3, cases=4)), "y", ARMS, "UNAIDED")
    assert model["estimable"] is False and model["reason"] == reason


def test_an_arm_without_reads_is_not_estimable_while_the_others_are():
    frame = simulated_frame(2)
    model = fit_sensitivity_model(frame[frame["arm"] != "LABELS_ONLY"], "y", ARMS, "UNAIDED")
    assert model["estimable"] is True
    assert [(e["arm"], e["estimable"], e["reason"]) for e in model["effects"]] == [
        ("FULL_REASONING", True, None),
        ("LABELS_ONLY", False, "no reads in this arm"),
    ]


# --- error auditing on hand-built cases ------------------------------------------------------------------------

TRUTH = {
    "pleural-effusion": "positive",
    "cardiomegaly": "positive",
    "pneumothorax": "negative",
    "edema": "negative",
    "fracture": "unknown",
}


def hand_built_output(engine="simulated"):
    """Predicts effusion (right) and pneumothorax (false), misses cardiomegaly, puts the effusion on the wrong
    side on purpose, and claims a fracture nobody knows about (not evaluable: not an error)."""
    return ModelOutput(
        engine=engine,
        labels=["pleural-effusion", "pneumothorax", "fracture"],
        deliberate_errors=[{"kind": "wrong_side", "label": "pleural-effusion", "region": "right-lung"}],
    )


def test_the_ai_errors_a_reader_is_shown_depend_on_the_arm_and_on_simulation():
    false, missed = AIError("pneumothorax", "false_finding"), AIError("cardiomegaly", "missed_finding")
    wrong_side = AIError("pleural-effusion", "wrong_location")
    assert ai_errors(hand_built_output(), TRUTH, "FULL_REASONING", blank="negative") == {false, missed, wrong_side}
    assert ai_errors(hand_built_output(), TRUTH, "LABELS_ONLY", blank="negative") == {false, missed}
    assert ai_errors(hand_built_output(engine="transformers"), TRUTH, "FULL_REASONING", blank="negative") == {
        false,
        missed,
    }
    assert ai_errors(hand_built_output(), TRUTH, "UNAIDED", blank="negative") == frozenset()


# A CheXpert labels row for a normal case: No Finding = 1, every other cell blank.
NORMAL_ROW = {**{slug: "blank" for slug, _ in CHEXPERT_LABELS}, "no-finding": "positive"}


@pytest.mark.parametrize(
    "blank, expected",
    [
        ("negative", {AIError("lung-opacity", "false_finding")}),
        ("unknown", frozenset()),  # the file said nothing about Lung Opacity
    ],
)
def test_a_false_label_on_a_normal_case_is_a_false_finding_of_that_label(blank, expected):
    output = ModelOutput(engine="transformers", labels=["lung-opacity"], deliberate_errors=[])
    for arm in ("LABELS_ONLY", "FULL_REASONING"):
        assert ai_errors(output, NORMAL_ROW, arm, blank=blank) == expected


def test_the_audit_files_a_false_label_on_a_normal_case_under_that_label_never_under_no_finding(demo_case_set, reader):
    for blank, errors, flagged in ((BlankTruth.NEGATIVE, 1, 1), (BlankTruth.UNKNOWN, 0, 0)):
        # Annotated before they are read, in any order: the enforced order is tested in test_reading_order.py.
        study, assignments = open_study_with_assignments(demo_case_set, reader, blank_truth=blank, free_order=True)
        for arm in ("LABELS_ONLY", "FULL_REASONING"):
            case = assignments[arm].case
            set_truth(case, NORMAL_ROW)
            ModelOutput.objects.filter(pk=study.output_pins.get(case=case).output_id).update(
                labels=["lung-opacity"], deliberate_errors=[]
            )
            annotate(assignments[arm], "lung-opacity", "false_finding", True, target="label")
        for assignment in assignments.values():
            read(assignment, findings=["no-finding"])
        data = load(study)
        audit = error_audit_section(data)
        assert [
            (row["arm"], row["errors"], row["flagged"], row["unmatched_annotations"]) for row in audit["per_arm"]
        ] == [("LABELS_ONLY", errors, flagged, 1 - flagged), ("FULL_REASONING", errors, flagged, 1 - flagged)]
        shown = {
            error
            for arm in ("LABELS_ONLY", "FULL_REASONING")
            for error in ai_errors(
                data.outputs[assignments[arm].case_id], data.truths[assignments[arm].case_id], arm, blank=blank
            )
        }
        assert all(error.label != "no-finding" for error in shown)
        assert audit["by_case_type"]["normal"][0]["errors"] == errors
        assert analyse(data).result["provenance"]["scoring"] == {"blank_truth": blank, "no_finding": "derived"}


def test_an_annotation_matches_an_error_only_with_its_label_and_category():
    errors = ai_errors(hand_built_output(), TRUTH, "FULL_REASONING", blank="negative")
    annotations = [
        Annotation("pneumothorax", "false_finding", True),  # flags the false label
        Annotation("pneumothorax", "false_finding", False),  # the same error again: counted once
        Annotation("cardiomegaly", "false_finding", True),  # right label, wrong category
        Annotation(None, "faulty_reasoning", False),
    ]  # names no label
    audit = audit_read("FULL_REASONING", "abnormal", errors, annotations)
    assert audit.flagged == {AIError("pneumothorax", "false_finding")}
    assert audit.unmatched == annotations[2:]


def events(active_ms):
    page = str(uuid.uuid4())
    times = [("page_shown", 0), ("image_rendered", 100), ("input", 100 + active_ms / 2), ("submit", 100 + active_ms)]
    return [
        {"uuid": str(uuid.uuid4()), "page_load_id": page, "type": kind, "client_ms": float(ms), "payload": {}}
        for kind, ms in times
    ]


def read(assignment, findings=("pleural-effusion",), active_ms=5_000, **report):
    ratings = {q.key: 3 for q in questions_for(assignment)}
    report.setdefault("report_findings", "Read for the analysis tests.")
    return submit_read(
        assignment, uuid.uuid4(), Report(findings=list(findings), ratings=ratings, **report), events(active_ms)
    )[0]


def annotate(assignment, label, category, significant, target="output"):
    record_events(
        assignment,
        [
            {
                "uuid": str(uuid.uuid4()),
                "page_load_id": str(uuid.uuid4()),
                "type": "image_rendered",
                "client_ms": 1.0,
                "payload": {},
            }
        ],
    )
    create_annotation(
        assignment,
        {
            "id": uuid.uuid4(),
            "target": target,
            "label": label,
            "category": category,
            "clinically_significant": significant,
            "comment": "",
            "turn": None,
            "start": None,
            "end": None,
            "step": None,
        },
    )


def set_truth(case, truth):
    """Test set-up: the case's ground truth as if its labels file had said so (rows written in bulk, as the
    ingest writes them; the model refuses one-by-one edits once a study reads the case)."""
    GroundTruth.objects.filter(case=case).delete()
    GroundTruth.objects.bulk_create(
        GroundTruth(case=case, label=Label.objects.get(vocabulary="chexpert", slug=slug), value=value)
        for slug, value in truth.items()
    )
    case.refresh_normality()


@pytest.fixture
def one_reader_study(demo_case_set, reader):
    # Annotated before they are read, in any order: the enforced order is tested in test_reading_order.py.
    return open_study_with_assignments(demo_case_set, reader, free_order=True)


def test_the_audit_counts_flagged_errors_unmatched_annotations_and_categories_per_arm(one_reader_study):
    study, assignments = one_reader_study
    for arm in ("LABELS_ONLY", "FULL_REASONING"):
        case = assignments[arm].case
        set_truth(case, TRUTH)
        output = study.output_pins.get(case=case).output
        ModelOutput.objects.filter(pk=output.pk).update(
            labels=hand_built_output().labels, deliberate_errors=hand_built_output().deliberate_errors
        )
    labels_only, full = assignments[Arm.LABELS_ONLY], assignments[Arm.FULL_REASONING]
    annotate(labels_only, "pneumothorax", "false_finding", True, target="label")
    annotate(labels_only, "edema", "missed_finding", False)  # edema is negative: nothing was missed
    annotate(full, "cardiomegaly", "missed_finding", True)
    annotate(full, "pleural-effusion", "wrong_location", False)
    annotate(full, None, "faulty_reasoning", True)
    for assignment in assignments.values():
        read(assignment)

    audit = error_audit_section(load(study))
    summary = {row["arm"]: row for row in audit["per_arm"]}
    assert [
        (
            row["arm"],
            row["reads"],
            row["errors"],
            row["flagged"],
            row["flagged_share"],
            row["annotations"],
            row["unmatched_annotations"],
        )
        for row in audit["per_arm"]
    ] == [("LABELS_ONLY", 1, 2, 1, 0.5, 2, 1), ("FULL_REASONING", 1, 3, 2, 2 / 3, 3, 1)]
    assert summary["FULL_REASONING"]["by_kind"] == {
        "false_finding": {"errors": 1, "flagged": 0, "share": 0.0},
        "missed_finding": {"errors": 1, "flagged": 1, "share": 1.0},
        "wrong_location": {"errors": 1, "flagged": 1, "share": 1.0},
    }
    assert summary["LABELS_ONLY"]["by_kind"]["wrong_location"] == {"errors": 0, "flagged": 0, "share": None}
    assert {key: value for key, value in summary["FULL_REASONING"]["by_category"].items() if any(value.values())} == {
        "missed_finding": {"significant": 1, "not_significant": 0},
        "wrong_location": {"significant": 0, "not_significant": 1},
        "faulty_reasoning": {"significant": 1, "not_significant": 0},
    }
    assert audit["by_case_type"]["abnormal"][1]["flagged"] == 2 and audit["by_case_type"]["normal"][1]["reads"] == 0


# --- small or incomplete studies -------------------------------------------------------------------------------


def test_a_study_without_reads_is_not_estimable_everywhere_and_still_reports(one_reader_study):
    study, _ = one_reader_study
    analysis = analyse(load(study))
    result = analysis.result
    assert result["reads"] == {
        "submitted": 0,
        "analysed": 0,
        "readers": 0,
        "cases": 0,
        "excluded": {"practice": 0, "problem_flagged": 0, "zero_active_time": 0},
    }
    assert [row["n"] for row in result["time"]["per_arm"]] == [0, 0, 0]
    assert result["time"]["model"]["reason"] == "no reads in the reference arm (Unaided)"
    assert result["accuracy"] == {"estimable": False, "reason": "no case has ground truth", "cases_without_truth": 0}
    assert result["ratings"][0]["model"]["reason"] == "no reads in the reference arm (Unaided)"
    assert result["ratings"][3]["model"]["reason"] == "asked in one arm only, so there is no arm to compare"
    assert analysis.plots == [] and result["plots"] == []
    assert "Model not estimable: no reads in the reference arm (Unaided)." in analysis.html


def test_one_reader_excluded_reads_and_missing_ground_truth_are_reported(one_reader_study, demo_case_set, reader):
    study, assignments = one_reader_study
    extra = list(demo_case_set.ordered_cases())[3:6]
    session = assignments[Arm.UNAIDED].session
    practice, flagged, instant = [
        Assignment.objects.create(
            study=study, reader=reader, case=case, arm=Arm.UNAIDED, session=session, position=4 + i, is_practice=i == 0
        )
        for i, case in enumerate(extra)
    ]
    for assignment in assignments.values():
        read(assignment)
    read(practice)
    read(flagged, problem_flagged=True, problem_reason="Image cut off.")
    read(instant, active_ms=0)
    GroundTruth.objects.all().delete()

    result = analyse(load(study)).result
    assert result["reads"]["excluded"] == {"practice": 1, "problem_flagged": 1, "zero_active_time": 1}
    assert (result["reads"]["submitted"], result["reads"]["analysed"]) == (6, 3)
    assert result["time"]["model"]["reason"] == "needs reads from at least 2 readers (has 1)"
    assert result["accuracy"] == {"estimable": False, "reason": "no case has ground truth", "cases_without_truth": 3}
    assert result["ai"] == {"estimable": False, "reason": "no case has ground truth"}


def test_a_study_without_ai_arms_has_no_error_audit(demo_case_set, reader):
    study, assignments = open_study_with_assignments(demo_case_set, reader, arms=[Arm.UNAIDED])
    read(assignments[Arm.UNAIDED])
    result = analyse(load(study)).result
    assert result["error_audit"] == {"estimable": False, "reason": "the study has no AI arm"}
    assert result["ai"] == {"estimable": False, "reason": "no AI output is pinned to this study"}
    assert [question["key"] for question in result["ratings"]] == ["confidence"]


# --- the cache -------------------------------------------------------------------------------------------------


def test_the_analysis_is_recomputed_when_reads_change_and_only_then(
    one_reader_study, django_capture_on_commit_callbacks
):
    study, assignments = one_reader_study
    with django_capture_on_commit_callbacks() as sent:
        read(assignments[Arm.UNAIDED])
        read(assignments[Arm.LABELS_ONLY])
    # A burst of submits sends one computation (each submit also discards its reader's image copies).
    assert [callback.__qualname__ for callback in sent].count("request_analysis.<locals>.<lambda>") == 1
    assert compute_requested(study.pk) == "computed"
    first = StudyAnalysis.objects.get(study=study)
    assert first.is_current and first.result["reads"]["analysed"] == 2
    assert [plot.name for plot in first.plots.all()] == expected_plots(first.result)
    assert compute_requested(study.pk) == "current"

    request_analysis(study.pk, force=True)  # nothing changed: same data hash, nothing recomputed
    assert compute_requested(study.pk) == "current"
    again = StudyAnalysis.objects.get(study=study)
    assert (again.computed_at, again.data_hash, again.is_current) == (first.computed_at, first.data_hash, True)

    read(assignments[Arm.FULL_REASONING])
    assert not StudyAnalysis.objects.get(study=study).is_current
    assert compute_requested(study.pk) == "computed"
    latest = StudyAnalysis.objects.get(study=study)
    assert latest.result["reads"]["analysed"] == 3 and latest.data_hash != first.data_hash


def test_a_failed_computation_is_recorded_ends_and_keeps_the_last_good_result(
    one_reader_study, monkeypatch, tmp_path, client, coordinator
):
    study, assignments = one_reader_study
    study.coordinators.add(coordinator)
    read(assignments[Arm.UNAIDED])
    assert compute_requested(study.pk) == "computed"
    read(assignments[Arm.LABELS_ONLY])
    # An unexpected fault inside the analysis is shown to the coordinator, and the task ends.
    monkeypatch.setattr(
        "readerstudy.analysis.refresh.analyse", lambda data: (_ for _ in ()).throw(ValueError("bad data"))
    )
    assert compute_requested(study.pk) == "current"
    analysis = StudyAnalysis.objects.get(study=study)
    assert (analysis.error, analysis.result["reads"]["analysed"], analysis.is_current) == (
        "ValueError: bad data",
        1,
        False,
    )
    assert analysis.computed_version == analysis.requested_version and analysis.lease_token is None
    client.force_login(coordinator)
    page = client.get(reverse("study-analysis", args=[study.pk])).content.decode()
    assert (
        "The last computation failed: ValueError: bad data The analysis below is the last one that succeeded, "
        "of older data."
    ) in page
    assert (
        "The last computation failed; these numbers are of older data."
        in client.get(reverse("study-detail", args=[study.pk])).content.decode()
    )

    refused = r"^The analysis failed: ValueError: bad data\. The data files are written; the analysis files are not\.$"
    with pytest.raises(CommandError, match=refused):
        call_command("export_study", str(study.pk), "--out", str(tmp_path))
    assert (tmp_path / "reads.csv").exists() and not (tmp_path / "analysis.json").exists()
    assert study.audit_entries.get().detail.startswith("export_study wrote reads.csv")


def test_truth_values_other_than_positive_and_negative_leave_a_case_unscored(one_reader_study):
    study, assignments = one_reader_study
    set_truth(assignments[Arm.UNAIDED].case, {"edema": TruthValue.UNCERTAIN})
    for assignment in assignments.values():
        read(assignment)
    result = analyse(load(study)).result
    assert result["accuracy"]["cases_without_truth"] == 1
    assert [row["n"] for row in result["accuracy"]["per_arm"]] == [0, 1, 1]


def test_the_sweep_resends_what_a_lost_message_left_and_starts_studies_never_analysed(
    one_reader_study, django_capture_on_commit_callbacks
):
    study, assignments = one_reader_study
    read(assignments[Arm.UNAIDED])
    StudyAnalysis.objects.filter(study=study).delete()  # reads from before the analysis existed
    with django_capture_on_commit_callbacks() as sent:
        assert sweep() == 0
    assert len(sent) == 1 and StudyAnalysis.objects.get(study=study).requested_version == 1

    with django_capture_on_commit_callbacks() as sent:
        assert sweep() == 0  # sent a moment ago: not yet lost
    assert sent == []
    StudyAnalysis.objects.filter(study=study).update(queued_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks() as sent:
        assert sweep() == 1
    assert len(sent) == 1
    assert compute_requested(study.pk) == "computed" and StudyAnalysis.objects.get(study=study).is_current
