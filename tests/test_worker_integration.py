"""A real Celery worker process on the local Redis takes jobs from queued to final in PostgreSQL."""

import time

import pytest
from django.core.management import call_command

from inference import jobs
from inference.models import InferenceJob, JobStatus, ModelConfiguration, ModelOutput, WorkerHeartbeat
from tests.celery_worker import celery_worker, kill_pool_process, purge_queues
from tests.conftest import import_as_demo, write_synthetic_cases

# serialized_rollback: the flush after each test would otherwise wipe the rows seeded by data migrations.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def case_set(worker_data_dir, model_sized_dir):
    return import_as_demo(model_sized_dir)


@pytest.fixture
def slow_configuration(db):
    """Simulated outputs that take a few seconds, so a test can act while a job is running."""
    return ModelConfiguration.objects.create(
        name="slow simulated",
        engine="simulated",
        model_id="simulated/slow",
        options={"error_rate": 0, "seconds_per_turn": 1.5},
    )


def wait_for(condition, timeout=120, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def all_final(run):
    return not InferenceJob.objects.filter(run=run, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists()


def test_run_inference_with_the_tiny_model_brings_every_job_to_a_parsed_final_state(
    case_set, worker_data_dir, tmp_path, tiny_model_dir
):
    with celery_worker(worker_data_dir, tmp_path / "worker.log") as worker:
        call_command(
            "run_inference",
            "--case-set",
            "demo",
            "--engine",
            "transformers",
            "--model",
            str(tiny_model_dir),
            "--wait",
            "--timeout",
            "240",
        )
        log = worker.log()
    run = ModelConfiguration.objects.get(model_id=str(tiny_model_dir)).runs.get()
    statuses = list(run.jobs.values_list("status", flat=True))
    assert len(statuses) == 6 and all_final(run), log
    assert JobStatus.FAILED not in statuses, list(run.jobs.values_list("error", flat=True))
    outputs = ModelOutput.objects.filter(job__run=run)
    assert outputs.count() == 6
    for output in outputs:
        assert "<think>" in output.turns[0]["text"]
        assert output.engine == "transformers" and output.software["transformers"]
    beats = WorkerHeartbeat.objects.filter(jobs_done__gt=0)
    assert [(beat.model_loads, beat.queues) for beat in beats] == [(1, "default,gpu")]


@pytest.fixture(scope="module")
def ten_model_sized_dir(tmp_path_factory):
    return write_synthetic_cases(tmp_path_factory, "ten-model-sized", (256, 320), count=10)


def run_tiny_model(worker_data_dir, log_path, model_dir, batch_size):
    with celery_worker(worker_data_dir, log_path, INFERENCE_BATCH_SIZE=batch_size) as worker:
        call_command(
            "run_inference", "--case-set", "demo", "--engine", "transformers", "--model", str(model_dir), "--wait"
        )
        log = worker.log()
    run = ModelConfiguration.objects.get(model_id=str(model_dir)).runs.latest("created_at")
    assert set(run.jobs.values_list("status", flat=True)) == {JobStatus.SUCCEEDED}, log
    outputs = ModelOutput.objects.filter(job__run=run).order_by("case__public_id")
    conversations = [
        (output.case.public_id, [(t["text"], t["tokens_in"], t["tokens_out"]) for t in output.turns])
        for output in outputs
    ]
    return conversations, sorted(output.turns[0]["batch_size"] for output in outputs)


def test_a_worker_batching_four_cases_gives_the_ten_outputs_a_worker_taking_one_gives(
    worker_data_dir, ten_model_sized_dir, tmp_path, tiny_model_dir
):
    import_as_demo(ten_model_sized_dir)
    alone, alone_batches = run_tiny_model(worker_data_dir, tmp_path / "one.log", tiny_model_dir, 1)
    batched, batches = run_tiny_model(worker_data_dir, tmp_path / "four.log", tiny_model_dir, 4)
    assert len(alone) == 10 and batched == alone
    assert alone_batches == [1] * 10
    # The first message's job takes the next three, the fifth's three more, the ninth's the last one.
    assert batches == [2, 2] + [4] * 8


def test_killing_the_worker_process_mid_job_loses_nothing_and_duplicates_nothing(
    case_set, worker_data_dir, tmp_path, slow_configuration
):
    with celery_worker(worker_data_dir, tmp_path / "worker.log", INFERENCE_LEASE_S=4) as worker:
        run = jobs.create_run(case_set, slow_configuration)
        assert wait_for(lambda: run.jobs.filter(status=JobStatus.RUNNING).exists(), timeout=60), worker.log()
        victim = run.jobs.get(status=JobStatus.RUNNING)
        kill_pool_process(worker)
        assert wait_for(lambda: all_final(run), timeout=180), worker.log()
    victim.refresh_from_db()
    assert victim.status == JobStatus.SUCCEEDED and victim.attempts == 2
    assert set(run.jobs.values_list("status", flat=True)) == {JobStatus.SUCCEEDED}
    assert ModelOutput.objects.filter(job__run=run).count() == run.jobs.count() == 6


def test_jobs_stranded_by_a_dead_worker_and_a_lost_queue_finish_once_after_reconcile(
    case_set, worker_data_dir, tmp_path, settings, slow_configuration
):
    with celery_worker(worker_data_dir, tmp_path / "first.log", INFERENCE_LEASE_S=3) as first:
        run = jobs.create_run(case_set, slow_configuration)
        assert wait_for(lambda: run.jobs.filter(status=JobStatus.RUNNING).exists(), timeout=60), first.log()
        first.kill_all()
    # Whatever the dead worker held is lost with it; the rows say what is left to do.
    purge_queues()
    assert not all_final(run)
    settings.INFERENCE_REQUEUE_AFTER_S = 0  # as if the re-send period had passed
    with celery_worker(worker_data_dir, tmp_path / "second.log", INFERENCE_LEASE_S=3) as second:
        time.sleep(3.5)  # the dead worker's lease runs out
        call_command("reconcile_inference")
        assert wait_for(lambda: all_final(run), timeout=180), second.log()
    assert set(run.jobs.values_list("status", flat=True)) == {JobStatus.SUCCEEDED}
    assert ModelOutput.objects.filter(job__run=run).count() == 6


def test_a_job_whose_turns_together_outlast_the_lease_runs_once_while_reconcile_runs_beside_it(
    case_set, worker_data_dir, tmp_path
):
    """Each turn (2.5 s) fits in the lease (4 s), both together do not: the worker renews between turns, so
    reconcile never hands the job to the second worker, which stands idle beside the first."""
    configuration = ModelConfiguration.objects.create(
        name="two slow turns",
        engine="simulated",
        model_id="simulated/two-turns",
        options={"error_rate": 0, "seconds_per_turn": 2.5},
    )
    assert len(configuration.conversation()) == 2
    env = {"INFERENCE_LEASE_S": 4}
    with (
        celery_worker(worker_data_dir, tmp_path / "first.log", **env) as first,
        celery_worker(worker_data_dir, tmp_path / "second.log", **env) as second,
    ):
        run = jobs.create_run_for_cases(case_set, configuration, case_set.ordered_cases()[:1])
        job = run.jobs.get()
        reconciled = 0
        while not all_final(run) and reconciled < 120:
            call_command("reconcile_inference")
            reconciled += 1
            time.sleep(0.25)
        logs = first.log() + second.log()
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1), logs
    assert ModelOutput.objects.filter(job=job).count() == 1
    assert reconciled >= 20  # reconcile ran all along the job's 5 s
