import random
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from simple_history.models import HistoricalRecords
from simple_history.utils import bulk_create_with_history

from readerstudy.core.labels import CHEXPERT_VOCABULARY

from .cases import CaseSet
from .protocol import ProtocolFrozen, refuse_unless_draft


class Arm(models.TextChoices):
    """The reading conditions of the paper's within-subject study (ARCHITECTURE.md: the study)."""

    UNAIDED = "UNAIDED", "Unaided"
    LABELS_ONLY = "LABELS_ONLY", "AI labels only"
    FULL_REASONING = "FULL_REASONING", "Full AI reasoning"


AI_ARMS = [Arm.LABELS_ONLY, Arm.FULL_REASONING]


def validate_arms(value):
    """A non-empty list of distinct arms, kept in canonical order so designs are reproducible."""
    if not isinstance(value, list) or not value:
        raise ValidationError("Choose at least one arm.")
    unknown = [arm for arm in value if arm not in Arm.values]
    if unknown:
        raise ValidationError(f"Unknown arm(s): {', '.join(map(str, unknown))}.")
    if len(set(value)) != len(value):
        raise ValidationError("Each arm may be listed once.")


def all_arms():
    return list(Arm.values)


def new_randomisation_seed():
    return random.SystemRandom().randrange(1, 2**31)


def new_image_key():
    return secrets.token_hex(32)


class BlankTruth(models.TextChoices):
    """How a label the labels file left blank scores (readerstudy/core/scoring.py)."""

    NEGATIVE = "negative", "Negative (as CheXpert's evaluation)"
    UNKNOWN = "unknown", "Unknown (left out of scoring)"


class PrimaryEndpoint(models.TextChoices):
    """What the study's declared primary comparison measures (the analysis's MRMC endpoints)."""

    TIME = "time", "Reading time"
    JACCARD = "jaccard", "Accuracy (mean Jaccard)"
    SENSITIVITY = "sensitivity", "Sensitivity for abnormal studies"
    SPECIFICITY = "specificity", "Specificity for normal studies"
    AUC = "auc", "AUC for abnormal vs normal (needs the abnormality question)"
    CONFIDENCE = "confidence", "Confidence rating"


class StudyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Study(models.Model):
    Status = StudyStatus

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    instructions = models.TextField(blank=True, help_text="Shown to readers before their first case.")
    case_set = models.ForeignKey(CaseSet, on_delete=models.PROTECT, related_name="studies")
    arms = models.JSONField(default=all_arms, validators=[validate_arms])
    practice_case_set = models.ForeignKey(
        CaseSet,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="practice_for",
        help_text="Optional: read first in each reader's first session, never analysed.",
    )
    label_vocabulary = models.SlugField(
        max_length=40, default=CHEXPERT_VOCABULARY, help_text="The labels readers choose from (Label.vocabulary)."
    )
    status = models.CharField(max_length=10, choices=StudyStatus.choices, default=StudyStatus.DRAFT)
    washout_days = models.PositiveIntegerField(default=28)
    randomisation_seed = models.PositiveIntegerField(default=new_randomisation_seed)
    image_key = models.CharField(
        max_length=64,
        default=new_image_key,
        editable=False,
        help_text="Secret of the keyed hash that gives each assignment's image UIDs of its own (served_images.py).",
    )
    is_free_form = models.BooleanField(
        default=False, help_text="Outside the crossover design: admins assign case sets to readers under chosen arms."
    )
    is_dry_run = models.BooleanField(
        default=False, help_text="A rehearsal: only it accepts simulated reads (simulate_reads). Set at creation."
    )
    design_version = models.CharField(
        max_length=40, blank=True, help_text="The design algorithm that made the sessions (empty: not designed)."
    )
    blank_truth = models.CharField(
        max_length=10,
        choices=BlankTruth.choices,
        default=BlankTruth.NEGATIVE,
        help_text="How a ground-truth label the labels file left blank scores, for readers and the AI alike.",
    )
    primary_endpoint = models.CharField(
        max_length=20,
        choices=PrimaryEndpoint.choices,
        default=PrimaryEndpoint.TIME,
        help_text="The declared primary comparison: its endpoint. Every other comparison is adjusted (Holm).",
    )
    primary_arm = models.CharField(
        max_length=20,
        choices=Arm.choices,
        default=Arm.FULL_REASONING,
        help_text="The declared primary comparison: this arm …",
    )
    primary_versus = models.CharField(
        max_length=20, choices=Arm.choices, default=Arm.UNAIDED, help_text="… against this one."
    )
    asks_abnormality = models.BooleanField(
        default=False,
        help_text="Ask readers in every arm for the probability (0–100) that the radiograph is "
        "abnormal, for an MRMC AUC. Set at creation.",
    )
    free_order = models.BooleanField(
        default=False,
        help_text="Readers may read a session's cases in any order. Off (the default): the "
        "randomised order is enforced, each case only after the one before it.",
    )
    sequential_reading = models.BooleanField(
        default=False,
        help_text="Second-read design: in the AI arms the reader first commits findings and the questions not "
        "about the AI without it, then sees the AI's output and may revise. Both reports are kept.",
    )
    idle_threshold_s = models.PositiveIntegerField(
        default=60, help_text="An input-free gap longer than this is idle, not reading time."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The study's team: the coordinators who run it (readerstudy/rules.py). Changed only through
    # studies/team.py, which audits each change.
    coordinators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="StudyCoordinator",
        through_fields=("study", "user"),
        related_name="coordinated_studies",
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["image_key"])  # a secret stays out of the history

    # Frozen once the study opens (its status then changes only through the open and close services).
    PROTOCOL_FIELDS = (
        "case_set",
        "practice_case_set",
        "arms",
        "label_vocabulary",
        "blank_truth",
        "primary_endpoint",
        "primary_arm",
        "primary_versus",
        "asks_abnormality",
        "is_free_form",
        "is_dry_run",
        "washout_days",
        "randomisation_seed",
        "design_version",
        "free_order",
        "sequential_reading",
        "idle_threshold_s",
    )

    class Meta:
        verbose_name_plural = "studies"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=StudyStatus.values), name="study_status_valid"),
            models.CheckConstraint(condition=models.Q(idle_threshold_s__gt=0), name="study_idle_threshold_positive"),
            models.CheckConstraint(
                condition=models.Q(blank_truth__in=BlankTruth.values), name="study_blank_truth_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(primary_endpoint__in=PrimaryEndpoint.values), name="study_primary_endpoint_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(primary_arm=models.F("primary_versus")), name="study_primary_arms_differ"
            ),
        ]

    def __str__(self):
        return self.title

    @property
    def ordered_arms(self):
        return [Arm(arm) for arm in Arm.values if arm in self.arms]

    def clean(self):
        super().clean()
        if not self._state.adding:
            self.refuse_protocol_changes()
        if self.status == StudyStatus.DRAFT:  # once open, the declaration is frozen as it was
            problems = self.primary_comparison_problems()
            if problems:
                raise ValidationError(problems)

    def primary_comparison_problems(self):
        """{field: message} for a declared primary comparison this study cannot make; a study with one arm
        makes no comparison, so it declares none."""
        arms = self.arms if isinstance(self.arms, list) else []
        if len(arms) < 2:
            return {}
        if self.primary_arm == self.primary_versus:
            return {"primary_versus": "The primary comparison needs two different arms."}
        missing = [Arm(arm).label for arm in (self.primary_arm, self.primary_versus) if arm not in arms]
        if missing:
            return {"primary_arm": f"The primary comparison names arms the study does not run: {', '.join(missing)}."}
        if self.primary_endpoint == PrimaryEndpoint.AUC and not self.asks_abnormality:
            return {"primary_endpoint": "An AUC needs the abnormality question: tick “asks abnormality”."}
        return {}

    def refuse_protocol_changes(self, transition=False):
        """ProtocolFrozen unless this save keeps the stored status (`transition`: the open and close services
        move it) and, once the study has opened, every protocol field."""
        fields = [self._meta.get_field(name) for name in self.PROTOCOL_FIELDS]
        stored = type(self).objects.filter(pk=self.pk).values("status", *[f.attname for f in fields]).first()
        if stored is None:
            return
        if stored["status"] != self.status and not transition:
            raise ProtocolFrozen(
                "A study opens and closes only with Open and Close on its page, which check it and write the audit log."
            )
        changed = [str(f.verbose_name) for f in fields if stored[f.attname] != getattr(self, f.attname)]
        if stored["status"] != StudyStatus.DRAFT and changed:
            raise ProtocolFrozen(
                f"The study is {stored['status']}: its protocol is frozen ({', '.join(changed)} cannot change)."
            )

    def save(self, *args, transition=False, **kwargs):
        adding = self._state.adding
        with transaction.atomic():
            if not adding:
                self.refuse_protocol_changes(transition)
            super().save(*args, **kwargs)
            if adding:
                StudyQuestion.add_defaults(self)


# The paper's rating questions: key, text, anchors, arms asked in.
DEFAULT_QUESTIONS = [
    (
        "confidence",
        "How confident are you in your report?",
        "Not at all confident",
        "Completely confident",
        [Arm.UNAIDED, Arm.LABELS_ONLY, Arm.FULL_REASONING],
    ),
    (
        "usefulness",
        "How useful was the AI output for this case?",
        "Not useful",
        "Very useful",
        [Arm.LABELS_ONLY, Arm.FULL_REASONING],
    ),
    (
        "trust",
        "How much do you trust the AI output for this case?",
        "No trust",
        "Complete trust",
        [Arm.LABELS_ONLY, Arm.FULL_REASONING],
    ),
    (
        "reasoning_accuracy",
        "How accurate was the AI's reasoning?",
        "Entirely inaccurate",
        "Entirely accurate",
        [Arm.FULL_REASONING],
    ),
    (
        "uncertainty_qualified",
        "Did the AI express uncertainty where it should?",
        "Not at all",
        "Always appropriately",
        [Arm.FULL_REASONING],
    ),
]
# Default questions a reader may answer N/A: a case where the AI had nothing to be uncertain about has no
# "appropriate uncertainty" to rate.
DEFAULT_NOT_APPLICABLE = {"uncertainty_qualified"}


# Optional (Study.asks_abnormality): the rating an MRMC AUC is computed from.
ABNORMALITY_KEY = "abnormality"
ABNORMALITY_QUESTION = (
    ABNORMALITY_KEY,
    "How likely is this radiograph to be abnormal (0–100)?",
    "Certainly normal",
    "Certainly abnormal",
    0,
    100,
)


class StudyQuestion(models.Model):
    """A rating scale asked after each read in the arms it lists."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="questions")
    key = models.SlugField(max_length=50, help_text="Column name in exports.")
    text = models.CharField(max_length=300)
    scale_min = models.SmallIntegerField(default=1)
    scale_max = models.SmallIntegerField(default=5)
    min_anchor = models.CharField(max_length=80)
    max_anchor = models.CharField(max_length=80)
    arms = models.JSONField(default=all_arms, validators=[validate_arms])
    required = models.BooleanField(default=True)
    allows_not_applicable = models.BooleanField(
        default=False,
        help_text="The reader may answer N/A (the question does not apply to the case) instead of a value.",
    )
    order = models.PositiveSmallIntegerField(default=0)
    history = HistoricalRecords()

    class Meta:
        ordering = ["study", "order", "key"]
        constraints = [
            models.UniqueConstraint(fields=["study", "key"], name="studyquestion_unique_key"),
            models.CheckConstraint(
                condition=models.Q(scale_max__gt=models.F("scale_min")), name="studyquestion_scale_ordered"
            ),
        ]

    def __str__(self):
        return f"{self.study}: {self.key}"

    def is_asked_in(self, arm):
        return arm in self.arms

    @property
    def is_about_ai(self):
        """Asked only in AI arms: in a sequential read it is asked after the AI output is shown, every other
        question before it."""
        return all(arm in AI_ARMS for arm in self.arms)

    def clean(self):
        super().clean()
        if self.study_id:
            refuse_unless_draft(self.study, "questions")

    def save(self, *args, **kwargs):
        refuse_unless_draft(self.study, "questions")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        refuse_unless_draft(self.study, "questions")
        return super().delete(*args, **kwargs)

    @classmethod
    def add_defaults(cls, study):
        questions = [
            cls(
                study=study,
                key=key,
                text=text,
                min_anchor=low,
                max_anchor=high,
                arms=[a.value for a in arms if a in study.arms],
                allows_not_applicable=key in DEFAULT_NOT_APPLICABLE,
                order=order,
            )
            for order, (key, text, low, high, arms) in enumerate(DEFAULT_QUESTIONS)
            # A question only about arms the study does not run would never be asked.
            if any(a in study.arms for a in arms)
        ]
        if study.asks_abnormality:
            key, text, low, high, scale_min, scale_max = ABNORMALITY_QUESTION
            questions.append(
                cls(
                    study=study,
                    key=key,
                    text=text,
                    min_anchor=low,
                    max_anchor=high,
                    scale_min=scale_min,
                    scale_max=scale_max,
                    arms=list(study.arms),
                    order=len(DEFAULT_QUESTIONS),
                )
            )
        bulk_create_with_history(questions, cls, default_change_reason="the study's default questions")


class ReaderProfile(models.Model):
    """What a reader tells us about themselves; copied onto StudyReader when they join a study."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reader_profile")
    years_experience = models.PositiveSmallIntegerField(null=True, blank=True)
    subspecialty = models.CharField(max_length=100, blank=True)
    board_certified = models.BooleanField(default=False)

    def __str__(self):
        return f"Profile of {self.user}"


class StudyCoordinator(models.Model):
    """A coordinator on a study's team: they see and run the study; coordinators outside the team do not."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="team")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="study_teams")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "user__username"]
        constraints = [models.UniqueConstraint(fields=["study", "user"], name="studycoordinator_unique_user")]

    def __str__(self):
        return f"{self.study}: {self.user}"


class StudyReader(models.Model):
    """A reader's enrolment in a study, with their profile frozen as it was when they joined."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="readers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="study_enrolments")
    reader_code = models.CharField(max_length=16, help_text="Pseudonym used in exports.")
    design_row = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The reader's row in the crossover design (0 for the first reader)."
    )
    years_experience = models.PositiveSmallIntegerField(null=True, blank=True)
    subspecialty = models.CharField(max_length=100, blank=True)
    board_certified = models.BooleanField(default=False)
    joined_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["study", "reader_code"]
        constraints = [
            models.UniqueConstraint(fields=["study", "user"], name="studyreader_unique_user"),
            models.UniqueConstraint(fields=["study", "reader_code"], name="studyreader_unique_code"),
        ]

    def __str__(self):
        return f"{self.study}: {self.reader_code}"

    @classmethod
    def enrol(cls, study, user):
        """Join `user` to `study` (idempotent), copying their profile and giving the next pseudonym."""
        with transaction.atomic():
            existing = cls.objects.select_for_update().filter(study=study, user=user).first()
            if existing:
                return existing
            profile = ReaderProfile.objects.filter(user=user).first()
            # Lock the study row so two enrolments cannot take the same code.
            Study.objects.select_for_update().get(pk=study.pk)
            code = f"R{cls.objects.filter(study=study).count() + 1:02d}"
            return cls.objects.create(
                study=study,
                user=user,
                reader_code=code,
                years_experience=profile.years_experience if profile else None,
                subspecialty=profile.subspecialty if profile else "",
                board_certified=profile.board_certified if profile else False,
            )
