"""Shapes of the reading API. Outgoing shapes list every field explicitly: nothing else reaches a reader."""

from rest_framework import serializers

from readerstudy.models import TimingEvent, TraceAnnotation

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


class SubmittedOut(serializers.Serializer):
    submitted_at = serializers.DateTimeField()
    active_ms = serializers.IntegerField()
    next_url = serializers.CharField(allow_null=True, help_text="Workstation of the next case, or the worklist.")


class LabelOut(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class QuestionOut(serializers.Serializer):
    key = serializers.CharField()
    text = serializers.CharField()
    scale_min = serializers.IntegerField()
    scale_max = serializers.IntegerField()
    min_anchor = serializers.CharField()
    max_anchor = serializers.CharField()
    required = serializers.BooleanField()


class ImageOut(serializers.Serializer):
    url = serializers.CharField()
    label = serializers.CharField()


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
    reasoning = ReasoningOut(required=False)
    report = AIReportOut(required=False, allow_null=True)


class AssignmentSummaryOut(serializers.Serializer):
    id = serializers.CharField()
    study = serializers.CharField()
    session = serializers.IntegerField()
    position = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.CharField()


class AssignmentOut(AssignmentSummaryOut):
    arm_name = serializers.CharField(help_text="What the reader is told about the reading condition.")
    ai = serializers.ChoiceField(choices=["none", "labels", "full"], help_text="What the AI endpoint will give.")
    instructions = serializers.CharField(allow_blank=True)
    session_done = serializers.IntegerField()
    session_total = serializers.IntegerField()
    images = ImageOut(many=True)
    labels = LabelOut(many=True)
    questions = QuestionOut(many=True)
    next = serializers.DictField(
        allow_null=True, help_text="The next case's workstation URL and image URLs, to prefetch."
    )


class AnnotationIn(serializers.Serializer):
    id = serializers.UUIDField(help_text="Made by the browser; a repeated create returns the stored annotation.")
    target = serializers.ChoiceField(choices=TraceAnnotation.Target.choices)
    turn = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    start = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    end = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    step = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    label = serializers.CharField(required=False, allow_null=True, allow_blank=True, default=None)
    category = serializers.ChoiceField(choices=TraceAnnotation.Category.choices)
    clinically_significant = serializers.BooleanField()
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class AnnotationUpdateIn(serializers.Serializer):
    category = serializers.ChoiceField(choices=TraceAnnotation.Category.choices, required=False)
    clinically_significant = serializers.BooleanField(required=False)
    label = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000)


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
