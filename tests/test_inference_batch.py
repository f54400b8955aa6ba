"""A worker step takes up to INFERENCE_BATCH_SIZE queued jobs of one configuration: each keeps its own lease,
status and output, and one job's failure is that job's alone."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inference import engine_registry, jobs
from inference.models import InferenceJob, JobStatus, ModelConfiguration, ModelOutput
from inference.runner import execute_job
from readerstudy.celery import app
from tests.celery_worker import purge_queues

pytestmark = pytest.mark.django_db


@pytest.fixture
def simulated(db):
    return ModelConfiguration.objects.get(name="Simulated NV-Reason-CXR")


@pytest.fixture
def run(demo_case_set, simulated, django_capture_on_commit_callbacks, settings):
    settings.INFERENCE_BATCH_SIZE = 4
    # The enqueue callbacks are captured, not run: these tests call the runner themselves.
    with django_capture_on_commit_callbacks(execute=False):
        return jobs.create_run(demo_case_set, simulated)


def statuses(run):
    return list(run.jobs.order_by("id").values_list("status", flat=True))


def test_one_step_runs_its_job_and_the_three_oldest_queued_jobs_of_its_configuration(run):
    ids = list(run.jobs.order_by("id").values_list("pk", flat=True))
    assert execute_job(ids[2]).status == JobStatus.SUCCEEDED
    assert statuses(run) == [JobStatus.SUCCEEDED] * 4 + [JobStatus.QUEUED] * 2
    done = InferenceJob.objects.filter(pk__in=[ids[0], ids[1], ids[2], ids[3]])
    assert list(done.values_list("attempts", "lease_token")) == [(1, None)] * 4
    assert ModelOutput.objects.filter(job__in=done).count() == 4
    # Their own messages arrive later and find them finished.
    assert [execute_job(pk).status for pk in ids[:4]] == ["final"] * 4


def test_the_model_load_time_goes_on_the_job_that_waited_for_it_only(run, monkeypatch):
    monkeypatch.setattr(engine_registry, "_loaded", {})  # this process has loaded no model yet
    first, *others = run.jobs.order_by("id")[:4]
    execute_job(first.pk)
    first.refresh_from_db()
    assert first.model_load_s > 0
    assert [job.model_load_s for job in InferenceJob.objects.filter(pk__in=[o.pk for o in others])] == [None] * 3


def test_jobs_of_another_configuration_and_jobs_another_worker_holds_are_left_alone(run, demo_case_set, settings):
    other = ModelConfiguration.objects.create(name="other", engine="simulated", model_id="simulated/other")
    with_other = jobs.create_run(demo_case_set, other, send=False)
    first, held, *rest = run.jobs.order_by("id")
    assert jobs.claim(held.pk).state == "claimed"  # another worker's live lease
    execute_job(first.pk)
    assert statuses(run) == [JobStatus.SUCCEEDED, JobStatus.RUNNING] + [JobStatus.SUCCEEDED] * 3 + [JobStatus.QUEUED]
    assert set(statuses(with_other)) == {JobStatus.QUEUED}


def test_a_job_whose_lease_ran_out_is_not_taken_as_a_companion(run):
    first, stranded, *rest = run.jobs.order_by("id")
    jobs.claim(stranded.pk)
    InferenceJob.objects.filter(pk=stranded.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    execute_job(first.pk)
    # Only queued jobs are companions: a stranded one is reconcile's, and its message claims it.
    assert statuses(run)[:2] == [JobStatus.SUCCEEDED, JobStatus.RUNNING]


def test_an_undecodable_image_fails_its_job_only(run, dicom_store):
    first, broken, *rest = run.jobs.order_by("id")
    (dicom_store / broken.case.images.get(index=0).stored_path).write_bytes(b"not a dicom file any more")
    assert execute_job(first.pk).status == JobStatus.SUCCEEDED
    broken.refresh_from_db()
    assert (broken.status, broken.attempts) == (JobStatus.FAILED, 1)
    assert broken.error.startswith("ImageUnusable: cannot prepare the image")
    assert (
        statuses(run)
        == [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.SUCCEEDED, JobStatus.SUCCEEDED] + [JobStatus.QUEUED] * 2
    )


def gpu_messages():
    with app.connection_for_write() as conn:
        return conn.default_channel.client.llen("gpu")


def test_a_companion_s_transient_error_sends_it_a_message_of_its_own(served_run, settings):
    run, server = served_run
    settings.INFERENCE_BATCH_SIZE = 2
    lead, companion = run.jobs.order_by("id")[:2]
    purge_queues()
    server.failures = [503] * 4  # both attempts of both cases
    outcome = execute_job(lead.pk)
    assert outcome.retry_in == settings.INFERENCE_RETRY_BACKOFF_S  # the lead's task retries itself
    assert gpu_messages() == 1  # the companion's new message
    companion.refresh_from_db()
    assert (companion.status, companion.attempts, companion.enqueued_at is not None) == (JobStatus.QUEUED, 1, True)
    assert "server answered 503" in companion.error
    purge_queues()
