"""Shapes of the reading API. Every response is made by one of the outgoing shapes (…Out), which list every
field explicitly: nothing else reaches a reader, and the OpenAPI schema is what is sent."""

from django.urls import reverse
from rest_framework import serializers

from readerstudy.models import Assignment, TimingEvent, TraceAnnotation

from .parsers import json_strings

MAX_EVENTS_PER_BATCH = 500


class TimingEventIn(serializers.Serializer):
    uuid = serializers.UUIDField()
    page_load_id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=TimingEvent.Type.choices)
    client_ms = serializers.FloatField(min_value=0, max_value=1e12)
    payload = serializers.DictField(required=False, default=dict)

    def validate_payload(self, value):
        if len(str(value)) > 2000:
            raise serializers.ValidationError("Event payloads are small; this one is over 2000 characters.")
        # PostgreSQL's jsonb cannot hold a NUL character: refused here as every CharField refuses it.
        if any("\x00" in text for text in json_strings(value)):
            raise serializers.ValidationError("Null characters are not allowed.")
        return value


class EventBatchIn(serializers.Serializer):
    events = TimingEventIn(many=True, allow_empty=True, max_length=MAX_EVENTS_PER_BATCH)


class EventBatchOut(serializers.Serializer):
    stored = serializers.IntegerField(help_text="New events; duplicates of stored ones are ignored.")


class ReportIn(serializers.Serializer):
    findings = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, default=list, max_length=100
    )
    report_findings = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    report_impression = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    ratings = serializers.DictField(child=serializers.IntegerField(allow_null=True), required=False, default=dict)
    problem_flagged = serializers.BooleanField(required=False, default=False)
    problem_reason = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    not_applicable = serializers.ListField(
        child=serializers.CharField(max_length=50),
        required=False,
        default=list,
        max_length=100,
        help_text="Keys of the questions answered N/A (only those with allows_not_applicable); not also in ratings.",
    )


class ClientTimesIn(serializers.Serializer):
    page_load_id = serializers.UUIDField(required=False)
    total_ms = serializers.IntegerField(min_value=0, required=False)
    hidden_ms = serializers.IntegerField(min_value=0, required=False)
    idle_ms = serializers.IntegerField(min_value=0, required=False)
    active_ms = serializers.IntegerField(required=False)


class SubmitIn(ReportIn):
    submission_uuid = serializers.UUIDField()
    events = TimingEventIn(many=True, required=False, default=list, max_length=MAX_EVENTS_PER_BATCH)
    client_times = ClientTimesIn(required=False, default=dict)


class FirstReportIn(serializers.Serializer):
    """The first report of a sequential read: findings and the answers to the questions asked before the AI."""

    findings = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, default=list, max_length=100
    )
    ratings = serializers.DictField(child=serializers.IntegerField(allow_null=True), required=False, default=dict)
    submission_uuid = serializers.UUIDField()
    events = TimingEventIn(many=True, required=False, default=list, max_length=MAX_EVENTS_PER_BATCH)


class FirstReportCommittedOut(serializers.Serializer):
    committed_at = serializers.DateTimeField()


class FirstReportOut(FirstReportCommittedOut):
    """The committed first report of a sequential read."""

    findings = serializers.ListField(child=serializers.CharField())
    ratings = serializers.DictField(child=serializers.IntegerField())


class SubmittedOut(serializers.Serializer):
    submitted_at = serializers.DateTimeField()
    active_ms = serializers.IntegerField()
    next_url = serializers.CharField(help_text="Workstation of the next case, or the page that ends the session.")


class ReportOut(serializers.Serializer):
    """A draft (or the read) as the page sends it, to restore the form."""

    findings = serializers.ListField(child=serializers.CharField())
    report_findings = serializers.CharField(allow_blank=True)
    report_impression = serializers.CharField(allow_blank=True)
    ratings = serializers.DictField(child=serializers.IntegerField())
    problem_flagged = serializers.BooleanField()
    problem_reason = serializers.CharField(allow_blank=True)
    not_applicable = serializers.ListField(child=serializers.CharField(), help_text="Questions answered N/A.")


class ErrorOut(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in words for the reader.")
    errors = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="Invalid fields (`ratings.confidence`, `events.0.client_ms`) with their messages.",
    )


class LabelOut(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


# A scale with more points than this is typed as a number (the 0–100 probability of abnormality), not chosen.
LONGEST_POINT_SCALE = 11


class AnswerInputField(serializers.ChoiceField):
    """How the page asks a question: a row of points, or a number field for a long scale."""

    def __init__(self, **kwargs):
        super().__init__(choices=["points", "number"], source="*", **kwargs)

    def to_representation(self, question):
        return "number" if question.scale_max - question.scale_min + 1 > LONGEST_POINT_SCALE else "points"


class QuestionOut(serializers.Serializer):
    key = serializers.CharField()
    text = serializers.CharField()
    scale_min = serializers.IntegerField()
    scale_max = serializers.IntegerField()
    min_anchor = serializers.CharField()
    max_anchor = serializers.CharField()
    required = serializers.BooleanField()
    allows_not_applicable = serializers.BooleanField(help_text="N/A may be answered instead of a value.")
    input = AnswerInputField(help_text="points: choose one; number: type a whole number on the scale.")
    before_ai = serializers.BooleanField(
        help_text="A sequential read asks it in the first report, before the AI output; false otherwise."
    )


class ImageOut(serializers.Serializer):
    url = serializers.CharField()
    label = serializers.CharField()


class NextOut(serializers.Serializer):
    url = serializers.CharField()
    images = ImageOut(many=True)


class CategoryOut(serializers.Serializer):
    value = serializers.CharField()
    name = serializers.CharField()
    needs_label = serializers.BooleanField(help_text="An error of this category must name the label it concerns.")


class ExclusiveLabelOut(serializers.Serializer):
    label = serializers.CharField()
    allowed_with = serializers.ListField(child=serializers.CharField())


class RulesOut(serializers.Serializer):
    """The server's rules the page applies before sending anything (the server applies them again)."""

    error_categories = CategoryOut(many=True, help_text="What a recorded error in the AI output may be.")
    exclusive_labels = ExclusiveLabelOut(
        many=True, help_text="Labels that exclude every other but a few (CheXpert's No Finding)."
    )


class StepOut(serializers.Serializer):
    index = serializers.IntegerField()
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    region = serializers.CharField()
    region_name = serializers.CharField()


class ReasoningOut(serializers.Serializer):
    turn = serializers.IntegerField()
    text = serializers.CharField()
    steps = StepOut(many=True)


class AIReportOut(serializers.Serializer):
    turn = serializers.IntegerField()
    text = serializers.CharField()


class AIContentOut(serializers.Serializer):
    labels = LabelOut(many=True)
    reasoning = ReasoningOut(required=False, help_text="Full AI reasoning only.")
    report = AIReportOut(required=False, allow_null=True, help_text="Full AI reasoning only; null: none.")

    def to_representation(self, content):
        """The parts the arm allows, and only those: a labels-only reading has no reasoning or report key."""
        return {key: value for key, value in super().to_representation(content).items() if key in content}


class AssignmentSummaryOut(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    study = serializers.CharField(source="study.title")
    session = serializers.IntegerField(source="session.index")
    position = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Assignment.Status.choices)
    url = serializers.SerializerMethodField()

    def get_url(self, assignment) -> str:
        return reverse("workstation", args=[assignment.public_id])


class AssignmentOut(AssignmentSummaryOut):
    arm_name = serializers.CharField(
        source="get_arm_display", help_text="What the reader is told about the reading condition."
    )
    ai = serializers.ChoiceField(choices=["none", "labels", "full"], help_text="What the AI endpoint will give.")
    instructions = serializers.CharField(source="study.instructions", allow_blank=True)
    session_done = serializers.IntegerField()
    session_total = serializers.IntegerField()
    images = ImageOut(many=True)
    labels = LabelOut(many=True)
    questions = QuestionOut(many=True)
    rules = RulesOut()
    next = NextOut(allow_null=True, help_text="The next case's workstation URL and image URLs, to prefetch.")
    sequential = serializers.BooleanField(
        help_text="A second read: commit a first report without the AI (unaided/) before the AI output is shown."
    )
    unaided = FirstReportOut(allow_null=True, help_text="The committed first report; null: none (yet).")


REPEAT_TARGETS = [TraceAnnotation.Target.STEP, TraceAnnotation.Target.LABEL, TraceAnnotation.Target.TEXT]
MAX_REPEATS = 20


class RepeatIn(serializers.Serializer):
    """Another place in the output where the same error is said."""

    target = serializers.ChoiceField(choices=[(t.value, t.label) for t in REPEAT_TARGETS])
    turn = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    start = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    end = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    step = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    label = serializers.CharField(required=False, allow_null=True, allow_blank=True, default=None, max_length=60)


class RepeatOut(serializers.Serializer):
    target = serializers.CharField()
    turn = serializers.IntegerField(required=False)
    start = serializers.IntegerField(required=False)
    end = serializers.IntegerField(required=False)
    quote = serializers.CharField(required=False)
    step = serializers.IntegerField(required=False)
    label = serializers.CharField(required=False)


class AnnotationIn(RepeatIn):
    """An annotation points as a repeat does (or at the whole output), and says what the error is."""

    id = serializers.UUIDField(help_text="Made by the browser; a repeated create returns the stored annotation.")
    target = serializers.ChoiceField(choices=TraceAnnotation.Target.choices)
    category = serializers.ChoiceField(choices=TraceAnnotation.Category.choices)
    clinically_significant = serializers.BooleanField()
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    repeats = RepeatIn(many=True, required=False, default=list, max_length=MAX_REPEATS)


class AnnotationUpdateIn(serializers.Serializer):
    category = serializers.ChoiceField(choices=TraceAnnotation.Category.choices, required=False)
    clinically_significant = serializers.BooleanField(required=False)
    label = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    repeats = RepeatIn(many=True, required=False, max_length=MAX_REPEATS)


class AnnotationOut(serializers.Serializer):
    id = serializers.UUIDField(source="client_uuid")
    target = serializers.CharField()
    turn = serializers.IntegerField(allow_null=True)
    start = serializers.IntegerField(allow_null=True)
    end = serializers.IntegerField(allow_null=True)
    quote = serializers.CharField(allow_blank=True)
    step = serializers.IntegerField(allow_null=True)
    label = serializers.CharField(source="label.slug", allow_null=True, default=None)
    category = serializers.CharField()
    category_name = serializers.CharField(source="get_category_display")
    clinically_significant = serializers.BooleanField()
    comment = serializers.CharField(allow_blank=True)
    repeats = RepeatOut(many=True, help_text="The other places in the output where this error is said.")
