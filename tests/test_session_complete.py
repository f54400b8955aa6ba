"""The page that ends a session: where the last submit lands, what it says comes next, and who may see it."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from readerstudy.models import Arm, Assignment, ReadingSession, Study
from tests.factories import UserFactory
from tests.reading_setup import open_study_with_assignments
from tests.test_reading_api import submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def reading(demo_case_set, reader, client):
    study, assignments = open_study_with_assignments(demo_case_set, reader, arms=[Arm.UNAIDED, Arm.LABELS_ONLY])
    client.force_login(reader)
    return client, study, assignments


def add_session(study, reader, index, case, **fields):
    session = ReadingSession.objects.create(study=study, reader=reader, index=index, **fields)
    Assignment.objects.create(study=study, reader=reader, case=case, arm=Arm.LABELS_ONLY, session=session, position=1)
    return session


def texts(page):
    """The end page's heading, cases line and next line, as a reader sees them."""

    def one(testid):
        match = re.search(rf'data-testid="{testid}">(.*?)</', page, re.S)
        return " ".join(match.group(1).split()) if match else None

    return one("heading"), one("cases-read"), one("next")


def end_url(session):
    return reverse("session-complete", args=[session.pk])


def test_the_last_submit_of_a_session_leads_to_its_end_page(reading):
    client, study, assignments = reading
    first = submit(client, assignments[Arm.UNAIDED])
    assert first.json()["next_url"] == reverse("workstation", args=[assignments[Arm.LABELS_ONLY].public_id])
    last = submit(client, assignments[Arm.LABELS_ONLY])
    assert last.json()["next_url"] == end_url(assignments[Arm.LABELS_ONLY].session)


def test_the_last_session_says_the_study_is_finished(reading):
    client, study, assignments = reading
    for assignment in assignments.values():
        submit(client, assignment)
    page = client.get(end_url(assignments[Arm.UNAIDED].session)).content.decode()
    assert texts(page) == (
        "Session 1 of 1 complete",
        "You read 2 cases in this session.",
        "You have finished every session of this study. Thank you for reading.",
    )
    assert f'data-testid="worklist" href="{reverse("worklist")}"' in page
    assert 'data-testid="start-next"' not in page


def test_a_session_followed_by_a_washout_says_when_the_next_opens(reading, reader):
    client, study, assignments = reading
    later = add_session(study, reader, 2, assignments[Arm.UNAIDED].case)
    for assignment in assignments.values():
        submit(client, assignment)
    last = assignments[Arm.LABELS_ONLY]
    last.read.refresh_from_db()
    opens = timezone.localtime(last.read.submitted_at + timedelta(days=study.washout_days))
    page = client.get(end_url(last.session)).content.decode()
    assert texts(page) == (
        "Session 1 of 2 complete",
        "You read 2 cases in this session.",
        f"Session 2 opens on {opens.strftime('%-d %b %Y, %H:%M')}.",
    )
    assert 'data-testid="start-next"' not in page
    assert later.assignments.get().status == Assignment.Status.ASSIGNED


def test_a_next_session_already_open_is_offered_at_once(demo_case_set, reader, client):
    study, assignments = open_study_with_assignments(demo_case_set, reader, arms=[Arm.UNAIDED], washout_days=0)
    later = add_session(study, reader, 2, assignments[Arm.UNAIDED].case)
    client.force_login(reader)
    submit(client, assignments[Arm.UNAIDED])
    page = client.get(end_url(assignments[Arm.UNAIDED].session)).content.decode()
    assert texts(page) == ("Session 1 of 2 complete", "You read 1 case in this session.", "Session 2 is open now.")
    start = later.assignments.get()
    link = reverse("workstation", args=[start.public_id])
    assert f'data-testid="start-next" href="{link}">Start session 2</a>' in page


def test_a_closed_study_says_the_next_session_will_not_open(reading, reader):
    client, study, assignments = reading
    add_session(study, reader, 2, assignments[Arm.UNAIDED].case)
    for assignment in assignments.values():
        submit(client, assignment)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.CLOSED)
    page = client.get(end_url(assignments[Arm.UNAIDED].session)).content.decode()
    assert texts(page)[2] == "The study is closed; session 2 will not open."


def test_an_unfinished_session_says_how_far_the_reader_is(reading):
    client, study, assignments = reading
    submit(client, assignments[Arm.UNAIDED])
    page = client.get(end_url(assignments[Arm.UNAIDED].session)).content.decode()
    assert texts(page) == (
        "Session 1 of 1: 1 of 2 cases read",
        None,
        "The session is not finished yet; continue from the worklist.",
    )


@pytest.mark.parametrize("who,status", [("other_reader", 404), ("coordinator", 403), ("anonymous", 302)])
def test_only_the_sessions_reader_sees_its_end_page(reading, client, who, status):
    _, study, assignments = reading
    client.logout()
    if who != "anonymous":
        client.force_login(UserFactory(roles=["reader"] if who == "other_reader" else ["coordinator"]))
    response = client.get(end_url(assignments[Arm.UNAIDED].session))
    assert response.status_code == status
    if who == "anonymous":
        assert response["Location"].startswith(reverse("login"))


def test_an_unknown_session_is_404(reading):
    client, *_ = reading
    assert client.get(reverse("session-complete", args=[987654])).status_code == 404
