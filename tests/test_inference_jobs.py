"""Inference jobs in-process: claim and lease, storing exactly one output, retries, failures, reconcile."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from inference import jobs, runner
from inference.engine_registry import generation_params, get_engine
from inference.models import InferenceJob, JobStatus, ModelConfiguration, ModelOutput
from inference.runner import execute_job
from inference.trace_format import REGION_SLUGS

pytestmark = pytest.mark.django_db


@pytest.fixture
def simulated(db):
    return ModelConfiguration.objects.get(name="Simulated NV-Reason-CXR")


@pytest.fixture
def run(demo_case_set, simulated, django_capture_on_commit_callbacks):
    # The enqueue callbacks are captured, not run: these tests call the runner themselves.
    with django_capture_on_commit_callbacks(execute=False):
        return jobs.create_run(demo_case_set, simulated)


def test_a_run_has_one_queued_job_per_case_in_case_set_order(run, demo_case_set):
    job_cases = list(run.jobs.order_by("id").values_list("case_id", flat=True))
    assert job_cases == list(demo_case_set.ordered_cases().values_list("id", flat=True))
    assert set(run.jobs.values_list("status", flat=True)) == {JobStatus.QUEUED}


def test_simulated_job_stores_parsed_output_with_provenance(run):
    job = run.jobs.first()
    assert execute_job(job.pk).status == JobStatus.SUCCEEDED
    job.refresh_from_db()
    output = job.output
    assert (job.status, job.attempts, job.lease_token) == (JobStatus.SUCCEEDED, 1, None)
    assert [turn["prompt"] for turn in output.turns] == [
        "Find abnormalities and support devices.",
        "Write a structured report",
    ]
    assert [turn["kind"] for turn in output.turns] == ["findings", "report"]
    first = output.turns[0]["text"]
    assert first.lstrip().startswith("<think>") and first.rstrip().endswith("</answer>")
    assert output.steps and all(first[s["start"] : s["end"]].strip() for s in output.steps)
    regions = [s["region"] for s in output.steps]
    assert regions == sorted(regions, key=REGION_SLUGS.index)
    assert (output.engine, output.model_id, output.revision, output.is_simulated) == (
        "simulated",
        "simulated/nv-reason-cxr",
        "sim-1",
        True,
    )
    assert output.generation == {"max_new_tokens": 2048, "do_sample": False}
    assert output.image == job.case.images.get(index=0)
    assert job.tokens_out == sum(t["tokens_out"] for t in output.turns) > 0


def test_simulated_labels_follow_the_truth_unless_an_error_was_recorded(run):
    for job in run.jobs.all():
        execute_job(job.pk)
    for output in ModelOutput.objects.filter(job__run=run):
        truth = output.case.truth_by_slug()
        positive = {slug for slug, value in truth.items() if value == "positive"}
        uncertain = {slug for slug, value in truth.items() if value == "uncertain"}  # answered half the time
        changed = {e["label"] for e in output.deliberate_errors if e["kind"] in ("missed_finding", "false_finding")}
        assert set(output.labels) ^ positive <= changed | uncertain | {"no-finding"}


def test_a_live_lease_keeps_a_second_worker_out_and_an_expired_one_lets_it_in(run):
    job = run.jobs.first()
    first = jobs.claim(job.pk)
    second = jobs.claim(job.pk)
    assert (first.state, second.state) == ("claimed", "busy")
    assert 0 < second.retry_in <= 1800 + 1
    InferenceJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    third = jobs.claim(job.pk)
    assert third.state == "claimed"
    assert InferenceJob.objects.get(pk=job.pk).attempts == 2


def test_a_worker_that_lost_its_lease_does_not_store_a_second_output(run):
    job = run.jobs.first()
    stale = jobs.claim(job.pk)
    InferenceJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert execute_job(job.pk).status == JobStatus.SUCCEEDED  # a second worker takes over and finishes
    # The first worker comes back from the dead and tries to store its own result.
    engine, _ = get_engine(job.configuration)
    image_row, image = runner.model_image(job.case)
    result = engine.converse(
        image,
        job.configuration.conversation(),
        generation_params(job.configuration),
        case=runner.case_context(job.case),
    )
    assert runner.store_output(stale.job, stale.token, engine, 0.0, image_row, result) == JobStatus.SUCCEEDED
    assert ModelOutput.objects.filter(job=job).count() == 1


def test_a_finished_job_is_not_run_again_by_a_duplicate_message(run):
    job = run.jobs.first()
    execute_job(job.pk)
    assert execute_job(job.pk).status == "final"
    assert InferenceJob.objects.get(pk=job.pk).attempts == 1


def test_an_undecodable_image_fails_the_job_at_once_with_the_reason(run, dicom_store):
    job = run.jobs.first()
    image = job.case.images.get(index=0)
    (dicom_store / image.stored_path).write_bytes(b"not a dicom file any more")
    assert execute_job(job.pk).status == JobStatus.FAILED
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.FAILED, 1)
    assert job.error.startswith("ImageUnusable: cannot prepare the image")
    assert not ModelOutput.objects.filter(job=job).exists()


def test_reconcile_re_enqueues_expired_leases_and_never_sent_jobs_only(run, django_capture_on_commit_callbacks):
    first, second, third = run.jobs.order_by("id")[:3]
    jobs.claim(first.pk)
    InferenceJob.objects.filter(pk=first.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    jobs.claim(second.pk)  # live lease: not stranded
    InferenceJob.objects.filter(pk=third.pk).update(queued_at=timezone.now() - timedelta(minutes=5))
    InferenceJob.objects.exclude(pk__in=[first.pk, second.pk, third.pk]).update(enqueued_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert sorted(jobs.reconcile()) == sorted([first.pk, third.pk])
    assert len(callbacks) == 1


def test_retry_puts_failed_jobs_back_in_the_queue(run, dicom_store, django_capture_on_commit_callbacks):
    job = run.jobs.first()
    (dicom_store / job.case.images.get(index=0).stored_path).write_bytes(b"broken")
    execute_job(job.pk)
    with django_capture_on_commit_callbacks(execute=False):
        assert jobs.retry_jobs(InferenceJob.objects.filter(run=run)) == 1
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == (JobStatus.QUEUED, 0, "")


@pytest.mark.parametrize(
    ("reply", "status", "parse_status"),
    [
        ("Please provide a frontal chest X-ray image.", JobStatus.REFUSED, "refused"),
        ("<think>\nImage quality: adequate.\n\nHeart: the cardiac silhou", JobStatus.TRUNCATED, "truncated"),
        ("I am not sure what this is.", JobStatus.FAILED, "malformed"),
    ],
)
def test_refused_truncated_and_malformed_outputs_are_kept_with_their_status(served_run, reply, status, parse_status):
    run, server = served_run
    server.replies = [reply, "a report"]
    job = run.jobs.first()
    assert execute_job(job.pk).status == status
    job.refresh_from_db()
    assert job.status == status
    assert (job.output.parse_status, job.output.turns[0]["text"]) == (parse_status, reply)


def test_a_server_error_is_retried_later_and_a_bad_request_fails_with_the_reason(served_run, settings):
    run, server = served_run
    first, second = run.jobs.order_by("id")[:2]
    server.failures = [500, 500]
    outcome = execute_job(first.pk)
    first.refresh_from_db()
    assert (outcome.retry_in, first.status, first.attempts) == (settings.INFERENCE_RETRY_BACKOFF_S, JobStatus.QUEUED, 1)
    assert "server answered 500" in first.error
    assert execute_job(first.pk).status == JobStatus.SUCCEEDED

    server.failures = [400]
    assert execute_job(second.pk).status == JobStatus.FAILED
    second.refresh_from_db()
    assert second.error.startswith("PermanentEngineError: server answered 400")


def test_transient_errors_give_up_after_the_last_attempt(served_run, settings):
    run, server = served_run
    settings.INFERENCE_MAX_ATTEMPTS = 2
    job = run.jobs.first()
    server.failures = [503] * 4
    assert execute_job(job.pk).retry_in is not None
    outcome = execute_job(job.pk)
    job.refresh_from_db()
    assert (outcome.retry_in, job.status) == (None, JobStatus.FAILED)
    assert job.error.startswith("gave up after 2 attempts")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_whose_lease_was_taken_over_between_turns_stops_and_stores_nothing(served_run):
    """Between turns the runner renews the lease; if reconcile gave the job to another worker meanwhile (the
    first turn outlasted the lease), the first worker stops there instead of generating on."""
    run, server = served_run
    job = run.jobs.first()
    taken_over = []

    def second_worker_takes_over(completion):
        if completion == 0:  # while the first turn is generated
            try:
                InferenceJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
                taken_over.append(jobs.claim(job.pk))
            finally:
                connection.close()  # the server's request thread has its own connection

    server.while_generating = second_worker_takes_over
    outcome = execute_job(job.pk)
    job.refresh_from_db()
    assert [claim.state for claim in taken_over] == ["claimed"] and outcome.status == "lost"
    assert (job.status, job.attempts, job.lease_token) == (JobStatus.RUNNING, 2, taken_over[0].token)
    assert len(server.completions) == 1  # the report turn was never asked for
    assert not ModelOutput.objects.filter(job=job).exists()
