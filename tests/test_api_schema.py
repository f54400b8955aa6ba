"""What the reading API sends is what /api/schema/ documents: every response of a reader's whole reading —
each endpoint, its successes and its refusals — validates against the schema served, made strict (no field
the schema does not name, none it names missing)."""

import re
import uuid

import jsonschema
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import resolve, reverse

from readerstudy.models import Arm
from tests.factories import UserFactory
from tests.reading_setup import open_study_with_assignments
from tests.test_reading_api import annotation, event, full_report, url

pytestmark = pytest.mark.django_db


def strict(node):
    """OpenAPI 3.0 schema objects as JSON Schema: `nullable` as a type of its own, and objects closed to fields
    the schema does not list."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: strict(value) for key, value in node.items()}
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    if node.pop("nullable", False):
        node = {"anyOf": [node, {"type": "null"}]}
    return node


class SchemaChecker:
    """Checks responses against the served schema and remembers which (path, method, status) it saw."""

    def __init__(self, document):
        self.document = document
        self.components = strict(document["components"])
        self.seen = set()

    def check(self, response):
        request = response.wsgi_request
        path = "/" + re.sub(r"<\w+:(\w+)>", r"{\1}", resolve(request.path).route)
        method = request.method.lower()
        documented = self.document["paths"][path][method]["responses"]
        status = str(response.status_code)
        assert status in documented, f"{method.upper()} {path} answered {status}, undocumented"
        content = documented[status].get("content", {})
        if "application/json" in content:
            schema = {"allOf": [strict(content["application/json"]["schema"])], "components": self.components}
            jsonschema.Draft7Validator(schema).validate(response.json())
        elif content:
            assert response["Content-Type"] in content, (path, response["Content-Type"])
        else:
            assert response.content == b"", f"{method.upper()} {path} {status} sent an undocumented body"
        self.seen.add((path, method, status))
        return response

    def reader_operations(self):
        return {
            (path, method, status)
            for path, operations in self.document["paths"].items()
            if path.startswith("/api/assignments/")
            for method, operation in operations.items()
            for status in operation["responses"]
        }


@pytest.fixture
def checker(reader):
    client = Client()
    client.force_login(reader)
    response = client.get(reverse("api-schema"), {"format": "json"})
    assert response.status_code == 200
    return SchemaChecker(response.json())


def test_every_reader_endpoint_answers_as_its_schema_says(checker, demo_case_set, reader, client):
    study, by_arm = open_study_with_assignments(demo_case_set, reader, canaries=True)
    unaided, labels, full = by_arm[Arm.UNAIDED], by_arm[Arm.LABELS_ONLY], by_arm[Arm.FULL_REASONING]
    _, others = open_study_with_assignments(demo_case_set, UserFactory(roles=["reader"]), arms=[Arm.UNAIDED])

    def get(name, assignment, *args, **query):
        return checker.check(client.get(url(name, assignment, *args), query))

    def send(method, name, assignment, body, *args):
        path = url(name, assignment, *args)
        return checker.check(getattr(client, method)(path, body, content_type="application/json"))

    # Not signed in, then not a reader.
    assert get("api-assignment", unaided).status_code == 401
    client.force_login(UserFactory(roles=["coordinator"]))
    assert get("api-assignment", unaided).status_code == 403
    client.force_login(reader)
    assert checker.check(client.get(reverse("api-assignments"))).status_code == 200

    assert get("api-assignment", others[Arm.UNAIDED]).status_code == 404
    assert get("api-assignment", labels).status_code == 409  # the unaided case comes first
    assert get("api-image", labels, 1).status_code == 200  # the next case's image, prefetched

    # The unaided case: detail, images, events, draft, no AI, then submit and its replay.
    detail = get("api-assignment", unaided)
    assert detail.status_code == 200 and detail.json()["ai"] == "none"
    assert get("api-image", unaided, 1).status_code == 200 and get("api-image", unaided, 9).status_code == 404
    assert get("api-ai", unaided).status_code == 404
    assert send("post", "api-events", unaided, {"events": [event("image_rendered", 5)]}).status_code == 200
    assert send("post", "api-events", unaided, {"events": [{"type": "teleported"}]}).status_code == 400
    assert get("api-draft", unaided).status_code == 200
    assert send("put", "api-draft", unaided, {"findings": ["edema"], "ratings": {"confidence": 2}}).status_code == 200
    assert send("put", "api-draft", unaided, {"findings": ["no-such-label"]}).status_code == 400
    assert send("post", "api-submit", unaided, {"submission_uuid": str(uuid.uuid4())}).status_code == 400
    submission = {**full_report(unaided), "submission_uuid": str(uuid.uuid4()), "events": [event("submit", 9000)]}
    assert send("post", "api-submit", unaided, submission).status_code == 201
    assert send("post", "api-submit", unaided, submission).status_code == 200
    again = {**submission, "submission_uuid": str(uuid.uuid4())}
    assert send("post", "api-submit", unaided, again).status_code == 409
    assert get("api-assignment", unaided).status_code == 409

    # The AI arms: no AI before the image has rendered; then the labels, or the reasoning and the report.
    assert get("api-ai", labels).status_code == 409
    send("post", "api-events", labels, {"events": [event("image_rendered", 5)]})
    assert set(get("api-ai", labels).json()) == {"labels"}
    assert (
        send("post", "api-submit", labels, {**full_report(labels), "submission_uuid": str(uuid.uuid4())}).status_code
        == 201
    )
    send("post", "api-events", full, {"events": [event("image_rendered", 5)]})
    assert set(get("api-ai", full).json()) == {"labels", "reasoning", "report"}

    # Annotations: list, create (and its replay), refuse, edit, remove.
    assert get("api-annotations", full).status_code == 200
    note = annotation(target="label", label="pneumonia")
    assert send("post", "api-annotations", full, note).status_code == 201
    assert send("post", "api-annotations", full, note).status_code == 200
    assert send("post", "api-annotations", full, annotation(target="step")).status_code == 400
    edited = send("patch", "api-annotation", full, {"comment": "Not there."}, note["id"])
    assert (edited.status_code, edited.json()["comment"]) == (200, "Not there.")
    assert send("patch", "api-annotation", full, {"comment": "x"}, str(uuid.uuid4())).status_code == 404
    assert checker.check(client.delete(url("api-annotation", full, note["id"]))).status_code == 204

    # Sequential reading: the first report before the AI (refused before the image, invalid, then its replay).
    _, sequential = open_study_with_assignments(demo_case_set, reader, free_order=True, sequential_reading=True)
    second = sequential[Arm.LABELS_ONLY]
    first = {"findings": ["edema"], "ratings": {"confidence": 3}, "submission_uuid": str(uuid.uuid4())}
    assert send("post", "api-unaided", second, first).status_code == 409  # the image has not rendered
    send("post", "api-events", second, {"events": [event("image_rendered", 5)]})
    assert send("post", "api-unaided", second, {**first, "findings": []}).status_code == 400
    assert send("post", "api-unaided", second, first).status_code == 201
    assert send("post", "api-unaided", second, first).status_code == 200
    assert get("api-assignment", second).json()["unaided"]["findings"] == ["edema"]

    successes = {seen for seen in checker.reader_operations() if seen[2].startswith("2")}
    assert successes <= checker.seen, successes - checker.seen
    one = "/api/assignments/{public_id}/"
    assert {seen for seen in checker.seen if not seen[2].startswith("2")} == {
        (one, "get", "401"),
        (one, "get", "403"),
        (one, "get", "404"),
        (one, "get", "409"),
        (one + "ai/", "get", "404"),
        (one + "ai/", "get", "409"),
        (one + "annotations/", "post", "400"),
        (one + "annotations/{annotation_id}/", "patch", "404"),
        (one + "draft/", "put", "400"),
        (one + "events/", "post", "400"),
        (one + "images/{position}/", "get", "404"),
        (one + "submit/", "post", "400"),
        (one + "submit/", "post", "409"),
        (one + "unaided/", "post", "400"),
        (one + "unaided/", "post", "409"),
    }


def test_the_schema_is_valid_openapi_and_generates_without_a_warning(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "ErrorOut" in (tmp_path / "schema.yaml").read_text()
