"""Coordinator pages for model runs: access per role, starting a run, progress, retry, pinning, exports."""

import csv
import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from inference import jobs
from inference.models import InferenceJob, InferenceRun, JobStatus, ModelConfiguration, StudyOutputPin
from inference.runner import execute_job
from readerstudy.models import Study
from readerstudy.reading.ai_content import ai_content
from readerstudy.studies.pinning import PinRefused, pin_run
from tests.factories import AssignmentFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished_run(demo_case_set, django_capture_on_commit_callbacks):
    configuration = ModelConfiguration.objects.get(name="Simulated NV-Reason-CXR")
    with django_capture_on_commit_callbacks(execute=False):
        run = jobs.create_run(demo_case_set, configuration)
    for job in run.jobs.all():
        execute_job(job.pk)
    return run


@pytest.mark.parametrize(("roles", "expected"), [(["reader"], 403), (["coordinator"], 200), (["admin"], 200)])
def test_run_pages_are_for_coordinators(client, finished_run, roles, expected):
    client.force_login(UserFactory(roles=roles))
    for url in [
        reverse("inference:runs"),
        reverse("inference:run", args=[finished_run.pk]),
        reverse("inference:run-progress", args=[finished_run.pk]),
        reverse("inference:run-metrics-json", args=[finished_run.pk]),
        reverse("inference:run-metrics-csv", args=[finished_run.pk]),
    ]:
        assert client.get(url).status_code == expected, url


def test_readers_cannot_retry_or_pin(client, finished_run):
    client.force_login(UserFactory(roles=["reader"]))
    assert client.post(reverse("inference:run-retry", args=[finished_run.pk])).status_code == 403
    assert client.post(reverse("inference:run-pin", args=[finished_run.pk])).status_code == 403


def test_starting_a_run_queues_one_job_per_case(client, coordinator, demo_case_set, django_capture_on_commit_callbacks):
    client.force_login(coordinator)
    configuration = ModelConfiguration.objects.get(name="Simulated NV-Reason-CXR")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("inference:runs"), {"case_set": demo_case_set.pk, "configuration": configuration.pk}
        )
    run = InferenceRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("inference:run", args=[run.pk])
    assert run.jobs.count() == 6 and len(callbacks) == 1


def test_progress_shows_counts_and_the_simulated_banner(client, coordinator, finished_run):
    client.force_login(coordinator)
    page = client.get(reverse("inference:run", args=[finished_run.pk])).content.decode()
    assert 'data-testid="simulated-banner"' in page
    assert '<td data-testid="count-succeeded">6</td>' in page
    progress = client.get(reverse("inference:run-progress", args=[finished_run.pk])).json()
    assert (progress["total"], progress["finished"], progress["is_complete"]) == (6, 6, True)
    assert progress["counts"]["succeeded"] == 6 and progress["eta_seconds"] == 0


def test_metrics_export_as_json_and_csv(client, coordinator, finished_run):
    client.force_login(coordinator)
    data = json.loads(client.get(reverse("inference:run-metrics-json", args=[finished_run.pk])).content)
    assert 0 <= data["mean_jaccard"] <= 1
    # A run belongs to no study: blank ground truth scores as negative, as a new study's default.
    assert data["blank_scored_as"] == "negative"
    rows = list(
        csv.DictReader(
            io.StringIO(client.get(reverse("inference:run-metrics-csv", args=[finished_run.pk])).content.decode())
        )
    )
    assert [row["label"] for row in rows if row["label"]] == [label["label"] for label in data["per_label"]]
    assert {"metric": "blank_scored_as", "value": "negative"}.items() <= rows[len(data["per_label"])].items()
    page = client.get(reverse("inference:run", args=[finished_run.pk])).content.decode()
    assert "Blank labels score as negative; No Finding is derived from the other labels." in page


def test_pinning_pins_every_succeeded_case_and_refuses_failed_ones(finished_run, dicom_store):
    study = StudyFactory(case_set=finished_run.case_set)
    failed = finished_run.jobs.order_by("id").first()
    InferenceJob.objects.filter(pk=failed.pk).update(status=JobStatus.FAILED)
    report = pin_run(study, finished_run)
    assert report.pinned == 5
    assert report.problems == [(failed.case.public_id, "the output is failed; re-run it or remove the case")]
    assert StudyOutputPin.objects.filter(study=study).count() == 5


def test_full_reasoning_needs_the_report_turn(finished_run):
    study = StudyFactory(case_set=finished_run.case_set, arms=["UNAIDED", "FULL_REASONING"])
    output = finished_run.jobs.first().output
    output.turns = output.turns[:1]
    output.save()
    report = pin_run(study, finished_run)
    assert report.problems == [
        (
            output.case.public_id,
            "the full-reasoning arm shows the structured report, and this output has no report turn",
        )
    ]
    labels_only = StudyFactory(case_set=finished_run.case_set, arms=["UNAIDED", "LABELS_ONLY"])
    assert pin_run(labels_only, finished_run).pinned == 6


def test_a_reworded_report_prompt_still_pins_and_shows_the_report(demo_case_set, reader):
    """The report turn is the one the configuration marks, whatever the prompt says: rewording it (or
    asking for differentials first) changes nothing for pinning or for what the full-reasoning arm shows."""
    configuration = ModelConfiguration.objects.create(
        name="reworded",
        engine="simulated",
        model_id="simulated/reworded",
        follow_up_prompts=["Provide differentials", "Please dictate a structured radiology report."],
        report_follow_up=2,
        options={"error_rate": 0},
    )
    run = jobs.create_run(demo_case_set, configuration, send=False)
    for job in run.jobs.all():
        execute_job(job.pk)
    study = StudyFactory(case_set=demo_case_set, arms=["UNAIDED", "FULL_REASONING"])
    report = pin_run(study, run)
    assert (report.pinned, report.problems) == (6, [])
    output = StudyOutputPin.objects.filter(study=study).first().output
    assert [turn["kind"] for turn in output.turns] == ["findings", "follow_up", "report"]
    assert output.turns[2]["text"].startswith("EXAMINATION: Chest radiograph")
    assignment = AssignmentFactory(study=study, case=output.case, reader=reader, arm="FULL_REASONING")
    assert ai_content(assignment)["report"] == {"turn": 2, "text": output.turns[2]["text"]}


def test_a_configuration_names_an_existing_follow_up_as_its_report():
    configuration = ModelConfiguration(
        name="x", engine="simulated", model_id="m", follow_up_prompts=["Write a structured report"], report_follow_up=2
    )
    with pytest.raises(ValidationError) as refused:
        configuration.clean()
    assert refused.value.message_dict == {
        "report_follow_up": ["There are 1 follow-up prompt(s): give the number of one, or leave it blank."]
    }
    configuration.report_follow_up = None
    configuration.clean()
    assert [prompt.kind for prompt in configuration.conversation()] == ["findings", "follow_up"]


def test_pins_are_frozen_once_the_study_opens(finished_run):
    study = StudyFactory(case_set=finished_run.case_set, status=Study.Status.OPEN)
    with pytest.raises(PinRefused, match="frozen"):
        pin_run(study, finished_run)


def test_pin_view_pins_and_reports(client, coordinator, finished_run):
    study = StudyFactory(case_set=finished_run.case_set, team=[coordinator])
    client.force_login(coordinator)
    response = client.post(reverse("inference:run-pin", args=[finished_run.pk]), {"pin-study": study.pk}, follow=True)
    assert "Pinned 6 output(s)" in response.content.decode()
    assert StudyOutputPin.objects.filter(study=study).count() == 6


def test_the_web_process_never_imports_torch():
    import subprocess
    import sys

    code = (
        "import django, sys; django.setup(); import readerstudy.urls, inference.tasks, readerstudy.views.runs; "
        "from django.test import Client; assert 'torch' not in sys.modules, 'torch imported'; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    assert result.stdout.strip() == "ok", result.stderr
