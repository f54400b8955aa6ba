import time

from django.core.management.base import BaseCommand, CommandError

from inference import jobs
from inference.models import Engine, ModelConfiguration
from inference.run_progress import run_progress
from readerstudy.models import CaseSet


class Command(BaseCommand):
    help = "Queue one inference job per case of a case set; workers on the `gpu` queue run them."

    def add_arguments(self, parser):
        parser.add_argument("--case-set", required=True)
        parser.add_argument("--engine", required=True, choices=Engine.values)
        parser.add_argument(
            "--model",
            help="Local path or hub id of the weights (transformers), or the server's "
            "model name (openai). Default: the engine's default configuration.",
        )
        parser.add_argument("--configuration", help="Use this named model configuration instead.")
        parser.add_argument("--wait", action="store_true", help="Wait until every job is final; print the counts.")
        parser.add_argument("--timeout", type=float, default=3600, help="Seconds --wait waits at most.")

    def handle(self, *args, case_set, engine, model, configuration, wait, timeout, **options):
        case_set_row = CaseSet.objects.filter(name=case_set).first()
        if case_set_row is None:
            raise CommandError(f"no case set named {case_set!r}")
        if not case_set_row.memberships.exists():
            raise CommandError(f"case set {case_set!r} has no cases")
        config = self._configuration(engine, model, configuration)
        run = jobs.create_run(case_set_row, config)
        self.stdout.write(f"run {run.pk}: queued {run.jobs.count()} job(s) with {config.name!r}")
        if wait:
            self._wait(run, timeout)

    def _configuration(self, engine, model, name):
        if name:
            found = ModelConfiguration.objects.filter(name=name).first()
            if found is None:
                raise CommandError(f"no model configuration named {name!r}")
            return found
        default = ModelConfiguration.objects.filter(engine=engine).order_by("created_at").first()
        if model is None:
            if default is None:
                raise CommandError(f"no {engine} model configuration exists; pass --model")
            return default
        config, _ = ModelConfiguration.objects.get_or_create(
            name=f"{engine}: {model}",
            defaults={
                "engine": engine,
                "model_id": model,
                **(
                    {
                        "prompt": default.prompt,
                        "follow_up_prompts": default.follow_up_prompts,
                        "report_follow_up": default.report_follow_up,
                        "generation": default.generation,
                    }
                    if default
                    else {}
                ),
            },
        )
        return config

    def _wait(self, run, timeout):
        deadline = time.monotonic() + timeout
        while True:
            progress = run_progress(run)
            if progress["is_complete"]:
                break
            if time.monotonic() > deadline:
                raise CommandError(f"timed out with {progress['finished']} of {progress['total']} jobs final")
            time.sleep(1)
        counts = ", ".join(f"{status} {n}" for status, n in progress["counts"].items() if n)
        self.stdout.write(f"run {run.pk} complete: {counts}")
