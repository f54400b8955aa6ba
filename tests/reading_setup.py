"""An open study ready for reading: pinned outputs, one session for a reader, one assignment per arm.

Outputs can carry canary tokens in every turn and in every field a reader must never receive, so blinding
tests can look for them in each response.
"""

from django.utils import timezone

from inference import jobs
from inference.models import ModelConfiguration, ModelOutput
from inference.parsing import parse_output
from inference.runner import execute_job
from readerstudy.models import Arm, Assignment, ReadingSession, Study, StudyReader
from readerstudy.studies.pinning import pin_run

ALL_ARMS = [Arm.UNAIDED, Arm.LABELS_ONLY, Arm.FULL_REASONING]

REASONING_CANARY = "zebracanaryreasoning"
REPORT_CANARY = "zebracanaryreport"
PROVENANCE_CANARY = "zebracanaryprovenance"
ERRORS_CANARY = "zebracanarydeliberate"
SOURCE_CANARY = "zebracanarysource"

CANARY_REASONING = f"""<think>
Image quality: the frontal radiograph is adequately inspired and only slightly rotated toward the right side {REASONING_CANARY}.
Devices: no tube, line or catheter projects over the chest in this frontal radiograph of a seated adult patient.
Right lung: a rounded opacity sits in the right lower zone with an air bronchogram and hazy margins laterally.
Left lung: the left lung is clear and well expanded, and its vascular markings taper normally toward the periphery.
Pleura: a small right pleural effusion blunts the costophrenic angle, and there is no pneumothorax on either side.
Heart: the heart is not enlarged, with a cardiothoracic ratio comfortably below one half on this frontal film.
In summary, right lower zone consolidation with a small effusion, most in keeping with pneumonia in this setting.
</think>
<answer> Consolidation, Pleural Effusion, Pneumonia </answer>"""

CANARY_REPORT = f"""FINDINGS: Right lower zone airspace consolidation with air bronchograms and a small right pleural effusion {REPORT_CANARY}.
The heart size is within normal limits and the left lung remains entirely clear without focal abnormality.
IMPRESSION: Right lower lobe pneumonia with a small parapneumonic effusion; suggest follow-up radiograph after treatment."""


def simulated_configuration():
    return ModelConfiguration.objects.get(name="Simulated NV-Reason-CXR")


def run_and_pin(study):
    """Run the simulated model in-process on the study's case set and pin the outputs (study in draft)."""
    run = jobs.create_run(study.case_set, simulated_configuration(), send=False)
    for job in run.jobs.all():
        execute_job(job.pk)
    report = pin_run(study, run)
    assert not report.problems, report.problems
    return run


def plant_canaries(study):
    """Replace every pinned output of the study with the canary output; mark the cases' source ids too."""
    parsed = parse_output(CANARY_REASONING)
    for pin in study.output_pins.select_related("output", "case"):
        ModelOutput.objects.filter(pk=pin.output_id).update(
            turns=[
                {
                    "prompt": f"Find abnormalities and support devices. {PROVENANCE_CANARY}",
                    "kind": "findings",
                    "text": CANARY_REASONING,
                    "seconds": 1.0,
                    "tokens_in": 10,
                    "tokens_out": 10,
                    "hit_token_limit": False,
                },
                {
                    "prompt": "Write a structured report",
                    "kind": "report",
                    "text": CANARY_REPORT,
                    "seconds": 1.0,
                    "tokens_in": 10,
                    "tokens_out": 10,
                    "hit_token_limit": False,
                },
            ],
            steps=[
                {"index": s.index, "turn": 0, "start": s.start, "end": s.end, "region": s.region} for s in parsed.steps
            ],
            labels=list(parsed.labels),
            deliberate_errors=[{"kind": "false_finding", "label": "pneumonia", "note": ERRORS_CANARY}],
            model_id=f"simulated/{PROVENANCE_CANARY}",
            revision=PROVENANCE_CANARY,
        )
        pin.case.source_id = f"{SOURCE_CANARY}-{pin.case.pk}"
        pin.case.save(update_fields=["source_id"])


def open_study_with_assignments(case_set, reader, arms=ALL_ARMS, canaries=False, team=(), **study_fields):
    """An open study on `case_set`, run by the coordinators in `team`, and, for `reader`, session 1 holding one
    case per arm (in arm order)."""
    study = Study.objects.create(
        title="Reading study",
        case_set=case_set,
        arms=[a.value for a in arms],
        instructions="Read each case as you would in clinical practice.",
        **study_fields,
    )
    study.coordinators.add(*team)
    if set(arms) - {Arm.UNAIDED}:
        run_and_pin(study)
        if canaries:
            plant_canaries(study)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.OPEN, opened_at=timezone.now())
    study.refresh_from_db()
    StudyReader.enrol(study, reader)
    session = ReadingSession.objects.create(study=study, reader=reader, index=1)
    cases = list(case_set.ordered_cases())
    assignments = {
        arm: Assignment.objects.create(
            study=study, reader=reader, case=cases[i], arm=arm, session=session, position=i + 1
        )
        for i, arm in enumerate(arms)
    }
    return study, assignments


def plant_deliberate_errors(study):
    """One recorded deliberate error in every pinned (simulated) output: the simulated engine makes its own
    errors from the cases' random public ids, so a test that needs AI errors plants them."""
    for pin in study.output_pins.select_related("output"):
        ModelOutput.objects.filter(pk=pin.output_id).update(
            deliberate_errors=[{"kind": "missed_finding", "label": "pneumothorax", "region": "right-lung"}]
        )
