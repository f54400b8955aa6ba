"""The reading API: access, drafts, submit (validation, idempotency, derived times), events and annotations."""

import io
import uuid
from datetime import timedelta

import pydicom
import pytest
from django.urls import reverse
from django.utils import timezone

from readerstudy.core import dicom_store
from readerstudy.models import (
    ABNORMALITY_KEY,
    Arm,
    Assignment,
    ErrorCategory,
    Label,
    Read,
    Study,
    TimingEvent,
    TraceAnnotation,
)
from tests.factories import UserFactory
from tests.reading_setup import open_study_with_assignments

pytestmark = pytest.mark.django_db


@pytest.fixture
def study_and_assignments(demo_case_set, reader):
    # Each test opens the arm it is about; the enforced reading order has its own tests (test_reading_order.py).
    return open_study_with_assignments(demo_case_set, reader, canaries=True, free_order=True)


@pytest.fixture
def assignments(study_and_assignments):
    return study_and_assignments[1]


@pytest.fixture
def reader_client(client, reader):
    client.force_login(reader)
    return client


def url(name, assignment, *args):
    return reverse(name, args=[assignment.public_id, *args])


def event(type_, ms, page_load_id="7d1f3c52-8f0e-4c51-9d8b-2a6f8e0c1a11", **payload):
    return {"uuid": str(uuid.uuid4()), "page_load_id": page_load_id, "type": type_, "client_ms": ms, "payload": payload}


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


COMPLETE_REPORT = {
    "findings": ["consolidation", "pleural-effusion"],
    "report_findings": "Right lower zone consolidation.",
    "report_impression": "Pneumonia.",
    "ratings": {"confidence": 4},
}


def full_report(assignment):
    """A report answering every question the assignment's arm asks."""
    keys = [q.key for q in assignment.study.questions.all() if q.is_asked_in(assignment.arm)]
    return {**COMPLETE_REPORT, "ratings": {key: 3 for key in keys}}


def submit(client, assignment, submission_uuid=None, events=(), **report):
    body = {
        **full_report(assignment),
        **report,
        "submission_uuid": str(submission_uuid or uuid.uuid4()),
        "events": list(events),
    }
    return post(client, url("api-submit", assignment), body)


# --- access -------------------------------------------------------------------------------------------------


def test_anonymous_requests_get_401_so_the_page_can_ask_for_a_new_login(client, assignments):
    response = client.get(url("api-assignment", assignments[Arm.UNAIDED]))
    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication credentials were not provided."


@pytest.mark.parametrize(
    "name,args",
    [("api-assignment", ()), ("api-ai", ()), ("api-draft", ()), ("api-annotations", ()), ("api-image", (1,))],
)
def test_another_reader_cannot_reach_an_assignment(client, assignments, name, args):
    other = UserFactory(roles=["reader"])
    client.force_login(other)
    response = client.get(url(name, assignments[Arm.FULL_REASONING], *args))
    assert response.status_code == 404


def test_another_reader_cannot_write_to_an_assignment(client, assignments):
    client.force_login(UserFactory(roles=["reader"]))
    target = assignments[Arm.UNAIDED]
    assert post(client, url("api-events", target), {"events": [event("image_rendered", 1)]}).status_code == 404
    assert submit(client, target).status_code == 404
    assert not TimingEvent.objects.exists() and not Read.objects.filter(submitted_at__isnull=False).exists()


def test_a_coordinator_without_the_reader_role_cannot_use_the_reading_api(client, coordinator, assignments):
    client.force_login(coordinator)
    response = client.get(reverse("api-assignments"))
    assert (response.status_code, response.json()["detail"]) == (403, "Only readers can use the reading API.")


def test_the_dicom_file_is_streamed_only_while_the_assignment_is_open(reader_client, assignments):
    assignment = assignments[Arm.UNAIDED]
    response = reader_client.get(url("api-image", assignment, 1))
    stored = assignment.case.images.get(index=0)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/dicom"
    assert response["Content-Disposition"] == f'inline; filename="{assignment.public_id}-1.dcm"'
    served = pydicom.dcmread(io.BytesIO(b"".join(response.streaming_content)))
    original = pydicom.dcmread(dicom_store.absolute_path(stored.stored_path))
    assert served.PixelData == original.PixelData and served.SOPInstanceUID != original.SOPInstanceUID
    assert reader_client.get(url("api-image", assignment, 2)).status_code == 404

    Study.objects.filter(pk=assignment.study_id).update(status=Study.Status.CLOSED)
    response = reader_client.get(url("api-image", assignment, 1))
    assert (response.status_code, response.json()["detail"]) == (403, "This study is not open for reading.")


def test_a_session_that_has_not_opened_serves_nothing(reader_client, assignments):
    assignment = assignments[Arm.UNAIDED]
    opens = timezone.now() + timedelta(days=3)
    assignment.session.opens_at = opens
    assignment.session.save()
    for name, args in [("api-assignment", ()), ("api-image", (1,)), ("api-draft", ())]:
        response = reader_client.get(url(name, assignment, *args))
        assert response.status_code == 403
        assert response.json()["detail"].startswith("This session opens on ")


def test_a_submitted_read_closes_its_images_and_draft(
    reader_client, assignments, dicom_store, django_capture_on_commit_callbacks
):
    assignment = assignments[Arm.UNAIDED]
    assert reader_client.get(url("api-image", assignment, 1)).status_code == 200
    served = dicom_store / "served" / assignment.public_id
    assert [p.name for p in served.iterdir()] == ["1.dcm"]
    with django_capture_on_commit_callbacks(execute=True):
        assert submit(reader_client, assignment).status_code == 201
    assert not served.exists()  # the reader's copy goes with the submit
    assert reader_client.get(url("api-image", assignment, 1)).status_code == 409
    response = post(reader_client, url("api-draft", assignment), {})
    assert response.status_code == 405
    response = reader_client.put(url("api-draft", assignment), COMPLETE_REPORT, content_type="application/json")
    assert (response.status_code, response.json()["detail"]) == (409, "This read is submitted and final.")


def test_x_accel_redirect_hands_the_file_to_nginx(reader_client, assignments, settings):
    settings.USE_X_ACCEL_REDIRECT = True
    assignment = assignments[Arm.UNAIDED]
    response = reader_client.get(url("api-image", assignment, 1))
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected-dicom/served/{assignment.public_id}/1.dcm"
    assert response["Content-Disposition"] == f'inline; filename="{assignment.public_id}-1.dcm"'
    assert response.content == b""
    # The file nginx will send is there, readable by nginx's workers through the group, by nobody else.
    served = settings.DICOM_STORE_DIR / "served" / assignment.public_id / "1.dcm"
    assert served.is_file() and served.stat().st_mode & 0o777 == 0o640
    assert served.parent.stat().st_mode & 0o777 == 0o750


def test_image_addresses_differ_between_assignments_of_the_same_case(demo_case_set, reader, reader_client):
    study, first = open_study_with_assignments(demo_case_set, reader, arms=[Arm.UNAIDED])
    second_study, second = open_study_with_assignments(demo_case_set, reader, arms=[Arm.UNAIDED])
    a, b = first[Arm.UNAIDED], second[Arm.UNAIDED]
    assert a.case_id == b.case_id
    urls = [reader_client.get(url("api-assignment", x)).json()["images"][0]["url"] for x in (a, b)]
    assert urls[0] != urls[1] and a.case.public_id not in urls[0] + urls[1]


# --- assignment detail and AI content ------------------------------------------------------------------------


def test_the_detail_lists_images_vocabulary_the_arms_questions_and_the_next_case(reader_client, assignments):
    assignment = assignments[Arm.LABELS_ONLY]
    body = reader_client.get(url("api-assignment", assignment)).json()
    assert body["ai"] == "labels"
    assert body["arm_name"] == "AI labels only"
    assert (body["session"], body["position"], body["session_done"], body["session_total"]) == (1, 2, 0, 3)
    views = list(assignment.case.images.order_by("index").values_list("view_position", flat=True))
    assert body["images"] == [
        {"url": url("api-image", assignment, n), "label": view} for n, view in enumerate(views, start=1)
    ]
    assert [label["slug"] for label in body["labels"]][:3] == ["atelectasis", "cardiomegaly", "consolidation"]
    assert len(body["labels"]) == 14
    assert [q["key"] for q in body["questions"]] == ["confidence", "usefulness", "trust"]
    following = assignments[Arm.FULL_REASONING]
    assert body["next"]["url"] == reverse("workstation", args=[following.public_id])
    assert body["next"]["images"][0]["url"] == url("api-image", following, 1)
    assert Assignment.objects.get(pk=assignment.pk).status == Assignment.Status.STARTED


def test_the_detail_sends_the_rules_the_page_applies(demo_case_set, reader, reader_client):
    _, by_arm = open_study_with_assignments(demo_case_set, reader, arms=[Arm.UNAIDED], asks_abnormality=True)
    body = reader_client.get(url("api-assignment", by_arm[Arm.UNAIDED])).json()
    assert body["rules"] == {
        "error_categories": [
            {
                "value": value,
                "name": name,
                "needs_label": value in ("false_finding", "missed_finding", "wrong_location"),
            }
            for value, name in ErrorCategory.choices
        ],
        "exclusive_labels": [{"label": "no-finding", "allowed_with": ["support-devices"]}],
    }
    # Unaided: the confidence question (1–5) and the probability of abnormality (0–100).
    assert {q["key"]: q["input"] for q in body["questions"]} == {"confidence": "points", ABNORMALITY_KEY: "number"}


def test_a_custom_vocabulary_has_its_own_labels_and_no_no_finding_rule(demo_case_set, reader, reader_client):
    for order, (slug, name) in enumerate([("nodule", "Nodule"), ("normal-heart", "Normal heart")]):
        Label.objects.create(vocabulary="nodules", slug=slug, name=name, order=order)
    _, by_arm = open_study_with_assignments(demo_case_set, reader, arms=[Arm.UNAIDED], label_vocabulary="nodules")
    assignment = by_arm[Arm.UNAIDED]
    body = reader_client.get(url("api-assignment", assignment)).json()
    assert (body["labels"], body["rules"]["exclusive_labels"]) == (
        [{"slug": "nodule", "name": "Nodule"}, {"slug": "normal-heart", "name": "Normal heart"}],
        [],
    )
    refused = submit(reader_client, assignment, findings=[], ratings={"confidence": 3})
    assert refused.json()["errors"]["findings"] == "Choose at least one finding."
    edema = submit(reader_client, assignment, findings=["edema"], ratings={"confidence": 3})
    assert edema.json()["errors"] == {"findings": "Unknown finding(s): edema."}
    accepted = submit(reader_client, assignment, findings=["nodule", "normal-heart"], ratings={"confidence": 3})
    assert accepted.status_code == 201
    read = Read.objects.get(assignment=assignment)
    assert set(read.finding_links.values_list("label__slug", flat=True)) == {"nodule", "normal-heart"}


def test_the_ai_content_waits_for_the_first_rendered_image(reader_client, assignments):
    assignment = assignments[Arm.FULL_REASONING]
    response = reader_client.get(url("api-ai", assignment))
    assert (response.status_code, response.json()["detail"]) == (
        409,
        "The AI output is shown once the image has appeared.",
    )
    post(reader_client, url("api-events", assignment), {"events": [event("image_rendered", 900)]})
    body = reader_client.get(url("api-ai", assignment)).json()
    assert set(body) == {"labels", "reasoning", "report"}
    assert [label["name"] for label in body["labels"]] == ["Consolidation", "Pleural Effusion", "Pneumonia"]
    assert [s["region_name"] for s in body["reasoning"]["steps"]] == [
        "Image quality",
        "Devices",
        "Right lung",
        "Left lung",
        "Pleura",
        "Heart",
        "Overall",
    ]
    first = body["reasoning"]["steps"][0]
    assert body["reasoning"]["text"][first["start"] : first["end"]].startswith("Image quality: the frontal")
    assert body["report"]["turn"] == 1 and body["report"]["text"].startswith("FINDINGS:")


def test_labels_only_gets_labels_alone_and_unaided_gets_404(reader_client, assignments):
    for arm in (Arm.LABELS_ONLY, Arm.UNAIDED):
        post(reader_client, url("api-events", assignments[arm]), {"events": [event("image_rendered", 5)]})
    body = reader_client.get(url("api-ai", assignments[Arm.LABELS_ONLY])).json()
    assert body == {
        "labels": [
            {"slug": "consolidation", "name": "Consolidation"},
            {"slug": "pleural-effusion", "name": "Pleural Effusion"},
            {"slug": "pneumonia", "name": "Pneumonia"},
        ]
    }
    response = reader_client.get(url("api-ai", assignments[Arm.UNAIDED]))
    assert (response.status_code, response.json()["detail"]) == (404, "This reading has no AI output.")


# --- events -------------------------------------------------------------------------------------------------


def test_events_are_stored_with_the_servers_time_and_duplicates_are_ignored(reader_client, assignments):
    assignment = assignments[Arm.UNAIDED]
    batch = [event("page_shown", 0, visibility="visible"), event("image_rendered", 812.5)]
    before = timezone.now()
    assert post(reader_client, url("api-events", assignment), {"events": batch}).json() == {"stored": 2}
    assert post(reader_client, url("api-events", assignment), {"events": batch}).json() == {"stored": 0}
    stored = list(TimingEvent.objects.filter(assignment=assignment).order_by("client_ms"))
    assert [(e.type, e.client_ms, e.payload) for e in stored] == [
        ("page_shown", 0.0, {"visibility": "visible"}),
        ("image_rendered", 812.5, {}),
    ]
    assert all(e.server_at >= before for e in stored)
    assert Read.objects.get(assignment=assignment).first_image_at == stored[1].server_at
    # An event repeated inside one batch is stored once, and counted once.
    again = event("input", 900.0)
    assert post(reader_client, url("api-events", assignment), {"events": [again, again]}).json() == {"stored": 1}
    assert TimingEvent.objects.filter(assignment=assignment).count() == 3


def test_a_bad_event_batch_is_refused_whole(reader_client, assignments):
    assignment = assignments[Arm.UNAIDED]
    batch = [event("image_rendered", 1), event("teleported", 2), {**event("input", -5)}]
    response = post(reader_client, url("api-events", assignment), {"events": batch})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Please correct the marked fields.",
        "errors": {
            "events.1.type": '"teleported" is not a valid choice.',
            "events.2.client_ms": "Ensure this value is greater than or equal to 0.",
        },
    }
    assert not TimingEvent.objects.exists()


def test_events_after_submission_are_refused(reader_client, assignments):
    assignment = assignments[Arm.UNAIDED]
    submit(reader_client, assignment)
    response = post(reader_client, url("api-events", assignment), {"events": [event("input", 99)]})
    assert (response.status_code, response.json()["detail"]) == (409, "This read is submitted and final.")


# --- drafts -------------------------------------------------------------------------------------------------


def test_a_draft_is_saved_and_restored(reader_client, assignments):
    assignment = assignments[Arm.FULL_REASONING]
    draft = {
        "findings": ["pneumothorax"],
        "report_findings": "Apical pneumothorax?",
        "report_impression": "",
        "ratings": {"confidence": 2},
        "not_applicable": [],
        "problem_flagged": False,
        "problem_reason": "",
    }
    response = reader_client.put(url("api-draft", assignment), draft, content_type="application/json")
    assert response.status_code == 200
    assert reader_client.get(url("api-draft", assignment)).json() == draft
    draft["findings"], draft["ratings"] = ["no-finding"], {"trust": 5}
    reader_client.put(url("api-draft", assignment), draft, content_type="application/json")
    assert reader_client.get(url("api-draft", assignment)).json() == draft
    read = Read.objects.get(assignment=assignment)
    # A draft is one document until the submit: no finding or rating rows yet.
    assert read.submitted_at is None
    assert read.draft == {"findings": ["no-finding"], "ratings": {"trust": 5}, "not_applicable": []}
    assert not read.finding_links.exists() and not read.ratings.exists()


def test_a_draft_with_conflicting_findings_is_refused_with_a_message(reader_client, assignments):
    response = reader_client.put(
        url("api-draft", assignments[Arm.UNAIDED]),
        {"findings": ["no-finding", "edema"]},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "findings": "“No Finding” cannot be combined with other findings except Support Devices."
    }


# --- submit -------------------------------------------------------------------------------------------------


def test_submit_stores_the_read_with_times_derived_from_its_events(reader_client, assignments):
    assignment = assignments[Arm.UNAIDED]
    post(
        reader_client,
        url("api-events", assignment),
        {"events": [event("page_shown", 0), event("image_rendered", 1_000), event("hidden", 11_000)]},
    )
    events = [event("visible", 16_000), event("input", 20_000), event("submit", 31_000)]
    client_times = {"total_ms": 30_000, "hidden_ms": 5_000, "idle_ms": 0, "active_ms": 25_000}
    response = submit(
        reader_client, assignment, events=events, client_times=client_times, findings=["no-finding", "support-devices"]
    )
    assert response.status_code == 201
    assert response.json()["active_ms"] == 25_000
    assert response.json()["next_url"] == reverse("workstation", args=[assignments[Arm.LABELS_ONLY].public_id])
    read = Read.objects.get(assignment=assignment)
    assert (read.total_ms, read.hidden_ms, read.idle_ms, read.active_ms) == (30_000, 5_000, 0, 25_000)
    assert read.client_times == client_times
    assert sorted(read.finding_links.values_list("label__slug", flat=True)) == ["no-finding", "support-devices"]
    assert dict(read.ratings.values_list("question__key", "value")) == {"confidence": 3}
    assert (read.report_findings, read.report_impression) == ("Right lower zone consolidation.", "Pneumonia.")
    assert TimingEvent.objects.filter(assignment=assignment).count() == 6
    assert Assignment.objects.get(pk=assignment.pk).status == Assignment.Status.SUBMITTED


def test_the_same_submission_twice_returns_the_same_read_and_another_gets_409(reader_client, assignments):
    assignment = assignments[Arm.UNAIDED]
    submission = uuid.uuid4()
    first = submit(reader_client, assignment, submission)
    replay = submit(reader_client, assignment, submission, report_impression="Changed my mind.")
    other = submit(reader_client, assignment)
    assert (first.status_code, replay.status_code, other.status_code) == (201, 200, 409)
    assert replay.json() == first.json()
    assert other.json()["detail"] == "This read was already submitted; a submitted read is final."
    read = Read.objects.get(assignment=assignment)
    assert (read.client_submission_uuid, read.report_impression) == (submission, "Pneumonia.")


def test_a_submission_id_cannot_finalise_a_second_read(reader_client, assignments):
    submission = uuid.uuid4()
    submit(reader_client, assignments[Arm.UNAIDED], submission)
    response = submit(reader_client, assignments[Arm.LABELS_ONLY], submission)
    assert (response.status_code, response.json()["detail"]) == (409, "This submission id belongs to another read.")
    assert not Read.objects.filter(assignment=assignments[Arm.LABELS_ONLY], submitted_at__isnull=False).exists()


def test_an_incomplete_read_is_refused_with_a_message_per_field(reader_client, assignments):
    assignment = assignments[Arm.FULL_REASONING]
    response = submit(
        reader_client,
        assignment,
        findings=[],
        report_findings=" ",
        report_impression="",
        ratings={"confidence": 9, "usefulness": 2},
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Please correct the marked fields.",
        "errors": {
            "findings": "Choose at least one finding, or “No Finding”.",
            "report_findings": "Write the report: findings, impression or both.",
            "ratings.confidence": "Choose a whole number from 1 to 5.",
            "ratings.trust": "Answer this question.",
            "ratings.reasoning_accuracy": "Answer this question.",
            "ratings.uncertainty_qualified": "Answer this question.",
        },
    }
    assert not Read.objects.filter(submitted_at__isnull=False).exists()


def test_unknown_findings_and_questions_of_other_arms_are_refused(reader_client, assignments):
    response = submit(
        reader_client, assignments[Arm.UNAIDED], findings=["dragon"], ratings={"confidence": 3, "trust": 4}
    )
    assert response.json()["errors"] == {
        "findings": "Unknown finding(s): dragon.",
        "ratings.trust": "This question is not asked in this reading.",
    }


def test_a_flagged_case_needs_only_its_reason(reader_client, assignments):
    assignment = assignments[Arm.UNAIDED]
    response = submit(
        reader_client,
        assignment,
        findings=[],
        report_findings="",
        report_impression="",
        ratings={},
        problem_flagged=True,
        problem_reason="",
    )
    assert response.json()["errors"] == {"problem_reason": "Say what is wrong with this case."}
    response = submit(
        reader_client,
        assignment,
        findings=[],
        report_findings="",
        report_impression="",
        ratings={},
        problem_flagged=True,
        problem_reason="Image cut off at the bases.",
    )
    assert response.status_code == 201
    read = Read.objects.get(assignment=assignment)
    assert (read.problem_flagged, read.problem_reason) == (True, "Image cut off at the bases.")


def test_malformed_payloads_get_400_not_500(reader_client, assignments):
    assignment = assignments[Arm.UNAIDED]
    for body in ("not json", '{"submission_uuid": "nope"}', '{"findings": "edema"}', "[]"):
        response = reader_client.post(url("api-submit", assignment), body, content_type="application/json")
        assert response.status_code == 400, body


# --- annotations --------------------------------------------------------------------------------------------


def annotation(**fields):
    return {"id": str(uuid.uuid4()), "category": "false_finding", "clinically_significant": True, **fields}


def show_image(client, *assignments):
    """The browser's first-image event: the AI output (and so annotating it) becomes available."""
    for assignment in assignments:
        post(client, url("api-events", assignment), {"events": [event("image_rendered", 5)]})


def test_a_text_annotation_stores_exact_offsets_and_the_quoted_text(reader_client, assignments):
    assignment = assignments[Arm.FULL_REASONING]
    post(reader_client, url("api-events", assignment), {"events": [event("image_rendered", 5)]})
    ai = reader_client.get(url("api-ai", assignment)).json()
    text = ai["reasoning"]["text"]
    start = text.index("a rounded opacity")
    body = annotation(
        target="text",
        turn=0,
        start=start,
        end=start + len("a rounded opacity"),
        label="lung-lesion",
        comment="It is consolidation.",
    )
    first = post(reader_client, url("api-annotations", assignment), body)
    again = post(reader_client, url("api-annotations", assignment), body)
    assert (first.status_code, again.status_code) == (201, 200)
    stored = TraceAnnotation.objects.get()
    assert (stored.target, stored.turn, stored.start, stored.quote, stored.label.slug) == (
        "text",
        0,
        start,
        "a rounded opacity",
        "lung-lesion",
    )
    assert first.json()["category_name"] == "False finding"


def test_an_annotation_in_the_report_turn_and_on_a_step_and_the_whole_output(reader_client, assignments):
    assignment = assignments[Arm.FULL_REASONING]
    post(reader_client, url("api-events", assignment), {"events": [event("image_rendered", 5)]})
    report = reader_client.get(url("api-ai", assignment)).json()["report"]["text"]
    start = report.index("parapneumonic")
    for body in (
        annotation(target="text", turn=1, start=start, end=start + 13, category="wrong_severity"),
        annotation(target="step", step=4, category="faulty_reasoning"),
        annotation(target="output", category="missed_finding", label="cardiomegaly", clinically_significant=False),
    ):
        assert post(reader_client, url("api-annotations", assignment), body).status_code == 201
    assert [(a.target, a.quote, a.step) for a in TraceAnnotation.objects.order_by("id")] == [
        ("text", "parapneumonic", None),
        ("step", "", 4),
        ("output", "", None),
    ]


@pytest.mark.parametrize(
    "body,field",
    [
        (annotation(target="text", turn=0, start=10, end=5000), "start"),
        (annotation(target="text", turn=2, start=0, end=5), "turn"),
        (annotation(target="step", step=99), "step"),
        (annotation(target="label", label="broken-heart"), "label"),
        (annotation(target="label"), "label"),
    ],
)
def test_annotations_outside_what_was_shown_are_refused(reader_client, assignments, body, field):
    show_image(reader_client, assignments[Arm.FULL_REASONING])
    response = post(reader_client, url("api-annotations", assignments[Arm.FULL_REASONING]), body)
    assert response.status_code == 400 and field in response.json()["errors"]
    assert not TraceAnnotation.objects.exists()


def test_labels_only_annotations_name_labels_and_cannot_quote_text(reader_client, assignments):
    assignment = assignments[Arm.LABELS_ONLY]
    show_image(reader_client, assignment)
    ok = post(reader_client, url("api-annotations", assignment), annotation(target="label", label="pneumonia"))
    text = post(reader_client, url("api-annotations", assignment), annotation(target="text", turn=0, start=0, end=5))
    assert (ok.status_code, text.status_code) == (201, 400)
    response = post(reader_client, url("api-annotations", assignments[Arm.UNAIDED]), annotation(target="output"))
    assert (response.status_code, response.json()["detail"]) == (404, "This reading has no AI output to annotate.")


def test_annotations_are_editable_until_submit_and_final_after(reader_client, assignments):
    assignment = assignments[Arm.LABELS_ONLY]
    show_image(reader_client, assignment)
    body = annotation(target="label", label="pneumonia")
    post(reader_client, url("api-annotations", assignment), body)
    detail = url("api-annotation", assignment, body["id"])
    response = reader_client.patch(
        detail, {"category": "other", "comment": "Unclear."}, content_type="application/json"
    )
    assert (response.status_code, response.json()["category"], response.json()["comment"]) == (200, "other", "Unclear.")
    second = annotation(target="output", category="missed_finding", label="cardiomegaly")
    assert post(reader_client, url("api-annotations", assignment), second).status_code == 201
    assert reader_client.delete(url("api-annotation", assignment, second["id"])).status_code == 204
    assert submit(reader_client, assignment).status_code == 201
    assert reader_client.patch(detail, {"comment": "x"}, content_type="application/json").status_code == 409
    assert reader_client.delete(detail).status_code == 409
    assert list(TraceAnnotation.objects.values_list("category", "comment")) == [("other", "Unclear.")]


def test_an_error_the_audit_counts_by_its_label_must_name_it(reader_client, assignments):
    """False and missed findings and wrong locations are matched to the AI's errors by label: without one, the
    annotation could never count, so it is refused, on creation and when an edit would leave it without."""
    assignment = assignments[Arm.FULL_REASONING]
    show_image(reader_client, assignment)
    message = "Choose the label this error concerns: the error audit counts it by its label."
    for category in ("false_finding", "missed_finding", "wrong_location"):
        response = post(
            reader_client, url("api-annotations", assignment), annotation(target="step", step=2, category=category)
        )
        assert (response.status_code, response.json()["errors"]) == (400, {"label": message})
    other = annotation(target="step", step=2, category="faulty_reasoning")
    assert post(reader_client, url("api-annotations", assignment), other).status_code == 201
    edit = reader_client.patch(
        url("api-annotation", assignment, other["id"]), {"category": "wrong_location"}, content_type="application/json"
    )
    assert (edit.status_code, edit.json()["errors"]) == (400, {"label": message})
    both = reader_client.patch(
        url("api-annotation", assignment, other["id"]),
        {"category": "wrong_location", "label": "pleural-effusion"},
        content_type="application/json",
    )
    assert (both.status_code, both.json()["label"], both.json()["category"]) == (
        200,
        "pleural-effusion",
        "wrong_location",
    )
    assert list(TraceAnnotation.objects.values_list("category", "label__slug")) == [
        ("wrong_location", "pleural-effusion")
    ]


def test_one_error_said_in_several_places_is_one_annotation_marking_them_all(reader_client, assignments):
    assignment = assignments[Arm.FULL_REASONING]
    show_image(reader_client, assignment)
    ai = reader_client.get(url("api-ai", assignment)).json()
    report = ai["report"]["text"]
    start = report.index("parapneumonic")
    repeats = [
        {"target": "step", "step": 4},
        {"target": "label", "label": "pneumonia"},
        {"target": "text", "turn": 1, "start": start, "end": start + 13},
    ]
    body = annotation(target="step", step=2, label="pneumonia", repeats=repeats)
    created = post(reader_client, url("api-annotations", assignment), body)
    assert created.status_code == 201
    assert created.json()["repeats"] == [
        {"target": "step", "step": 4},
        {"target": "label", "label": "pneumonia"},
        {"target": "text", "turn": 1, "start": start, "end": start + 13, "quote": "parapneumonic"},
    ]
    assert TraceAnnotation.objects.count() == 1
    listed = reader_client.get(url("api-annotations", assignment)).json()
    assert listed[0]["repeats"] == created.json()["repeats"]
    unlinked = reader_client.patch(
        url("api-annotation", assignment, body["id"]), {"repeats": repeats[:1]}, content_type="application/json"
    )
    assert unlinked.json()["repeats"] == [{"target": "step", "step": 4}]


@pytest.mark.parametrize(
    "repeat,field",
    [
        ({"target": "step", "step": 99}, "repeats.0.step"),
        ({"target": "text", "turn": 0, "start": 10, "end": 100_000}, "repeats.0.start"),
        ({"target": "label", "label": "broken-heart"}, "repeats.0.label"),
        ({"target": "label"}, "repeats.0.label"),
        ({"target": "output"}, "repeats.0.target"),
    ],
)
def test_a_repeat_outside_what_was_shown_is_refused_whole(reader_client, assignments, repeat, field):
    assignment = assignments[Arm.FULL_REASONING]
    show_image(reader_client, assignment)
    body = annotation(target="step", step=2, label="pneumonia", repeats=[repeat])
    response = post(reader_client, url("api-annotations", assignment), body)
    assert response.status_code == 400 and list(response.json()["errors"]) == [field]
    assert not TraceAnnotation.objects.exists()


def test_before_the_first_image_no_answer_tells_anything_of_the_ai_output(reader_client, assignments):
    """Not its text, its length or its labels: every annotation request waits for the image, like /ai/."""
    full = assignments[Arm.FULL_REASONING]
    waiting = (409, {"detail": "The AI output is shown once the image has appeared."})
    probes = [
        annotation(target="text", turn=0, start=0, end=100_000),
        annotation(target="text", turn=0, start=0, end=934),
        annotation(target="label", label="pneumonia"),
        annotation(target="label", label="fracture"),
        annotation(target="step", step=3),
        annotation(target="output", category="missed_finding"),
    ]
    for body in probes:
        response = post(reader_client, url("api-annotations", full), body)
        assert (response.status_code, response.json()) == waiting
    listed = reader_client.get(url("api-annotations", full))
    edited = reader_client.patch(
        url("api-annotation", full, uuid.uuid4()), {"comment": "x"}, content_type="application/json"
    )
    removed = reader_client.delete(url("api-annotation", full, uuid.uuid4()))
    assert [(r.status_code, r.json()) for r in (listed, edited, removed)] == [waiting] * 3
    assert reader_client.get(url("api-ai", full)).json() == waiting[1]
    assert not TraceAnnotation.objects.exists()

    # After it, a label annotation takes any label the reader can choose from: predicted or not, the answer is
    # the same, so it cannot be used to find out which labels the AI gave.
    show_image(reader_client, full)
    predicted = post(reader_client, url("api-annotations", full), annotation(target="label", label="pneumonia"))
    not_predicted = post(
        reader_client,
        url("api-annotations", full),
        annotation(target="label", label="fracture", category="missed_finding"),
    )
    assert (predicted.status_code, not_predicted.status_code) == (201, 201)


def test_the_openapi_schema_documents_the_reading_api(reader_client):
    schema = reader_client.get(reverse("api-schema"), HTTP_ACCEPT="application/json").json()
    assert {
        "/api/assignments/",
        "/api/assignments/{public_id}/submit/",
        "/api/assignments/{public_id}/events/",
        "/api/assignments/{public_id}/draft/",
        "/api/assignments/{public_id}/ai/",
        "/api/assignments/{public_id}/annotations/",
        "/api/assignments/{public_id}/images/{position}/",
    } <= set(schema["paths"])


def test_one_case_served_to_two_readers_or_under_two_arms_carries_different_uids_and_names(
    demo_case_set, reader, client, dicom_store
):
    """A reader who compares headers across arms or sessions cannot recognise the case."""
    other_reader = UserFactory(roles=["reader"])
    study, mine = open_study_with_assignments(demo_case_set, reader)
    _, theirs = open_study_with_assignments(demo_case_set, other_reader, arms=[Arm.UNAIDED])
    # The same case under two arms for one reader, and under the same arm for another reader.
    case = mine[Arm.UNAIDED].case
    second_arm = Assignment.objects.get(pk=mine[Arm.LABELS_ONLY].pk)
    Assignment.objects.filter(pk=second_arm.pk).update(case=case)
    served = []
    for user, assignment in ((reader, mine[Arm.UNAIDED]), (reader, second_arm), (other_reader, theirs[Arm.UNAIDED])):
        client.force_login(user)
        response = client.get(url("api-image", assignment, 1))
        content = b"".join(response.streaming_content)
        served.append((response["Content-Disposition"], pydicom.dcmread(io.BytesIO(content))))
    names = [name for name, _ in served]
    assert len(set(names)) == 3
    original = pydicom.dcmread(dicom_store / case.images.get(index=0).stored_path)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        values = {str(getattr(ds, keyword)) for _, ds in served}
        assert len(values) == 3 and str(getattr(original, keyword)) not in values, keyword
    for _, ds in served:
        assert ds.PixelData == original.PixelData
        assert (ds.SOPClassUID, ds.file_meta.TransferSyntaxUID) == (
            original.SOPClassUID,
            original.file_meta.TransferSyntaxUID,
        )
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    # Asked again, the same copy: the same UIDs for the same assignment.
    client.force_login(reader)
    again = pydicom.dcmread(io.BytesIO(b"".join(client.get(url("api-image", mine[Arm.UNAIDED], 1)).streaming_content)))
    assert again.SOPInstanceUID == served[0][1].SOPInstanceUID


def test_a_question_that_allows_it_is_answered_not_applicable_in_drafts_and_reads(reader_client, assignments):
    assignment = assignments[Arm.FULL_REASONING]
    keys = [q.key for q in assignment.study.questions.all() if q.is_asked_in(assignment.arm)]
    assignment.study.questions.filter(key="confidence").update(allows_not_applicable=True)
    detail = reader_client.get(url("api-assignment", assignment)).json()
    assert {q["key"]: q["allows_not_applicable"] for q in detail["questions"]} == {
        key: key in ("confidence", "uncertainty_qualified")
        for key in keys  # the latter by default: nothing to hedge
    }
    draft = {**full_report(assignment), "not_applicable": ["confidence"]}
    del draft["ratings"]["confidence"]
    assert reader_client.put(url("api-draft", assignment), draft, content_type="application/json").status_code == 200
    restored = reader_client.get(url("api-draft", assignment)).json()
    assert (restored["not_applicable"], "confidence" in restored["ratings"]) == (["confidence"], False)

    both = submit(reader_client, assignment, not_applicable=["confidence"])
    other = next(key for key in keys if key not in ("confidence", "uncertainty_qualified"))
    without_other = {key: value for key, value in draft["ratings"].items() if key != other}
    refused = submit(reader_client, assignment, not_applicable=[other], ratings=without_other)
    assert (both.status_code, both.json()["errors"]) == (
        400,
        {"ratings.confidence": "Choose a value or N/A, not both."},
    )
    assert refused.status_code == 400 and refused.json()["errors"][f"ratings.{other}"] == "This question has no N/A."
    # N/A answers a required question: the read is complete without a value for it.
    done = submit(reader_client, assignment, not_applicable=["confidence"], ratings=draft["ratings"])
    assert done.status_code == 201
    stored = {
        r.question.key: (r.value, r.not_applicable) for r in Read.objects.get(assignment=assignment).ratings.all()
    }
    assert stored["confidence"] == (None, True)
    assert all(value is not None and not na for key, (value, na) in stored.items() if key != "confidence")
