"""The reading API: what the workstation page and the tests use (OpenAPI schema at /api/schema/).

Every endpoint answers only for the signed-in reader's own assignments (404 otherwise, so that other
assignments' existence is not revealed) and only with what the assignment's arm allows.
"""

from dataclasses import dataclass

from django.conf import settings
from django.http import FileResponse, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from readerstudy.core import dicom_store
from readerstudy.core.errors import Refused
from readerstudy.core.labels import exclusive_labels
from readerstudy.models import LABELLED_CATEGORIES, Assignment, CaseImage, ErrorCategory, Study
from readerstudy.reading import annotations as annotation_service
from readerstudy.reading.access import (
    ReadingRefused,
    kept_state,
    next_assignment,
    refuse_unless_readable,
    session_unread,
    with_reading_state,
)
from readerstudy.reading.ai_content import ai_content
from readerstudy.reading.reads import (
    Report,
    ReportInvalid,
    asked_before_ai,
    questions_for,
    record_events,
    refuse_until_ai_may_show,
    report_of,
    save_draft,
    start_reading,
    submit_read,
    vocabulary_for,
)
from readerstudy.reading.sequential import FirstReport, commit_first_read, first_read_of
from readerstudy.studies import served_images

from . import serializers as s
from .permissions import IsReader

# Every status an endpoint can answer is documented with the shape of its body; the API fuzzing test and the
# schema test hold the code to it.
NOT_FOUND = {404: OpenApiResponse(s.ErrorOut, description="Not one of your assignments (or no such thing)")}
REFUSED = {
    401: OpenApiResponse(s.ErrorOut, description="Not signed in (the page asks for a new login)"),
    403: OpenApiResponse(s.ErrorOut, description="Not signed in as a reader, or the study or the session is not open"),
    **NOT_FOUND,
    409: OpenApiResponse(
        s.ErrorOut,
        description="Not now: the read is submitted, or the cases before it in the session "
        "are not read yet (the randomised order)",
    ),
}
INVALID = {
    400: OpenApiResponse(s.ErrorOut, description="The body is malformed or a field is invalid; `errors` says which")
}
FIELDS_INVALID = "Please correct the marked fields."


class ReadingView(GenericAPIView):
    """A view of the signed-in reader's own assignments. With a `public_id` in its path the assignment is looked
    up once, among the reader's own only (so another's answers 404 and its existence is not revealed), before
    the handler runs: `self.assignment`."""

    permission_classes = GenericAPIView.permission_classes + [IsReader]
    lookup_field = "public_id"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema is generated with no user
            return Assignment.objects.none()
        own = Assignment.objects.filter(reader=self.request.user).select_related("study", "session", "case")
        # One assignment: with what the reading checks need, in the same query.
        return with_reading_state(own) if self.lookup_field in self.kwargs else own

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.lookup_field in kwargs:
            self.assignment = kept_state(self.get_object())

    def handle_exception(self, exc):
        if isinstance(exc, ReportInvalid):
            return Response(s.ErrorOut({"detail": FIELDS_INVALID, "errors": exc.errors}).data, status=400)
        if isinstance(exc, Refused):
            return Response(s.ErrorOut({"detail": exc.message}).data, status=exc.status)
        if isinstance(exc, ValidationError):  # a serializer's: its nested messages, one per field path
            return Response(s.ErrorOut({"detail": FIELDS_INVALID, "errors": field_errors(exc.detail)}).data, 400)
        return super().handle_exception(exc)


def field_errors(detail, path=()):
    """DRF's nested validation messages, one per field path: {"events.0.client_ms": "its first message"}."""
    if isinstance(detail, dict):
        items = detail.items()
    elif isinstance(detail, list) and detail and not all(isinstance(item, str) for item in detail):
        items = enumerate(detail)  # a list of items, each with its own messages
    else:
        message = detail[0] if isinstance(detail, list) and detail else detail
        return {".".join(map(str, path)) or "body": str(message or "Invalid.")}
    return {key: message for name, item in items for key, message in field_errors(item, (*path, name)).items()}


def workstation_url(assignment):
    return reverse("workstation", args=[assignment.public_id])


def images_of(case_ids):
    """{case id: its images in order}, in one query."""
    images = {case_id: [] for case_id in case_ids}
    for image in CaseImage.objects.filter(case__in=case_ids).order_by("index"):
        images[image.case_id].append(image)
    return images


def image_urls(public_id, images):
    """Opaque per assignment: the same case under another assignment has other addresses."""
    return [
        {"url": reverse("api-image", args=[public_id, position]), "label": _image_label(image)}
        for position, image in enumerate(images, start=1)
    ]


def _image_label(image):
    return image.view_position or ("Frontal" if image.index == 0 else f"Image {image.index + 1}")


@dataclass
class AssignmentDetail:
    """What the workstation is told about an assignment (AssignmentOut); the assignment's own fields (the
    summary's) are read from it."""

    assignment: Assignment
    ai: str
    session_done: int
    session_total: int
    images: list
    labels: list
    questions: list
    rules: dict
    next: dict | None
    sequential: bool
    unaided: object  # the committed UnaidedRead, or None

    def __getattr__(self, name):
        if name == "assignment":  # not set yet (while copying): no recursion
            raise AttributeError(name)
        return getattr(self.assignment, name)


@dataclass
class QuestionAsked:
    """A question as the assignment asks it (QuestionOut): the question's fields, and when it is asked."""

    question: object
    before_ai: bool

    def __getattr__(self, name):
        if name == "question":
            raise AttributeError(name)
        return getattr(self.question, name)


def page_rules(labels):
    return {
        "error_categories": [
            {"value": value, "name": name, "needs_label": value in LABELLED_CATEGORIES}
            for value, name in ErrorCategory.choices
        ],
        "exclusive_labels": [
            {"label": label, "allowed_with": allowed}
            for label, allowed in exclusive_labels(label.slug for label in labels).items()
        ],
    }


class AssignmentList(ReadingView):
    @extend_schema(
        responses={200: s.AssignmentSummaryOut(many=True), 401: REFUSED[401], 403: REFUSED[403]},
        summary="The reader's assignments in open studies",
    )
    def get(self, request):
        assignments = (
            self.get_queryset().filter(study__status=Study.Status.OPEN).order_by("study", "session__index", "position")
        )
        return Response(s.AssignmentSummaryOut(assignments, many=True).data)


class AssignmentDetailView(ReadingView):
    @extend_schema(
        responses={200: s.AssignmentOut, **REFUSED}, summary="One assignment: images, vocabulary, questions, next case"
    )
    def get(self, request, public_id):
        assignment = self.assignment
        refuse_unless_readable(assignment)
        start_reading(assignment)
        total = Assignment.objects.filter(session=assignment.session_id).count()
        following = next_assignment(assignment)
        images = images_of([assignment.case_id] + ([following.case_id] if following else []))
        content = ai_content(assignment)
        labels = vocabulary_for(assignment.study)
        detail = AssignmentDetail(
            assignment,
            ai="none" if content is None else ("full" if "reasoning" in content else "labels"),
            session_done=total - len(session_unread(assignment)),
            session_total=total,
            images=image_urls(assignment.public_id, images[assignment.case_id]),
            labels=labels,
            questions=[QuestionAsked(q, asked_before_ai(assignment, q)) for q in questions_for(assignment)],
            rules=page_rules(labels),
            next=following
            and {
                "url": workstation_url(following),
                "images": image_urls(following.public_id, images[following.case_id]),
            },
            sequential=assignment.is_sequential,
            unaided=first_read_of(assignment) if assignment.is_sequential else None,
        )
        return Response(s.AssignmentOut(detail).data)


class AssignmentAIContent(ReadingView):
    @extend_schema(
        responses={
            200: s.AIContentOut,
            **REFUSED,
            404: OpenApiResponse(s.ErrorOut, description="Not one of your assignments, or no AI in its arm"),
            409: OpenApiResponse(
                s.ErrorOut,
                description="Not yet: the image has not rendered, or the cases before it are not read (or it is "
                "submitted)",
            ),
        },
        summary="The AI output the assignment's arm allows",
    )
    def get(self, request, public_id):
        refuse_unless_readable(self.assignment)
        content = ai_content(self.assignment)
        if content is None:
            raise ReadingRefused("This reading has no AI output.", status=404)
        refuse_until_ai_may_show(self.assignment)
        # ai_content() builds exactly what the arm allows; the serializer sends exactly that.
        return Response(s.AIContentOut(content).data)


class AssignmentEvents(ReadingView):
    @extend_schema(
        request=s.EventBatchIn, responses={200: s.EventBatchOut, **INVALID, **REFUSED}, summary="Append timing events"
    )
    def post(self, request, public_id):
        batch = s.EventBatchIn(data=request.data)
        batch.is_valid(raise_exception=True)
        stored = record_events(self.assignment, batch.validated_data["events"])
        return Response(s.EventBatchOut({"stored": stored}).data)


class AssignmentFirstRead(ReadingView):
    @extend_schema(
        request=s.FirstReportIn,
        responses={
            200: s.FirstReportCommittedOut,
            201: s.FirstReportCommittedOut,
            **INVALID,
            **REFUSED,
            409: OpenApiResponse(
                s.ErrorOut,
                description="Not now: committed with another id, not a sequential reading, the image has not "
                "rendered, the read is submitted, or the cases before it are not read yet",
            ),
        },
        summary="Commit the first report of a sequential read, before the AI (idempotent by submission_uuid)",
    )
    def post(self, request, public_id):
        incoming = s.FirstReportIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        first, created = commit_first_read(
            self.assignment, data["submission_uuid"], FirstReport(data["findings"], data["ratings"]), data["events"]
        )
        return Response(
            s.FirstReportCommittedOut(first).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


def _report(validated):
    return Report(**{name: validated[name] for name in Report.__dataclass_fields__})


class AssignmentDraft(ReadingView):
    @extend_schema(responses={200: s.ReportOut, **REFUSED}, summary="The autosaved draft")
    def get(self, request, public_id):
        refuse_unless_readable(self.assignment)
        return Response(s.ReportOut(report_of(start_reading(self.assignment))).data)

    @extend_schema(
        request=s.ReportIn, responses={200: s.ReportOut, **INVALID, **REFUSED}, summary="Replace the draft (autosave)"
    )
    def put(self, request, public_id):
        incoming = s.ReportIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        saved = save_draft(self.assignment, _report(incoming.validated_data))
        return Response(s.ReportOut(saved).data)


class AssignmentSubmit(ReadingView):
    @extend_schema(
        request=s.SubmitIn,
        responses={
            200: s.SubmittedOut,
            201: s.SubmittedOut,
            **INVALID,
            **REFUSED,
            409: OpenApiResponse(
                s.ErrorOut, description="Submitted with another id, or the cases before it are not read yet"
            ),
        },
        summary="Submit the read (idempotent by submission_uuid)",
    )
    def post(self, request, public_id):
        incoming = s.SubmitIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        client_times = {k: str(v) if k == "page_load_id" else v for k, v in data["client_times"].items()}
        read, created = submit_read(
            self.assignment, data["submission_uuid"], _report(data), data["events"], client_times
        )
        following = next_assignment(self.assignment)
        body = {
            "submitted_at": read.submitted_at,
            "active_ms": read.active_ms,
            "next_url": workstation_url(following)
            if following
            else reverse("session-complete", args=[self.assignment.session_id]),
        }
        return Response(s.SubmittedOut(body).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class AnnotationList(ReadingView):
    @extend_schema(
        responses={200: s.AnnotationOut(many=True), **REFUSED}, summary="The reader's annotations on this AI output"
    )
    def get(self, request, public_id):
        annotations = annotation_service.readable_annotations(self.assignment)
        return Response(s.AnnotationOut(annotations, many=True).data)

    @extend_schema(
        request=s.AnnotationIn,
        responses={201: s.AnnotationOut, 200: s.AnnotationOut, **INVALID, **REFUSED},
        summary="Record an error in the AI output (idempotent by id)",
    )
    def post(self, request, public_id):
        incoming = s.AnnotationIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        annotation, created = annotation_service.create_annotation(self.assignment, incoming.validated_data)
        return Response(s.AnnotationOut(annotation).data, status=201 if created else 200)


class AnnotationDetail(ReadingView):
    @extend_schema(
        request=s.AnnotationUpdateIn,
        responses={200: s.AnnotationOut, **INVALID, **REFUSED},
        summary="Edit an annotation",
    )
    def patch(self, request, public_id, annotation_id):
        incoming = s.AnnotationUpdateIn(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        annotation = annotation_service.update_annotation(self.assignment, annotation_id, incoming.validated_data)
        return Response(s.AnnotationOut(annotation).data)

    @extend_schema(responses={204: None, **REFUSED}, summary="Remove an annotation")
    def delete(self, request, public_id, annotation_id):
        annotation_service.delete_annotation(self.assignment, annotation_id)
        return Response(status=204)


class AssignmentImage(ReadingView):
    """The assignment's own copy of its case's DICOM file (UIDs of its own), for the viewer's wadouri loader."""

    @extend_schema(
        responses={
            (200, "application/dicom"): OpenApiResponse(OpenApiTypes.BINARY, description="DICOM Part 10 file"),
            **REFUSED,
        },
        summary="An image of the case, as DICOM",
    )
    def get(self, request, public_id, position):
        assignment = self.assignment
        # The next case's images may be fetched ahead (prefetch), never a case further on.
        refuse_unless_readable(assignment, ahead=1)
        served = served_images.relative_path(assignment, position)
        if not dicom_store.absolute_path(served).is_file():
            # The first request for this image (usually the previous case's prefetch): write the reader's copy.
            served = self._write_served(assignment, position)
        name = served_images.download_name(assignment, position)
        if settings.USE_X_ACCEL_REDIRECT:
            response = HttpResponse(content_type="application/dicom")
            response["X-Accel-Redirect"] = settings.X_ACCEL_REDIRECT_PREFIX + served
            response["Content-Disposition"] = f'inline; filename="{name}"'
        else:
            response = FileResponse(
                dicom_store.absolute_path(served).open("rb"), content_type="application/dicom", filename=name
            )
        # Private caching lets the next case's prefetched images load from the browser's cache; an hour covers
        # a case, and logging out empties the cache (Clear-Site-Data).
        response["Cache-Control"] = "private, max-age=3600"
        return response

    @staticmethod
    def _write_served(assignment, position):
        images = list(assignment.case.images.order_by("index"))
        if not 1 <= position <= len(images):
            raise ReadingRefused("No such image.", status=404)
        if not dicom_store.absolute_path(images[position - 1].stored_path).is_file():
            raise PermissionDenied("The image file is missing from the store; tell the study coordinator.")
        return served_images.served_file(assignment, position, images[position - 1])
