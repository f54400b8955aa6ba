"""Opening and closing a study, opening a session early, the audit log, and the coordinator's study page."""

import pytest
from django.urls import reverse

from readerstudy.models import Arm, AuditEntry, ReadingSession, Study
from readerstudy.studies.enrolment import add_readers
from readerstudy.studies.lifecycle import LifecycleRefused, close_study, open_session_early, open_study
from tests.factories import StudyFactory, UserFactory, user_by_relation
from tests.reading_setup import run_and_pin

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(demo_case_set, coordinator):
    study = Study.objects.create(title="Lifecycle", case_set=demo_case_set, washout_days=14)
    study.coordinators.add(coordinator)
    return study


def test_opening_needs_a_design_and_a_pinned_output_for_every_case(draft, coordinator, reader):
    with pytest.raises(LifecycleRefused, match="^Design the study first: add its readers.$"):
        open_study(draft, coordinator)
    add_readers(draft, [reader])
    with pytest.raises(LifecycleRefused, match="^6 case\\(s\\) have no pinned AI output: "):
        open_study(draft, coordinator)
    run_and_pin(draft)
    opened = open_study(draft, coordinator)
    assert opened.status == Study.Status.OPEN and opened.opened_at is not None
    with pytest.raises(LifecycleRefused, match="^The study is open; only a draft can be opened.$"):
        open_study(draft, coordinator)
    close_study(draft, coordinator)
    assert list(AuditEntry.objects.values_list("action", "detail", "user")) == [
        ("closed", "Closed: no more reading.", coordinator.pk),
        ("opened", "Opened with 1 reader(s).", coordinator.pk),
    ]


def test_a_study_opens_only_with_a_primary_comparison_it_can_make(demo_case_set, coordinator, reader):
    study = Study.objects.create(title="Two arms", case_set=demo_case_set, arms=[Arm.UNAIDED, Arm.LABELS_ONLY])
    add_readers(study, [reader])
    run_and_pin(study)
    with pytest.raises(
        LifecycleRefused,
        match="^The primary comparison names arms the study does not run: Full AI "
        "reasoning. Declare the primary comparison in the admin.$",
    ):
        open_study(study, coordinator)
    Study.objects.filter(pk=study.pk).update(primary_arm=Arm.LABELS_ONLY)
    assert open_study(study, coordinator).status == Study.Status.OPEN


def test_an_unaided_study_opens_without_pins(demo_case_set, coordinator, reader):
    study = Study.objects.create(title="No AI", case_set=demo_case_set, arms=[Arm.UNAIDED])
    add_readers(study, [reader])
    assert open_study(study, coordinator).status == Study.Status.OPEN


def test_a_session_opens_early_only_with_a_reason_that_is_logged(draft, coordinator, reader):
    add_readers(draft, [reader])
    run_and_pin(draft)
    open_study(draft, coordinator)
    second = ReadingSession.objects.get(study=draft, reader=reader, index=2)
    with pytest.raises(LifecycleRefused, match="^Say why the session opens before its washout has passed.$"):
        open_session_early(second, coordinator, "  ")
    open_session_early(second, coordinator, "Reader leaves the department next week.")
    entry = AuditEntry.objects.get(action="session_opened_early")
    assert (entry.detail, entry.reason) == (
        f"Session 2 of {reader.username} opened early.",
        "Reader leaves the department next week.",
    )
    with pytest.raises(LifecycleRefused, match=f"^Session 2 of {reader.username} is already open.$"):
        open_session_early(second, coordinator, "again")


def test_readers_added_to_a_running_study_are_audited(draft, coordinator, reader):
    add_readers(draft, [reader])
    run_and_pin(draft)
    open_study(draft, coordinator)
    late = UserFactory(username="late", roles=["reader"])
    add_readers(draft, [late], by=coordinator)
    entry = AuditEntry.objects.get(action="readers_added")
    assert (entry.detail, entry.user) == ("Added late (design rows 1–1).", coordinator)


def test_audit_entries_are_append_only(draft, coordinator):
    entry = AuditEntry.objects.create(study=draft, user=coordinator, action="opened", detail="x")
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()


@pytest.mark.parametrize(
    "user,status", [("reader", 403), ("coordinator", 200), ("admin", 200), ("another team's coordinator", 404)]
)
def test_the_study_page_is_for_its_coordinators_and_admins(client, draft, coordinator, user, status):
    client.force_login(user_by_relation(user, coordinator))
    assert client.get(reverse("study-detail", args=[draft.pk])).status_code == status
    response = client.post(reverse("study-open", args=[draft.pk]))
    assert response.status_code == (302 if status == 200 else status)
    assert Study.objects.get(pk=draft.pk).status == Study.Status.DRAFT  # not designed: refused in any case


def test_the_coordinator_designs_opens_and_follows_a_study_from_its_page(client, coordinator, draft, reader):
    client.force_login(coordinator)
    page = client.get(reverse("study-detail", args=[draft.pk])).content.decode()
    assert "6 cases without a pinned AI output" in page and f'<option value="{reader.pk}">' in page
    response = client.post(reverse("study-open", args=[draft.pk]), follow=True)
    assert "Design the study first: add its readers." in response.content.decode()
    preview = client.post(reverse("study-add-readers", args=[draft.pk]), {"readers": [reader.pk]})
    assert preview.status_code == 200 and not draft.assignments.exists()
    table = preview.context["table"]
    assert [(user, row) for user, row, _ in table] == [(reader, 0)]
    assert [sorted(arm for _, arm, _, _ in blocks) for blocks in table[0][2]] == [
        ["AI labels only", "Full AI reasoning", "Unaided"]
    ] * 3
    assert sum(size for _, _, size, _ in table[0][2][0]) == 6
    assert preview.context["balance"] == (
        "williams-1: arms are balanced for order and carry-over within each complete group of 6 readers; "
        "1 reader(s) make 0 complete group(s) and 1 more (add 5 to complete the group)."
    )
    assert 'data-testid="design-balance"' in preview.content.decode()
    client.post(reverse("study-add-readers", args=[draft.pk]), {"readers": [reader.pk], "create": "1"})
    assert draft.assignments.count() == 18
    page = client.get(reverse("study-detail", args=[draft.pk])).content.decode()
    assert "design williams-1" in page and "blank labels score as negative" in page
    run_and_pin(draft)
    page = client.post(reverse("study-open", args=[draft.pk]), follow=True).content.decode()
    assert "The study is open." in page
    assert 'data-testid="progress-R01-1"' in page and "0 / 6" in page
    assert "14 days after you finish session 1" in page
    assert "Opened with 1 reader(s)." in page


def test_the_study_page_lists_silent_assignments_and_sessions_waiting_to_start(
    client, coordinator, demo_case_set, reader
):
    from datetime import timedelta

    from django.utils import timezone

    from readerstudy.models import Assignment, Read
    from readerstudy.reading.progress import silent_assignments, waiting_sessions
    from tests.test_reading_api import submit

    study = Study.objects.create(
        title="Attention",
        case_set=demo_case_set,
        arms=[Arm.UNAIDED, Arm.LABELS_ONLY],
        primary_arm=Arm.LABELS_ONLY,
        washout_days=0,
    )
    study.coordinators.add(coordinator)
    add_readers(study, [reader])
    run_and_pin(study)
    open_study(study, coordinator)
    client.force_login(reader)
    first = Assignment.objects.filter(study=study, session__index=1).order_by("position").first()
    client.get(reverse("api-assignment", args=[first.public_id]))  # opened, then left
    Read.objects.filter(assignment=first).update(opened_at=timezone.now() - timedelta(days=2))
    assert [a.pk for a in silent_assignments(study)] == [first.pk]
    assert waiting_sessions(study) == []

    for assignment in Assignment.objects.filter(study=study, session__index=1):
        submit(client, assignment)
    assert silent_assignments(study) == []
    assert [(s.reader, s.index) for s in waiting_sessions(study)] == [(reader, 2)]
    client.force_login(coordinator)
    page = client.get(reverse("study-detail", args=[study.pk])).content.decode()
    assert f"{reader.username}: session 2 is open but not started" in page


def test_unopened_assignments_can_be_revoked_or_moved_and_opened_ones_stay(
    demo_case_set, coordinator, client, admin_user
):
    from readerstudy.models import Assignment
    from readerstudy.studies.lifecycle import move_assignment, revoke_assignment

    first, second = UserFactory(username="first", roles=["reader"]), UserFactory(username="second", roles=["reader"])
    study = Study.objects.create(
        title="Changes", case_set=demo_case_set, arms=[Arm.UNAIDED, Arm.LABELS_ONLY], primary_arm=Arm.LABELS_ONLY
    )
    add_readers(study, [first, second])
    run_and_pin(study)
    open_study(study, coordinator)
    mine = Assignment.objects.filter(reader=first, session__index=1).order_by("position")
    opened, to_revoke = mine[0], mine[1]
    client.force_login(first)
    client.get(reverse("api-assignment", args=[opened.public_id]))
    with pytest.raises(LifecycleRefused, match="has been opened; started and submitted reads stay.$"):
        revoke_assignment(opened, admin_user)
    revoke_assignment(to_revoke, admin_user, "case withdrawn")
    assert not Assignment.objects.filter(pk=to_revoke.pk).exists()

    # The other reader already reads every case under every arm, so a move there is refused...
    to_move = mine[2]
    with pytest.raises(LifecycleRefused, match="^second already reads this case under this arm.$"):
        move_assignment(to_move, second, admin_user)
    # ...and a new reader of the study takes it at the end of their session 1.
    third = UserFactory(username="third", roles=["reader"])
    add_readers(study, [third])
    Assignment.objects.filter(reader=third, case=to_move.case, arm=to_move.arm).delete()
    last = max(Assignment.objects.filter(reader=third, session__index=1).values_list("position", flat=True))
    move_assignment(to_move, third, admin_user, "first is on leave")
    moved = Assignment.objects.get(pk=to_move.pk)
    assert (moved.reader, moved.session.reader, moved.session.index, moved.position) == (third, third, 1, last + 1)
    assert [e.action for e in AuditEntry.objects.filter(study=study).order_by("id")] == [
        "opened",
        "assignment_revoked",
        "readers_added",
        "assignment_moved",
    ]
    moved_entry = AuditEntry.objects.get(action="assignment_moved")
    assert moved_entry.reason == "first is on leave" and moved_entry.detail.startswith("Moved the ")


def test_admins_revoke_from_the_django_admin(demo_case_set, coordinator, client, admin_user, reader):
    from readerstudy.models import Assignment

    study = Study.objects.create(title="Admin revoke", case_set=demo_case_set, arms=[Arm.UNAIDED])
    add_readers(study, [reader])
    target = Assignment.objects.filter(study=study).first()
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:readerstudy_assignment_changelist"),
        {"action": "revoke", "_selected_action": [target.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert not Assignment.objects.filter(pk=target.pk).exists()
    assert AuditEntry.objects.get().action == "assignment_revoked"


def test_an_open_study_freezes_its_pins_and_protocol(draft, coordinator, reader, admin_user, rf):
    from django.contrib.admin.sites import site

    from readerstudy.studies.pinning import PinRefused, pin_run

    add_readers(draft, [reader])
    run = run_and_pin(draft)
    open_study(draft, coordinator)
    with pytest.raises(PinRefused, match="the study is open: its pinned outputs are frozen"):
        pin_run(draft, run)
    request = rf.get("/")
    request.user = admin_user
    editable_draft = StudyFactory(case_set=draft.case_set)
    draft_fields = site._registry[Study].get_readonly_fields(request, editable_draft)
    assert {"blank_truth", "primary_endpoint", "primary_arm", "primary_versus"}.isdisjoint(draft_fields)
    # Set at creation, like dry run: the questions are made then.
    assert {"is_dry_run", "asks_abnormality"} <= set(draft_fields)
    frozen = site._registry[Study].get_readonly_fields(request, Study.objects.get(pk=draft.pk))
    assert {
        "case_set",
        "arms",
        "washout_days",
        "randomisation_seed",
        "practice_case_set",
        "blank_truth",
        "primary_endpoint",
        "primary_arm",
        "primary_versus",
    } <= set(frozen)


def test_the_admin_form_checks_the_primary_comparison_in_a_draft_and_leaves_an_open_study_alone(
    demo_case_set, admin_user, rf
):
    from django.contrib.admin.sites import site
    from django.forms.models import model_to_dict

    request = rf.get("/")
    request.user = admin_user
    admin = site._registry[Study]
    draft = Study.objects.create(title="Two arms", case_set=demo_case_set, arms=[Arm.UNAIDED, Arm.LABELS_ONLY])
    data = {key: value for key, value in model_to_dict(draft).items() if value is not None}
    data["arms"] = '["UNAIDED", "LABELS_ONLY"]'
    form = admin.get_form(request, draft)(data=data, instance=draft)
    assert not form.is_valid()
    assert form.errors["primary_arm"] == [
        "The primary comparison names arms the study does not run: Full AI reasoning."
    ]
    form = admin.get_form(request, draft)(data={**data, "primary_arm": "LABELS_ONLY"}, instance=draft)
    assert form.is_valid(), form.errors
    Study.objects.filter(pk=draft.pk).update(status=Study.Status.OPEN)
    opened = Study.objects.get(pk=draft.pk)
    assert admin.get_form(request, opened)(data={}, instance=opened).is_valid()
