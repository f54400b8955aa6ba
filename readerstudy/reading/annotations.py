"""Errors a reader records against the AI output they were shown; editable until the read is submitted.

Nothing here answers before the first image has rendered (the AI panel is not shown before it), and no
message tells which labels the AI gave: a label annotation may name any label the reader can choose from.
"""

from django.db import transaction

from readerstudy.models import LABELLED_CATEGORIES, Label, TraceAnnotation
from readerstudy.reading.access import ReadingRefused, refuse_unless_readable
from readerstudy.reading.ai_content import ai_content, annotatable_text
from readerstudy.reading.reads import ReportInvalid, lock_and_refresh, refuse_until_ai_may_show, start_reading

Target = TraceAnnotation.Target


def annotations_of(assignment):
    return TraceAnnotation.objects.filter(read__assignment=assignment).select_related("label")


def readable_annotations(assignment):
    """The reader's annotations, once the AI output may be shown."""
    refuse_unless_readable(assignment)
    _content_or_refuse(assignment)
    refuse_until_ai_may_show(assignment)
    return annotations_of(assignment)


def create_annotation(assignment, data):
    """Store the annotation; the same client id again returns the stored one unchanged. Returns (obj, created)."""
    with transaction.atomic():
        locked = _lock_writable(assignment)
        existing = TraceAnnotation.objects.filter(client_uuid=data["id"]).select_related("read").first()
        if existing:
            if existing.read.assignment_id != locked.pk:
                raise ReadingRefused("This annotation id belongs to another reading.")
            return existing, False
        content = _content_or_refuse(locked)
        fields = _target_fields(locked, content, data)
        fields["label"] = _label(locked, data)
        _require_label(data["category"], fields["label"])
        fields["repeats"] = _repeats(locked, content, data.get("repeats", []))
        annotation = TraceAnnotation.objects.create(
            client_uuid=data["id"],
            read=start_reading(locked),
            target=data["target"],
            category=data["category"],
            clinically_significant=data["clinically_significant"],
            comment=data.get("comment", ""),
            **fields,
        )
        return annotation, True


def update_annotation(assignment, annotation_id, data):
    with transaction.atomic():
        locked = _lock_writable(assignment)
        annotation = _find(locked, annotation_id)
        if "label" in data:
            annotation.label = _label(locked, data)
        if "repeats" in data:
            annotation.repeats = _repeats(locked, _content_or_refuse(locked), data["repeats"])
        for name in ("category", "clinically_significant", "comment"):
            if name in data:
                setattr(annotation, name, data[name])
        _require_label(annotation.category, annotation.label)
        annotation.save()
        return annotation


def delete_annotation(assignment, annotation_id):
    """Remove an annotation of an unsubmitted read; removing one that is already gone is not an error."""
    with transaction.atomic():
        locked = _lock_writable(assignment)
        TraceAnnotation.objects.filter(read__assignment=locked, client_uuid=annotation_id).delete()


def _lock_writable(assignment):
    locked = lock_and_refresh(assignment)
    refuse_unless_readable(locked)
    _content_or_refuse(locked)
    refuse_until_ai_may_show(locked)
    return locked


def _find(assignment, annotation_id):
    annotation = annotations_of(assignment).filter(client_uuid=annotation_id).first()
    if annotation is None:
        raise ReadingRefused("No such annotation.", status=404)
    return annotation


def _content_or_refuse(assignment):
    content = ai_content(assignment)
    if content is None:
        raise ReadingRefused("This reading has no AI output to annotate.", status=404)
    return content


def _target_fields(assignment, content, data):
    target = data["target"]
    if target == Target.TEXT:
        return _text_fields(assignment, data)
    if target == Target.STEP:
        steps = content.get("reasoning", {}).get("steps", [])
        if data.get("step") is None or not 0 <= data["step"] < len(steps):
            raise ReportInvalid({"step": "Choose one of the reasoning steps shown."})
        return {"step": data["step"]}
    if target == Target.LABEL and not data.get("label"):
        raise ReportInvalid({"label": "Choose the label this error concerns."})
    return {}


def _repeats(assignment, content, repeats):
    """The other places of the same error, each checked as an annotation's own target is (shown steps, spans
    of shown text, labels of the vocabulary), in the stored shape; the messages name the repeat's position."""
    stored = []
    for i, repeat in enumerate(repeats):
        try:
            if repeat["target"] == Target.LABEL:
                label = _label(assignment, repeat)
                if label is None:
                    raise ReportInvalid({"label": "Choose the label this repeat concerns."})
                stored.append({"target": Target.LABEL, "label": label.slug})
            else:
                stored.append({"target": repeat["target"], **_target_fields(assignment, content, repeat)})
        except ReportInvalid as invalid:
            raise ReportInvalid({f"repeats.{i}.{name}": message for name, message in invalid.errors.items()}) from None
    return stored


def _require_label(category, label):
    if category in LABELLED_CATEGORIES and label is None:
        raise ReportInvalid({"label": "Choose the label this error concerns: the error audit counts it by its label."})


def _text_fields(assignment, data):
    turn, start, end = data.get("turn"), data.get("start"), data.get("end")
    text = annotatable_text(assignment, turn) if turn is not None else None
    if text is None:
        raise ReportInvalid({"turn": "Select text in the reasoning or the report shown."})
    if start is None or end is None or not 0 <= start < end <= len(text):
        raise ReportInvalid({"start": f"The selection must lie within the text (0–{len(text)} characters)."})
    return {"turn": turn, "start": start, "end": end, "quote": text[start:end]}


def _label(assignment, data):
    """The label the error concerns: any label of the study's vocabulary (a missed finding names one the AI did
    not give), so that no answer tells which labels the AI gave."""
    slug = data.get("label")
    if not slug:
        return None
    label = Label.objects.filter(vocabulary=assignment.study.label_vocabulary, slug=slug).first()
    if label is None:
        raise ReportInvalid({"label": f"Unknown label: {slug}."})
    return label
