import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from .append_only import AppendOnlyModel
from .cases import Case
from .labels import Label
from .studies import AI_ARMS, Arm, Study, StudyQuestion


def new_assignment_public_id():
    """What a reader sees in URLs: random per assignment, so a case is not recognisable across sessions."""
    return secrets.token_urlsafe(12)


class ReadingSession(models.Model):
    """One sitting of a reader in a study; sessions are separated by the study's washout."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="sessions")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reading_sessions")
    index = models.PositiveSmallIntegerField(help_text="1 for the first session.")
    opens_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Empty: session 1 opens with the study, a later one after the washout. Set: opens then.",
    )

    class Meta:
        ordering = ["study", "reader", "index"]
        constraints = [
            models.UniqueConstraint(fields=["study", "reader", "index"], name="readingsession_unique_index"),
            models.CheckConstraint(condition=models.Q(index__gte=1), name="readingsession_index_from_one"),
        ]

    def __str__(self):
        return f"{self.study} / {self.reader} / session {self.index}"


class AssignmentStatus(models.TextChoices):
    ASSIGNED = "assigned", "Assigned"
    STARTED = "started", "Started"
    SUBMITTED = "submitted", "Submitted"


class Assignment(models.Model):
    """One case for one reader under one arm, at a position in a session."""

    Status = AssignmentStatus

    public_id = models.CharField(max_length=24, unique=True, default=new_assignment_public_id, editable=False)
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="assignments")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="assignments")
    arm = models.CharField(max_length=20, choices=Arm.choices)
    session = models.ForeignKey(ReadingSession, on_delete=models.PROTECT, related_name="assignments")
    position = models.PositiveIntegerField(help_text="Order within the session, from 1.")
    status = models.CharField(max_length=10, choices=AssignmentStatus.choices, default=AssignmentStatus.ASSIGNED)
    is_practice = models.BooleanField(default=False, help_text="A practice case: read, never analysed.")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["study", "reader", "session__index", "position"]
        constraints = [
            models.UniqueConstraint(fields=["study", "reader", "case", "arm"], name="assignment_unique_case_arm"),
            models.UniqueConstraint(fields=["session", "position"], name="assignment_unique_position"),
            models.CheckConstraint(condition=models.Q(arm__in=Arm.values), name="assignment_arm_valid"),
            models.CheckConstraint(
                condition=models.Q(status__in=AssignmentStatus.values), name="assignment_status_valid"
            ),
            models.CheckConstraint(condition=models.Q(position__gte=1), name="assignment_position_from_one"),
        ]

    def __str__(self):
        return f"{self.public_id} ({self.get_arm_display()})"

    @property
    def is_sequential(self):
        """A second read: the study reads sequentially and this arm shows the AI, so the reader commits a first
        report without the AI (UnaidedRead) before the AI output is shown."""
        return self.study.sequential_reading and self.arm in AI_ARMS


class Read(models.Model):
    """The reader's report for one assignment; a draft until submitted_at is set, final after."""

    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="read")
    findings = models.ManyToManyField(Label, through="ReadFinding", related_name="+", blank=True)
    report_findings = models.TextField(blank=True)
    report_impression = models.TextField(blank=True)
    problem_flagged = models.BooleanField(default=False, help_text="Non-diagnostic image or technical fault.")
    problem_reason = models.TextField(blank=True)
    # Until the submit writes them as rows (ReadFinding, Rating), the autosaved findings and answers are one
    # document replaced whole: {"findings": [slug], "ratings": {key: value}, "not_applicable": [key]}.
    # db_default too: a web process of the previous release, still serving during a deploy, inserts reads.
    draft = models.JSONField(
        default=dict, db_default={}, blank=True, help_text="The autosaved findings and answers (drafts only)."
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    first_image_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # Derived on the server from the TimingEvent log (README: Reading).
    total_ms = models.PositiveBigIntegerField(default=0)
    hidden_ms = models.PositiveBigIntegerField(default=0)
    idle_ms = models.PositiveBigIntegerField(default=0)
    active_ms = models.PositiveBigIntegerField(default=0)
    is_simulated = models.BooleanField(default=False, help_text="Made by simulate_reads in a dry-run study.")
    # The submitting page's own totals, kept beside the server's derivation as a cross-check.
    client_times = models.JSONField(default=dict, blank=True)
    client_submission_uuid = models.UUIDField(null=True, blank=True, unique=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(active_ms=models.F("total_ms") - models.F("hidden_ms") - models.F("idle_ms")),
                name="read_active_is_total_less_hidden_and_idle",
            ),
            models.CheckConstraint(
                condition=models.Q(submitted_at__isnull=True) | models.Q(client_submission_uuid__isnull=False),
                name="read_submission_has_uuid",
            ),
            models.CheckConstraint(
                condition=models.Q(problem_flagged=True) | models.Q(problem_reason=""),
                name="read_problem_reason_only_when_flagged",
            ),
        ]

    def __str__(self):
        return f"Read of {self.assignment}"

    @property
    def is_submitted(self):
        return self.submitted_at is not None


def validate_label_slugs(value):
    if not isinstance(value, list) or not all(isinstance(slug, str) for slug in value):
        raise ValidationError("A list of label slugs.")


def validate_rating_values(value):
    if not isinstance(value, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
        raise ValidationError("Question keys with whole-number answers.")


class UnaidedRead(AppendOnlyModel):
    """The first report of a sequential read (Assignment.is_sequential): the findings and the answers to the
    questions not about the AI, committed before the AI output is shown, with the active time until then.
    Final once committed (reading/sequential.py writes it once; nothing changes or deletes it)."""

    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="unaided_read")
    findings = models.JSONField(default=list, validators=[validate_label_slugs], help_text="Label slugs.")
    ratings = models.JSONField(default=dict, validators=[validate_rating_values], help_text="Question key -> value.")
    committed_at = models.DateTimeField()
    client_submission_uuid = models.UUIDField(unique=True)
    # Derived on the server from the TimingEvent log up to the `unaided_commit` event (reading/timing.py).
    total_ms = models.PositiveBigIntegerField(default=0)
    hidden_ms = models.PositiveBigIntegerField(default=0)
    idle_ms = models.PositiveBigIntegerField(default=0)
    active_ms = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(active_ms=models.F("total_ms") - models.F("hidden_ms") - models.F("idle_ms")),
                name="unaidedread_active_is_total_less_hidden_and_idle",
            ),
        ]

    def __str__(self):
        return f"First read of {self.assignment}"


class ReadFinding(models.Model):
    read = models.ForeignKey(Read, on_delete=models.PROTECT, related_name="finding_links")
    label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["read", "label"], name="readfinding_unique_label")]


class Rating(models.Model):
    read = models.ForeignKey(Read, on_delete=models.PROTECT, related_name="ratings")
    question = models.ForeignKey(StudyQuestion, on_delete=models.PROTECT, related_name="ratings")
    value = models.SmallIntegerField(null=True, blank=True, help_text="Empty when the answer is N/A.")
    not_applicable = models.BooleanField(
        default=False, help_text="The reader answered N/A (only where the question allows it)."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["read", "question"], name="rating_unique_question"),
            models.CheckConstraint(
                condition=models.Q(value__isnull=False, not_applicable=False)
                | models.Q(value__isnull=True, not_applicable=True),
                name="rating_value_or_not_applicable",
            ),
        ]

    def __str__(self):
        return f"{self.question.key}={'N/A' if self.not_applicable else self.value}"


class TimingEventType(models.TextChoices):
    PAGE_SHOWN = "page_shown"
    IMAGE_RENDERED = "image_rendered"
    AI_PANEL_SHOWN = "ai_panel_shown"
    AI_PANEL_SCROLLED = "ai_panel_scrolled"
    ANNOTATION_ADDED = "annotation_added"
    INTERACTION_START = "interaction_start"
    INTERACTION_END = "interaction_end"
    HIDDEN = "hidden"
    VISIBLE = "visible"
    PAUSE = "pause"
    RESUME = "resume"
    INPUT = "input"
    UNAIDED_COMMIT = "unaided_commit"  # a sequential read's first report committed (reading/sequential.py)
    SUBMIT = "submit"


class TimingEvent(AppendOnlyModel):
    """One client-side event of a reading, stored append-only; reading times are derived from these."""

    Type = TimingEventType

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="timing_events")
    page_load_id = models.UUIDField()
    type = models.CharField(max_length=24, choices=TimingEventType.choices)
    client_ms = models.FloatField(help_text="performance.now() on the page, in milliseconds.")
    server_at = models.DateTimeField(auto_now_add=True)
    client_uuid = models.UUIDField(unique=True)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["assignment", "server_at", "client_ms"]
        indexes = [models.Index(fields=["assignment", "page_load_id", "client_ms"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(type__in=TimingEventType.values), name="timingevent_type_valid"),
            models.CheckConstraint(condition=models.Q(client_ms__gte=0), name="timingevent_client_ms_nonnegative"),
        ]

    def __str__(self):
        return f"{self.type} @ {self.client_ms:.0f} ms"
