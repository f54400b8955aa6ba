"""API fuzzing: schemathesis sends generated requests to every operation of the reading API's OpenAPI schema.

Signed in as a reader or as a coordinator, a response is never a server error, and its status and its body are
ones the schema documents for the operation; the coordinator's is 403 (not a reader). Requests are random,
valid and invalid (schemathesis' positive and negative modes). The path's `public_id` is most often one of the reader's
assignments (readable, out of order, someone else's), so the views' validation and state rules are reached
rather than a 404. Examples are bounded and derandomised: the run is quick and the same on every machine.

Requests go in-process to the WSGI application, inside the test's database transaction; each example runs in
a savepoint rolled back after it, so every example starts from the same state and a failure replays exactly.
"""

import json
import uuid

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client
from django.urls import Resolver404, resolve
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from readerstudy.api.permissions import IsReader
from readerstudy.models import Arm, Assignment
from readerstudy.wsgi import application
from tests.factories import UserFactory
from tests.reading_setup import open_study_with_assignments
from tests.test_reading_api import annotation, event, post, show_image, url

pytestmark = pytest.mark.django_db

# The schema /api/schema/ serves, generated in-process (serving it needs a signed-in user; collection has none).
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = application

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

# The public ids the fixtures give their assignments.
READABLE = "fuzz-full"  # full reasoning, its image shown, one annotation: every operation can answer 2xx
AIDED = ["fuzz-unaided", "fuzz-labels", READABLE]  # a study in free order, one case per arm
ORDERED = ["fuzz-first", "fuzz-later"]  # the enforced order: the second is refused (409), bar its images
OTHERS = "fuzz-others"  # another reader's (404)
ANNOTATION = str(uuid.UUID(int=1))
# Any 32 characters of [a-zA-Z0-9] make a CSRF token; a request carries it as a cookie and in the header.
CSRF_TOKEN = "fuzz" * 8


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """A known assignment, annotation or image position most often, the generated value sometimes (an unknown
    id, an odd string, a position out of range or not a number)."""
    if not path_parameters:
        return st.just(path_parameters)
    known = {"public_id": [*AIDED, *ORDERED, OTHERS], "annotation_id": [ANNOTATION], "position": [1, 2]}
    return st.fixed_dictionaries(
        {name: st.sampled_from([*known.get(name, []), value]) for name, value in path_parameters.items()}
    )


def rename(assignment, public_id):
    Assignment.objects.filter(pk=assignment.pk).update(public_id=public_id)


@pytest.fixture
def unaided_assignments(demo_case_set, reader):
    """Two unaided cases in the enforced order for the reader, and one for another reader (no AI: quick)."""
    study, first = open_study_with_assignments(demo_case_set, reader, arms=[Arm.UNAIDED])
    first = first[Arm.UNAIDED]
    later = Assignment.objects.create(
        study=study,
        reader=reader,
        case=demo_case_set.ordered_cases()[1],
        arm=Arm.UNAIDED,
        session=first.session,
        position=2,
    )
    _, others = open_study_with_assignments(demo_case_set, UserFactory(roles=["reader"]), arms=[Arm.UNAIDED])
    for assignment, public_id in [(first, ORDERED[0]), (later, ORDERED[1]), (others[Arm.UNAIDED], OTHERS)]:
        rename(assignment, public_id)


@pytest.fixture
def assignments(unaided_assignments, demo_case_set, reader, client):
    """And a study in free order with one case per arm, the AI's ones with their image shown."""
    _, by_arm = open_study_with_assignments(demo_case_set, reader, free_order=True)
    client.force_login(reader)
    show_image(client, by_arm[Arm.LABELS_ONLY], by_arm[Arm.FULL_REASONING])
    assert (
        post(
            client,
            url("api-annotations", by_arm[Arm.FULL_REASONING]),
            annotation(id=ANNOTATION, target="label", label="pneumonia"),
        ).status_code
        == 201
    )
    client.logout()
    for arm, public_id in zip([Arm.UNAIDED, Arm.LABELS_ONLY, Arm.FULL_REASONING], AIDED):
        rename(by_arm[arm], public_id)


@pytest.fixture
def in_process(db):
    """Django closes the database connection after each request; its test client stops that for the request,
    and so must a test that calls the WSGI application, or the test's transaction would be lost."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def browser_of(client, user):
    """What the browser of a signed-in `user` sends with each request: the session cookie and the CSRF token."""
    client.force_login(user)
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return {
        "cookies": {django_settings.SESSION_COOKIE_NAME: session, django_settings.CSRF_COOKIE_NAME: CSRF_TOKEN},
        "headers": {"X-CSRFToken": CSRF_TOKEN},
    }


def call_in_savepoint(case, browser):
    """Send the case and check the response; whatever the request wrote is rolled back."""
    with transaction.atomic():
        response = case.call_and_validate(checks=CHECKS, **browser)
        transaction.set_rollback(True)
    return response


# Random cases only: the coverage phase's systematic ones (about 600 for a reader) would double the run time.
# Fixtures are made once per operation, not per example, which the health check warns of.
BOUNDED = settings(
    derandomize=True,
    deadline=None,
    phases=[Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@schema.parametrize()
@settings(BOUNDED, max_examples=25)
def test_a_reader_gets_documented_statuses_and_no_server_error(case, client, reader, assignments, in_process):
    call_in_savepoint(case, browser_of(client, reader))


@schema.parametrize()
@settings(BOUNDED, max_examples=10)  # refused before the request is read: fewer cases say as much
def test_a_coordinator_gets_403_from_every_operation(case, client, coordinator, unaided_assignments, in_process):
    response = call_in_savepoint(case, browser_of(client, coordinator))
    try:
        resolve(case.formatted_path)
    except Resolver404:  # no view, so no permission check: a generated image position that is not a number
        assert response.status_code == 404
    else:
        assert (response.status_code, response.json()["detail"]) == (403, IsReader.message)


# --- what the fuzzing found, pinned ---------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [{"key": "a\x00b"}, {"a\x00b": 1}, {"list": [{"deep": "\x00"}]}])
def test_an_event_payload_with_a_null_character_is_refused(client, reader, assignments, payload):
    client.force_login(reader)
    response = post(
        client,
        url("api-events", Assignment.objects.get(public_id=READABLE)),
        {"events": [event("input", 1, **payload)]},
    )
    assert response.json() == {
        "detail": "Please correct the marked fields.",
        "errors": {"events.0.payload": "Null characters are not allowed."},
    }


# Hypothesis never generates these (a lone surrogate is no character), the JSON escape "\ud800" does.
@pytest.mark.parametrize(
    "name,body",
    [
        ("api-events", {"events": [event("input", 1, key="\ud800")]}),
        ("api-draft", {"ratings": {"\udfff": 1}}),  # an unknown key is named in the error message
        ("api-submit", {"submission_uuid": str(uuid.uuid4()), "findings": ["\ud800"]}),
    ],
)
def test_a_lone_surrogate_anywhere_in_a_body_is_refused(client, reader, assignments, name, body):
    client.force_login(reader)
    path = url(name, Assignment.objects.get(public_id=READABLE))
    response = client.generic(
        "PUT" if name == "api-draft" else "POST", path, json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - a string holds a lone surrogate")


def checking_csrf(user):
    """A test client that checks the CSRF token, as a browser's requests are checked (the default client's are
    not), signed in as `user` and holding the CSRF cookie."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    browser.cookies[django_settings.CSRF_COOKIE_NAME] = CSRF_TOKEN
    return browser


def test_a_coordinator_is_refused_before_the_body_is_read(coordinator, unaided_assignments):
    path = url("api-events", Assignment.objects.get(public_id=ORDERED[0]))
    response = checking_csrf(coordinator).post(
        path, b"{not json", content_type="application/json", headers={"X-CSRFToken": CSRF_TOKEN}
    )
    assert (response.status_code, response.json()["detail"]) == (403, IsReader.message)


@pytest.mark.parametrize(
    "cookie,header,expected",
    [
        (False, None, (403, "CSRF Failed: CSRF cookie not set.")),
        (True, None, (403, "CSRF Failed: CSRF token missing.")),
        (True, "spam" * 8, (403, "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect.")),
        (True, CSRF_TOKEN, (200, None)),
    ],
)
def test_the_csrf_token_is_still_checked_for_a_json_body(reader, unaided_assignments, cookie, header, expected):
    browser = checking_csrf(reader)
    if not cookie:
        del browser.cookies[django_settings.CSRF_COOKIE_NAME]
    response = browser.post(
        url("api-events", Assignment.objects.get(public_id=ORDERED[0])),
        {"events": [event("page_shown", 1)]},
        content_type="application/json",
        headers={"X-CSRFToken": header} if header else {},
    )
    assert (response.status_code, response.json().get("detail")) == expected
