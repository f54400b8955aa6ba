"""Inference jobs are rows: PostgreSQL is the truth, Redis only carries the job ids (ARCHITECTURE.md: processes)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from readerstudy.core.leases import Leased
from readerstudy.models.protocol import refuse_unless_draft

from .engines.base import Prompt, TurnKind


class Engine(models.TextChoices):
    TRANSFORMERS = "transformers", "transformers (local weights)"
    OPENAI = "openai", "OpenAI-compatible server (vLLM, SGLang)"
    SIMULATED = "simulated", "Simulated (no model)"


def default_follow_ups():
    return ["Write a structured report"]


def default_generation():
    return {"max_new_tokens": 2048}


class ModelConfiguration(models.Model):
    """How to run a model: engine, weights, prompts and decoding. Outputs copy it as their provenance."""

    name = models.CharField(max_length=200, unique=True)
    engine = models.CharField(max_length=20, choices=Engine.choices)
    model_id = models.CharField(max_length=500, help_text="Hub id or local path of the weights; server model name.")
    revision = models.CharField(max_length=100, blank=True, help_text="Weights revision (commit) for provenance.")
    prompt = models.TextField(default="Find abnormalities and support devices.")
    follow_up_prompts = models.JSONField(
        default=default_follow_ups, blank=True, help_text="Asked in the same conversation after the first answer."
    )
    report_follow_up = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        default=1,
        help_text="Which follow-up (1 = the first) asks for the structured report that the full-reasoning arm "
        "shows, whatever its wording; blank: none.",
    )
    generation = models.JSONField(
        default=default_generation,
        blank=True,
        help_text="max_new_tokens, min_new_tokens, do_sample, temperature, top_p.",
    )
    options = models.JSONField(
        default=dict, blank=True, help_text="Engine options: error_rate and seed (simulated), base_url (openai)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(engine__in=Engine.values), name="modelconfig_engine_valid"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_simulated(self):
        return self.engine == Engine.SIMULATED

    def clean(self):
        if not isinstance(self.follow_up_prompts, list) or not all(isinstance(p, str) for p in self.follow_up_prompts):
            raise ValidationError({"follow_up_prompts": "A list of prompts, each a text."})
        if self.report_follow_up is not None and not 1 <= self.report_follow_up <= len(self.follow_up_prompts):
            count = len(self.follow_up_prompts)
            message = f"There are {count} follow-up prompt(s): give the number of one, or leave it blank."
            raise ValidationError({"report_follow_up": message})

    def conversation(self):
        """The prompts in order, each marked with what its answer is for."""
        return [Prompt(self.prompt, TurnKind.FINDINGS)] + [
            Prompt(text, TurnKind.REPORT if number == self.report_follow_up else TurnKind.FOLLOW_UP)
            for number, text in enumerate(self.follow_up_prompts, start=1)
        ]


class InferenceRun(models.Model):
    """A coordinator's request to run one model configuration over a case set."""

    case_set = models.ForeignKey("readerstudy.CaseSet", on_delete=models.PROTECT, related_name="inference_runs")
    configuration = models.ForeignKey(ModelConfiguration, on_delete=models.PROTECT, related_name="runs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.configuration} on {self.case_set} ({self.created_at:%Y-%m-%d %H:%M})"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    TRUNCATED = "truncated", "Truncated at the token limit"
    REFUSED = "refused", "Refused by the model"


class ParseStatus(models.TextChoices):
    OK = "ok", "Parsed"
    TRUNCATED = "truncated", "Truncated"
    REFUSED = "refused", "Refused"
    MALFORMED = "malformed", "No <think>/<answer> structure"


FINAL_STATUSES = [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.TRUNCATED, JobStatus.REFUSED]


class InferenceJob(Leased):
    """A case for a worker to run; a worker owns it while it holds the job's lease (core.leases)."""

    Status = JobStatus

    run = models.ForeignKey(InferenceRun, on_delete=models.PROTECT, related_name="jobs")
    case = models.ForeignKey("readerstudy.Case", on_delete=models.PROTECT, related_name="inference_jobs")
    configuration = models.ForeignKey(ModelConfiguration, on_delete=models.PROTECT, related_name="jobs")
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker_host = models.CharField(max_length=255, blank=True)
    worker_pid = models.PositiveIntegerField(null=True, blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="Last time a message was sent for it.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    model_load_s = models.FloatField(null=True, blank=True, help_text="Set on the job whose worker loaded the model.")
    generation_s = models.FloatField(null=True, blank=True)
    tokens_in = models.PositiveIntegerField(null=True, blank=True)
    tokens_out = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "id"]
        indexes = [models.Index(fields=["status", "lease_expires_at"])]
        constraints = [
            models.UniqueConstraint(fields=["run", "case"], name="inferencejob_unique_case_per_run"),
            models.CheckConstraint(condition=models.Q(status__in=JobStatus.values), name="inferencejob_status_valid"),
            models.CheckConstraint(
                condition=~models.Q(status=JobStatus.RUNNING) | models.Q(lease_token__isnull=False),
                name="inferencejob_running_has_lease",
            ),
        ]

    def __str__(self):
        return f"Job {self.pk} ({self.status})"

    @property
    def is_final(self):
        return self.status in FINAL_STATUSES


class ModelOutput(models.Model):
    """The frozen result of one job: raw text per turn, parsed steps and labels, and full provenance."""

    job = models.OneToOneField(InferenceJob, on_delete=models.PROTECT, related_name="output")
    case = models.ForeignKey("readerstudy.Case", on_delete=models.PROTECT, related_name="model_outputs")
    image = models.ForeignKey(
        "readerstudy.CaseImage",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The image the model was shown (the frontal view).",
    )
    parse_status = models.CharField(max_length=10, choices=ParseStatus.choices)
    # [{prompt, kind, text, seconds, tokens_in, tokens_out, hit_token_limit, batch_size}], text exactly as
    # decoded; kind (engines.base.TurnKind) marks the structured report, whatever its prompt said; seconds is
    # the time of the generate call the turn shared with batch_size - 1 other cases.
    turns = models.JSONField()
    # [{index, turn, start, end, region}]: offsets in code points into turns[turn].text.
    steps = models.JSONField(default=list)
    labels = models.JSONField(default=list, help_text="Label slugs of the answer, in answer order.")
    unknown_labels = models.JSONField(default=list, help_text="Answer items that match no label, verbatim.")
    deliberate_errors = models.JSONField(default=list, help_text="Simulated outputs only.")
    engine = models.CharField(max_length=20, choices=Engine.choices)
    model_id = models.CharField(max_length=500)
    revision = models.CharField(max_length=100, blank=True)
    generation = models.JSONField(default=dict)
    software = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Output of job {self.job_id} for {self.case}"

    @property
    def is_simulated(self):
        return self.engine == Engine.SIMULATED

    @property
    def report_turn(self):
        """The index of the structured-report turn, or None."""
        return next((i for i, turn in enumerate(self.turns) if turn.get("kind") == TurnKind.REPORT), None)

    def turn_succeeded(self, index):
        """A follow-up turn succeeded when it exists and did not stop at the token limit."""
        return (
            index < len(self.turns)
            and not self.turns[index].get("hit_token_limit")
            and bool(self.turns[index]["text"].strip())
        )


class StudyOutputPin(models.Model):
    """The one output every reader of a study sees for a case; frozen once the study opens."""

    study = models.ForeignKey("readerstudy.Study", on_delete=models.PROTECT, related_name="output_pins")
    case = models.ForeignKey("readerstudy.Case", on_delete=models.PROTECT, related_name="+")
    output = models.ForeignKey(ModelOutput, on_delete=models.PROTECT, related_name="pins")
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pinned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "case"], name="studyoutputpin_one_per_case")]

    def __str__(self):
        return f"{self.study}: {self.case} → output {self.output_id}"

    def save(self, *args, **kwargs):
        refuse_unless_draft(self.study, "pinned outputs")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        refuse_unless_draft(self.study, "pinned outputs")
        return super().delete(*args, **kwargs)


class WorkerHeartbeat(models.Model):
    """One row per worker process, touched when it starts and after each task (shown on the progress page; each
    queue's newest in /readyz)."""

    process_key = models.UUIDField(unique=True, help_text="Made by the process at start (pids are reused).")
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    # db_default: a worker of the previous release, still running during a deploy, inserts rows too.
    queues = models.CharField(
        max_length=200, blank=True, db_default="", help_text="The queues it consumes, comma-separated."
    )
    engine_key = models.CharField(max_length=600, blank=True, help_text="The model this process has loaded.")
    model_loads = models.PositiveSmallIntegerField(default=0)
    jobs_done = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self):
        return f"{self.hostname}:{self.pid}"
