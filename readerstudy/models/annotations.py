from django.db import models

from .labels import Label
from .reading import Read


class ErrorCategory(models.TextChoices):
    """The errors a reader can record against the AI output (a fixed list, so that studies compare)."""

    FALSE_FINDING = "false_finding", "False finding"
    MISSED_FINDING = "missed_finding", "Missed finding"
    WRONG_LOCATION = "wrong_location", "Wrong location or laterality"
    WRONG_SEVERITY = "wrong_severity", "Wrong severity or size"
    WRONG_DEVICE = "wrong_device", "Wrong or hallucinated device"
    FAULTY_REASONING = "faulty_reasoning", "Faulty reasoning or internal contradiction"
    OTHER = "other", "Other"


# The errors the error audit scores by the label they concern (analysis.error_audit): recorded without one,
# such an error could never be matched to the AI's, so a reader must name the label.
LABELLED_CATEGORIES = (ErrorCategory.FALSE_FINDING, ErrorCategory.MISSED_FINDING, ErrorCategory.WRONG_LOCATION)


class AnnotationTarget(models.TextChoices):
    """What the reader pointed at: a text span, a predicted label, one reasoning step, or the output as a whole."""

    TEXT = "text", "Selected text"
    LABEL = "label", "Predicted label"
    STEP = "step", "Reasoning step"
    OUTPUT = "output", "Whole output"


class TraceAnnotation(models.Model):
    """An error the reader found in the pinned AI output; editable until the read is submitted."""

    Category = ErrorCategory
    Target = AnnotationTarget

    client_uuid = models.UUIDField(unique=True, help_text="Made by the browser; makes creation idempotent.")
    read = models.ForeignKey(Read, on_delete=models.PROTECT, related_name="annotations")
    target = models.CharField(max_length=10, choices=AnnotationTarget.choices)
    # For TEXT: code-point offsets into the raw text of output.turns[turn]; the quoted text is kept as shown.
    turn = models.PositiveSmallIntegerField(null=True, blank=True)
    start = models.PositiveIntegerField(null=True, blank=True)
    end = models.PositiveIntegerField(null=True, blank=True)
    quote = models.TextField(blank=True)
    step = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Index into the output's steps.")
    label = models.ForeignKey(Label, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    category = models.CharField(max_length=20, choices=ErrorCategory.choices)
    clinically_significant = models.BooleanField()
    comment = models.TextField(blank=True)
    # The same error where the output says it again (a step, the summary, the report, the label): one error,
    # counted once, marked in every place. Each: {target: step|label|text, step | label | turn, start, end, quote}.
    repeats = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["read", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(target__in=AnnotationTarget.values), name="traceannotation_target_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(category__in=ErrorCategory.values), name="traceannotation_category_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(target=AnnotationTarget.TEXT)
                | models.Q(turn__isnull=False, start__isnull=False, end__gt=models.F("start")),
                name="traceannotation_text_has_span",
            ),
            models.CheckConstraint(
                condition=~models.Q(target=AnnotationTarget.LABEL) | models.Q(label__isnull=False),
                name="traceannotation_label_target_has_label",
            ),
            models.CheckConstraint(
                condition=~models.Q(target=AnnotationTarget.STEP) | models.Q(step__isnull=False),
                name="traceannotation_step_target_has_step",
            ),
        ]

    def __str__(self):
        return f"{self.get_category_display()} on {self.read}"
