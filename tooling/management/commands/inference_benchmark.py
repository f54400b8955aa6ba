"""The task path's overhead: N cases through enqueue → worker → DICOM → image → generate → parse → store,
against the same DICOM → image → generate → parse code called directly, on the same model, in one run."""

import statistics
import tempfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max
from django.utils import timezone

from inference import engine_registry, jobs
from inference.models import InferenceJob, JobStatus, ModelConfiguration, WorkerHeartbeat
from inference.parsing import parse_output
from inference.runner import case_context, model_image
from readerstudy.models import CaseSet
from tooling.worker_process import running_worker


class Command(BaseCommand):
    help = (
        "Measure the per-case overhead of the Celery task path over calling the same code directly, with a "
        "fixed number of new tokens (min = max). Starts its own worker on the gpu queue."
    )

    def add_arguments(self, parser):
        parser.add_argument("--case-set", required=True, help="Cases to run (their images set the input size).")
        parser.add_argument("--model", required=True, help="Path of the (tiny) model to load with transformers.")
        parser.add_argument("--cases", type=int, default=10)
        parser.add_argument("--tokens", type=int, default=256)
        parser.add_argument(
            "--repeats", type=int, default=3, help="Alternating direct and task-path passes; medians are reported."
        )

    def handle(self, *args, case_set, model, cases, tokens, repeats, **options):
        case_set_row = CaseSet.objects.filter(name=case_set).first()
        if case_set_row is None or case_set_row.memberships.count() < cases + 1:
            raise CommandError(f"case set {case_set!r} needs at least {cases + 1} cases (one warms the worker up)")
        configuration, _ = ModelConfiguration.objects.update_or_create(
            name=f"benchmark: {model} @ {tokens} tokens",
            defaults={
                "engine": "transformers",
                "model_id": model,
                "follow_up_prompts": [],
                "report_follow_up": None,
                "generation": {"max_new_tokens": tokens, "min_new_tokens": tokens},
            },
        )
        chosen = list(case_set_row.ordered_cases()[: cases + 1])
        direct, task, runs = [], [], []
        with tempfile.TemporaryDirectory() as scratch:
            log_path = Path(scratch) / "worker.log"
            with running_worker(log_path, queues="gpu"):
                # Both paths load the model and run one case before anything is timed.
                runs.append(self._run_jobs(configuration, case_set_row, chosen[:1], log_path))
                engine, _ = engine_registry.get_engine(configuration)
                self._direct_case(engine, configuration, chosen[0])
                # Passes alternate, so that a slow spell of this shared machine falls on both paths alike.
                for _ in range(repeats):
                    direct.append(self._direct(engine, configuration, chosen[1:]))
                    seconds, run = self._task_path(configuration, case_set_row, chosen[1:], log_path)
                    task.append(seconds)
                    runs.append(run)
        self._report(cases, tokens, direct, task, self._model_loads(runs))

    def _report(self, cases, tokens, direct, task, loads):
        direct_s, task_s = statistics.median(direct), statistics.median(task)
        self.stdout.write(f"cases: {cases}, new tokens per case: {tokens}, passes: {len(direct)} (medians below)")
        self.stdout.write(
            f"direct:    {direct_s:.3f} s ({direct_s / cases * 1000:.1f} ms per case); "
            f"passes {', '.join(f'{s:.2f}' for s in direct)}"
        )
        self.stdout.write(
            f"task path: {task_s:.3f} s ({task_s / cases * 1000:.1f} ms per case); "
            f"passes {', '.join(f'{s:.2f}' for s in task)}"
        )
        self.stdout.write(
            f"overhead per case: {(task_s - direct_s) / cases * 1000:.1f} ms; "
            f"ratio task/direct: {task_s / direct_s:.3f}"
        )
        self.stdout.write(f"model loads per worker process: {loads}")

    def _direct(self, engine, configuration, cases):
        started = time.perf_counter()
        for case in cases:
            self._direct_case(engine, configuration, case)
        return time.perf_counter() - started

    def _direct_case(self, engine, configuration, case):
        _, image = model_image(case)
        result = engine.converse(
            image,
            configuration.conversation(),
            engine_registry.generation_params(configuration),
            case=case_context(case),
        )
        parse_output(result.turns[0].text)

    def _task_path(self, configuration, case_set, cases, log_path):
        """Seconds from enqueueing to the last stored result, on the database's record, so that this
        process's polling (slow, to leave the CPU to the worker) adds nothing to the measurement."""
        started = timezone.now()
        run = self._run_jobs(configuration, case_set, cases, log_path)
        finished = InferenceJob.objects.filter(run=run).aggregate(last=Max("finished_at"))["last"]
        return (finished - started).total_seconds(), run

    def _model_loads(self, runs):
        pids = InferenceJob.objects.filter(run__in=runs).values_list("worker_pid", flat=True)
        return ", ".join(str(w.model_loads) for w in WorkerHeartbeat.objects.filter(pid__in=pids)) or "unknown"

    def _run_jobs(self, configuration, case_set, cases, log_path):
        run = jobs.create_run_for_cases(case_set, configuration, cases)
        while InferenceJob.objects.filter(run=run, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists():
            time.sleep(0.5)
        failed = InferenceJob.objects.filter(run=run).exclude(status=JobStatus.SUCCEEDED)
        if failed.exists():
            raise CommandError(
                f"jobs did not succeed: {list(failed.values_list('status', 'error'))}; worker log: {log_path}"
            )
        return run
