"""The randomised reading order is enforced on every path: the API, the workstation page and the images
(the next case's may be prefetched), unless the study was created with free order."""

import uuid

import pytest
from django.urls import reverse

from readerstudy.models import Arm, Assignment, Read, TimingEvent
from tests.reading_setup import open_study_with_assignments
from tests.test_reading_api import event, full_report, post, submit, url

pytestmark = pytest.mark.django_db

OUT_OF_ORDER = "Cases are read in the order of your session: read case 1 first."


@pytest.fixture
def ordered(demo_case_set, reader, client):
    """Session 1 of an ordered study: positions 1, 2 and 3 (unaided, labels only, full reasoning)."""
    study, assignments = open_study_with_assignments(demo_case_set, reader)
    client.force_login(reader)
    return client, [assignments[arm] for arm in (Arm.UNAIDED, Arm.LABELS_ONLY, Arm.FULL_REASONING)]


def requests_for(assignment):
    """Every reading request a page makes for one case, as (name, response-making function)."""
    return {
        "detail": lambda c: c.get(url("api-assignment", assignment)),
        "ai": lambda c: c.get(url("api-ai", assignment)),
        "draft": lambda c: c.get(url("api-draft", assignment)),
        "autosave": lambda c: c.put(
            url("api-draft", assignment), full_report(assignment), content_type="application/json"
        ),
        "events": lambda c: post(c, url("api-events", assignment), {"events": [event("page_shown", 1.0)]}),
        "annotations": lambda c: c.get(url("api-annotations", assignment)),
        "annotate": lambda c: post(
            c,
            url("api-annotations", assignment),
            {"id": str(uuid.uuid4()), "target": "output", "category": "other", "clinically_significant": False},
        ),
        "submit": lambda c: submit(c, assignment),
    }


@pytest.mark.parametrize("request_name", list(requests_for(None)))
def test_a_case_after_an_unopened_one_is_refused_with_a_message(ordered, request_name):
    client, (first, second, third) = ordered
    response = requests_for(third)[request_name](client)
    assert (response.status_code, response.json()["detail"]) == (409, OUT_OF_ORDER)
    third.refresh_from_db()
    assert third.status == Assignment.Status.ASSIGNED
    assert not Read.objects.filter(assignment=third).exists()
    assert not TimingEvent.objects.filter(assignment=third).exists()


def test_the_cases_are_read_one_after_another(ordered):
    client, (first, second, third) = ordered
    assert submit(client, second).json()["detail"] == OUT_OF_ORDER
    assert client.get(url("api-assignment", first)).status_code == 200
    # Reopening the case being read (a reload) is allowed; the next one is still closed.
    assert client.get(url("api-assignment", first)).status_code == 200
    assert client.get(url("api-assignment", second)).status_code == 409
    assert submit(client, first).status_code == 201
    assert client.get(url("api-assignment", second)).status_code == 200
    assert submit(client, second).status_code == 201
    assert submit(client, third).status_code == 201
    assert set(Assignment.objects.filter(session=first.session).values_list("status", flat=True)) == {
        Assignment.Status.SUBMITTED
    }


def test_only_the_next_cases_images_may_be_fetched_ahead(ordered):
    client, (first, second, third) = ordered
    assert client.get(url("api-image", first, 1)).status_code == 200
    assert client.get(url("api-image", second, 1)).status_code == 200  # the prefetch of the next case
    response = client.get(url("api-image", third, 1))
    assert (response.status_code, response.json()["detail"]) == (409, OUT_OF_ORDER)
    # A prefetch does not open the case.
    second.refresh_from_db()
    assert second.status == Assignment.Status.ASSIGNED


def test_the_detail_offers_the_next_case_whose_images_are_allowed(ordered):
    client, (first, second, third) = ordered
    following = client.get(url("api-assignment", first)).json()["next"]
    assert following["url"] == reverse("workstation", args=[second.public_id])
    assert [client.get(image["url"]).status_code for image in following["images"]] == [200]


def test_the_workstation_page_sends_the_reader_to_the_case_to_read(ordered):
    client, (first, second, third) = ordered
    response = client.get(reverse("workstation", args=[third.public_id]))
    assert response.status_code == 409
    assert response.context["message"] == OUT_OF_ORDER
    assert response.context["next"].public_id == first.public_id
    assert f'href="{reverse("workstation", args=[first.public_id])}"' in response.content.decode()
    assert client.get(reverse("workstation", args=[first.public_id])).status_code == 200


def test_the_worklist_continues_with_the_first_unread_case(ordered):
    client, (first, second, third) = ordered
    submit(client, first)
    page = client.get(reverse("worklist")).content.decode()
    assert f'href="{reverse("workstation", args=[second.public_id])}"' in page
    assert reverse("workstation", args=[third.public_id]) not in page


def test_a_free_order_study_lets_the_reader_choose(demo_case_set, reader, client):
    study, assignments = open_study_with_assignments(demo_case_set, reader, free_order=True)
    client.force_login(reader)
    last = assignments[Arm.FULL_REASONING]
    assert client.get(url("api-assignment", last)).status_code == 200
    assert submit(client, last).status_code == 201
    assert client.get(reverse("workstation", args=[assignments[Arm.UNAIDED].public_id])).status_code == 200


def test_free_order_is_part_of_the_frozen_protocol(demo_case_set, reader):
    from readerstudy.models.protocol import ProtocolFrozen

    study, _ = open_study_with_assignments(demo_case_set, reader)
    study.free_order = True
    with pytest.raises(ProtocolFrozen):
        study.save()
