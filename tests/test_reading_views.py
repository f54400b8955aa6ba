"""The worklist and the workstation shell: progress, opening dates, Continue, and who may open what."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from readerstudy.models import Arm, Assignment, ReadingSession
from tests.factories import UserFactory
from tests.reading_setup import open_study_with_assignments
from tests.test_reading_api import submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def reading(demo_case_set, reader, client):
    study, assignments = open_study_with_assignments(
        demo_case_set, reader, arms=[Arm.UNAIDED, Arm.LABELS_ONLY], free_order=True
    )
    client.force_login(reader)
    return client, study, assignments


def test_the_worklist_shows_progress_and_continues_at_the_next_unread_case(reading):
    client, study, assignments = reading
    page = client.get(reverse("worklist")).content.decode()
    assert "0 / 2" in page and "Start" in page
    assert f'href="{reverse("workstation", args=[assignments[Arm.UNAIDED].public_id])}"' in page
    # Instructions are open until the first case has been opened.
    assert '<details class="instructions" data-testid="instructions" open>' in page

    submit(client, assignments[Arm.UNAIDED])
    page = client.get(reverse("worklist")).content.decode()
    assert "1 / 2" in page and "Continue" in page
    assert (
        f'data-testid="continue" href="{reverse("workstation", args=[assignments[Arm.LABELS_ONLY].public_id])}"' in page
    )
    assert '<details class="instructions" data-testid="instructions">' in page


def test_a_session_not_yet_open_shows_its_date_and_no_continue_link(reading, reader):
    client, study, assignments = reading
    later = ReadingSession.objects.create(
        study=study, reader=reader, index=2, opens_at=timezone.now() + timedelta(days=28)
    )
    Assignment.objects.create(
        study=study, reader=reader, case=assignments[Arm.UNAIDED].case, arm=Arm.LABELS_ONLY, session=later, position=1
    )
    page = client.get(reverse("worklist")).content.decode()
    row = page[page.index('data-testid="session-2"') :]
    row = row[: row.index("</tr>")]
    assert f"Opens on {timezone.localtime(later.opens_at).strftime('%-d %b %Y, %H:%M')}" in row
    assert "continue" not in row


def test_a_finished_session_says_complete(reading):
    client, study, assignments = reading
    for assignment in assignments.values():
        submit(client, assignment)
    page = client.get(reverse("worklist")).content.decode()
    assert "2 / 2" in page and "Complete" in page and 'data-testid="continue"' not in page


def test_the_workstation_page_carries_only_the_assignment_id_and_api_address(reading):
    client, study, assignments = reading
    assignment = assignments[Arm.LABELS_ONLY]
    page = client.get(reverse("workstation", args=[assignment.public_id])).content.decode()
    assert f'data-api="/api/assignments/{assignment.public_id}/"' in page
    assert 'data-idle-threshold-ms="60000"' in page
    assert 'data-testid="viewer"' in page and "viewer/dist/workstation.js" in page
    assert assignment.case.public_id not in page


def test_a_submitted_case_cannot_be_reopened_and_points_to_the_next(reading):
    client, study, assignments = reading
    first = assignments[Arm.UNAIDED]
    submit(client, first)
    response = client.get(reverse("workstation", args=[first.public_id]))
    assert response.status_code == 409
    page = response.content.decode()
    assert "This read is submitted and final." in page
    assert reverse("workstation", args=[assignments[Arm.LABELS_ONLY].public_id]) in page


@pytest.mark.parametrize("who,status", [("other_reader", 404), ("coordinator", 403), ("anonymous", 302)])
def test_only_the_assigned_reader_opens_the_workstation(reading, client, who, status):
    _, study, assignments = reading
    client.logout()
    if who != "anonymous":
        client.force_login(UserFactory(roles=["reader"] if who == "other_reader" else ["coordinator"]))
    response = client.get(reverse("workstation", args=[assignments[Arm.UNAIDED].public_id]))
    assert response.status_code == status
    if who == "anonymous":
        assert response["Location"].startswith(reverse("login"))


def test_without_a_washout_the_next_session_opens_when_the_previous_one_is_done(demo_case_set, reader, client):
    study, assignments = open_study_with_assignments(demo_case_set, reader, arms=[Arm.UNAIDED], washout_days=0)
    later = ReadingSession.objects.create(study=study, reader=reader, index=2)
    Assignment.objects.create(
        study=study, reader=reader, case=assignments[Arm.UNAIDED].case, arm=Arm.LABELS_ONLY, session=later, position=1
    )
    client.force_login(reader)
    assert "Opens when you finish session 1" in client.get(reverse("worklist")).content.decode()
    submit(client, assignments[Arm.UNAIDED])
    page = client.get(reverse("worklist")).content.decode()
    row = page[page.index('data-testid="session-2"') :]
    assert 'data-testid="continue"' in row[: row.index("</tr>")]
