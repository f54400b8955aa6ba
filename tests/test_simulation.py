"""Dry runs: simulate_reads fills every session of a dry-run study through the reading services."""

import csv
import io
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from inference.models import ModelOutput
from readerstudy.analysis.dataset import load
from readerstudy.models import AI_ARMS, Assignment, Read, Study, TimingEvent, TraceAnnotation
from readerstudy.reading.ai_errors import AIError, ai_errors
from readerstudy.reading.simulation import SimulationRefused, SimulationSettings, simulate_reads
from readerstudy.studies.enrolment import add_readers
from readerstudy.studies.lifecycle import open_study
from tests.factories import UserFactory
from tests.reading_setup import run_and_pin

pytestmark = pytest.mark.django_db


def dry_run(case_set, readers, coordinator, washout_days=28, **fields):
    study = Study.objects.create(
        title="Dry run", case_set=case_set, is_dry_run=True, washout_days=washout_days, randomisation_seed=11, **fields
    )
    study.coordinators.add(coordinator)
    add_readers(study, readers)
    run_and_pin(study)
    return open_study(study, coordinator)


def test_every_session_fills_with_simulated_reads_spaced_by_the_washout(demo_case_set, coordinator, client):
    readers = [UserFactory(roles=["reader"]) for _ in range(2)]
    study = dry_run(demo_case_set, readers, coordinator)
    assert simulate_reads(study, SimulationSettings(seed=3)) == 36
    reads = Read.objects.filter(assignment__study=study)
    assert reads.filter(submitted_at__isnull=False, is_simulated=True).count() == 36
    assert not Assignment.objects.filter(study=study).exclude(status="submitted").exists()
    for reader in readers:
        last_of_one = reads.filter(assignment__reader=reader, assignment__session__index=1).latest("submitted_at")
        first_of_two = reads.filter(assignment__reader=reader, assignment__session__index=2).earliest("submitted_at")
        assert (first_of_two.submitted_at - last_of_one.submitted_at).days >= 28
    assert all(r.active_ms > 0 and r.total_ms == r.active_ms for r in reads)
    assert TimingEvent.objects.filter(assignment__study=study, type="submit").count() == 36
    assert set(
        TraceAnnotation.objects.filter(read__assignment__study=study).values_list("read__assignment__arm", flat=True)
    ) <= set(AI_ARMS)
    assert simulate_reads(study) == 0

    client.force_login(coordinator)
    response = client.get(reverse("study-export", args=[study.pk, "reads", "csv"]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 36 and {row["simulated"] for row in rows} == {"yes"}


def test_the_same_seed_gives_the_same_times(demo_case_set, coordinator):
    times = []
    for _ in range(2):
        study = dry_run(demo_case_set, [UserFactory(roles=["reader"])], coordinator)
        simulate_reads(study, SimulationSettings(seed=9))
        times.append(sorted(Read.objects.filter(assignment__study=study).values_list("active_ms", flat=True)))
    assert times[0] == times[1]


def test_only_open_dry_run_studies_take_simulated_reads(demo_case_set, coordinator, reader):
    real = Study.objects.create(title="Real", case_set=demo_case_set)
    with pytest.raises(SimulationRefused, match="^Only dry-run studies take simulated reads.$"):
        simulate_reads(real)
    draft = Study.objects.create(title="Draft dry run", case_set=demo_case_set, is_dry_run=True)
    with pytest.raises(SimulationRefused, match="^Open the dry-run study first.$"):
        simulate_reads(draft)
    with pytest.raises(CommandError, match="^--arm-effect: unknown arm 'FAST'"):
        call_command("simulate_reads", "Draft dry run", "--arm-effect", "FAST=0.5")


def test_six_readers_thirty_cases_three_arms_export_540_reads_matching_the_design(tmp_path, dicom_store, coordinator):
    from tests.conftest import import_as_demo
    from tooling.synthetic.cases import make_synthetic_cases

    make_synthetic_cases(tmp_path / "cases", count=30, seed=4, size=(96, 120))
    case_set = import_as_demo(tmp_path / "cases")
    readers = [UserFactory(roles=["reader"]) for _ in range(6)]
    study = dry_run(case_set, readers, coordinator, washout_days=14)
    call_command("simulate_reads", str(study.pk), "--seed", "5", "--arm-effect", "FULL_REASONING=0.7")
    call_command("export_study", str(study.pk), "--out", str(tmp_path / "export"))

    rows = list(csv.DictReader((tmp_path / "export" / "reads.csv").open(encoding="utf-8")))
    assert len(rows) == 540
    designed = Counter(
        (a.reader_id, a.arm, a.session.index) for a in Assignment.objects.filter(study=study).select_related("session")
    )
    codes = {e.user_id: e.reader_code for e in study.readers.all()}
    arm_names = {"UNAIDED": "Unaided", "LABELS_ONLY": "AI labels only", "FULL_REASONING": "Full AI reasoning"}
    assert Counter((row["reader"], row["arm"], int(row["session"])) for row in rows) == Counter(
        {(codes[reader], arm_names[arm], session): n for (reader, arm, session), n in designed.items()}
    )
    # williams-1: on the same case each arm follows each other arm equally often (6 × 30 × 2 transitions).
    assert {(row["design"], row["blank_truth"]) for row in rows} == {("williams-1", "negative")}
    assert Counter(row["previous_arm"] for row in rows if row["session"] == "1") == {"": 180}
    assert Counter((row["previous_arm"], row["arm"]) for row in rows if row["session"] != "1") == {
        (a, b): 60 for a in arm_names.values() for b in arm_names.values() if a != b
    }
    # The AI's errors on these cases are findings of real labels, never No Finding. The simulated engine draws
    # its errors from the cases' random public ids, so one false label on a normal case is planted.
    normal = Assignment.objects.filter(study=study, case__is_abnormal=False).values_list("case_id", flat=True)[0]
    ModelOutput.objects.filter(pk=study.output_pins.get(case_id=normal).output_id).update(labels=["lung-opacity"])
    data = load(study)
    shown = [
        error
        for case_id, output in data.outputs.items()
        for arm in AI_ARMS
        for error in ai_errors(output, data.truths[case_id], arm, blank=data.blank)
    ]
    assert AIError("lung-opacity", "false_finding") in shown
    assert all(error.label != "no-finding" for error in shown)
    events = list(csv.DictReader((tmp_path / "export" / "timing_events.csv").open(encoding="utf-8")))
    assert Counter(e["type"] for e in events)["submit"] == 540
    annotations = list(csv.DictReader((tmp_path / "export" / "annotations.csv").open(encoding="utf-8")))
    assert annotations and {a["arm"] for a in annotations} <= {"AI labels only", "Full AI reasoning"}
