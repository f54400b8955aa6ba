"""Per-study teams: who runs a study, how the team changes (page, admin, command), and that each change is
audited. What each role reaches on its own and another team's study is the access matrix's
(test_access_matrix.py)."""

from html import unescape

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import CommandError, call_command
from django.urls import reverse

from inference.models import StudyOutputPin
from readerstudy.models import AuditEntry, Study, StudyCoordinator
from readerstudy.rules import RUN_STUDY, studies_run_by
from tests.factories import StudyFactory, UserFactory

pytestmark = pytest.mark.django_db


def on_team(study, *users):
    for user in users:
        study.coordinators.add(user)
    return study


def text(response):
    return unescape(response.content.decode())


def team_of(study):
    return sorted(StudyCoordinator.objects.filter(study=study).values_list("user__username", flat=True))


def audit_of(study):
    return list(
        AuditEntry.objects.filter(study=study).order_by("id").values_list("action", "username", "detail", "reason")
    )


def test_the_permission_and_the_lists_say_the_same_for_every_user_and_study():
    alice, bob = (
        UserFactory(username="alice", roles=["coordinator"]),
        UserFactory(username="bob", roles=["coordinator"]),
    )
    reader_on_team = UserFactory(roles=["reader"])
    first, second, nobodys = StudyFactory(), StudyFactory(), StudyFactory()
    on_team(first, alice)
    on_team(second, alice, bob, reader_on_team)  # a reader added by hand still runs nothing
    inactive = UserFactory(roles=["coordinator"], is_active=False)
    on_team(first, inactive)
    users = [alice, bob, reader_on_team, inactive, UserFactory(roles=["admin"]), UserFactory(), AnonymousUser()]
    expected = {alice: {first, second}, bob: {second}, users[4]: {first, second, nobodys}}
    for user in users:
        listed = set(studies_run_by(user))
        assert listed == expected.get(user, set()), user
        assert {study for study in (first, second, nobodys) if user.has_perm(RUN_STUDY, study)} == (
            expected.get(user, set())
        ), user


def test_a_coordinator_adds_a_colleague_who_then_runs_the_study_and_removing_them_ends_it(client):
    alice, carol = (
        UserFactory(username="alice", roles=["coordinator"]),
        UserFactory(username="carol", roles=["coordinator"]),
    )
    study = on_team(StudyFactory(title="Pleural effusion study"), alice)
    client.force_login(carol)
    assert client.get(reverse("study-detail", args=[study.pk])).status_code == 404
    assert "Pleural effusion study" not in client.get(reverse("home")).content.decode()

    client.force_login(alice)
    page = client.get(reverse("study-detail", args=[study.pk])).content.decode()
    assert f'<option value="{carol.pk}">carol</option>' in page
    response = client.post(
        reverse("study-team-add", args=[study.pk]), {"user": carol.pk, "reason": "second site"}, follow=True
    )
    assert "carol is on the team." in text(response)
    assert team_of(study) == ["alice", "carol"]
    assert StudyCoordinator.objects.get(study=study, user=carol).added_by == alice

    client.force_login(carol)
    assert client.get(reverse("study-detail", args=[study.pk])).status_code == 200
    assert "Pleural effusion study" in client.get(reverse("home")).content.decode()

    client.force_login(alice)
    response = client.post(reverse("study-team-remove", args=[study.pk, carol.pk]), follow=True)
    assert "carol left the team." in text(response)
    client.force_login(carol)
    assert client.get(reverse("study-detail", args=[study.pk])).status_code == 404
    assert audit_of(study) == [
        ("team_joined", "alice", "carol joined the team.", "second site"),
        ("team_left", "alice", "carol left the team.", ""),
    ]


def test_an_admin_outside_the_team_changes_it_and_a_coordinator_who_leaves_is_sent_home(client):
    alice = UserFactory(username="alice", roles=["coordinator"])
    admin_user = UserFactory(username="ada", roles=["admin"])
    study = StudyFactory()
    client.force_login(admin_user)
    client.post(reverse("study-team-add", args=[study.pk]), {"user": alice.pk})
    assert team_of(study) == ["alice"]

    client.force_login(alice)
    response = client.post(reverse("study-team-remove", args=[study.pk, alice.pk]))
    assert (response.status_code, response["Location"]) == (302, reverse("home"))
    assert team_of(study) == []
    assert client.get(reverse("study-detail", args=[study.pk])).status_code == 404
    assert [entry[:3] for entry in audit_of(study)] == [
        ("team_joined", "ada", "alice joined the team."),
        ("team_left", "alice", "alice left the team."),
    ]


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("reader", "rita is not a coordinator: only coordinators join a study's team."),
        ("inactive", "ivan's account is deactivated."),
        ("member", "alice is already on the team."),
    ],
)
def test_who_may_not_join_is_refused_in_words_and_nothing_is_written(client, who, message):
    alice = UserFactory(username="alice", roles=["coordinator"])
    candidates = {
        "reader": UserFactory(username="rita", roles=["reader"]),
        "inactive": UserFactory(username="ivan", roles=["coordinator"], is_active=False),
        "member": alice,
    }
    study = on_team(StudyFactory(), alice)
    client.force_login(alice)
    response = client.post(reverse("study-team-add", args=[study.pk]), {"user": candidates[who].pk}, follow=True)
    assert message in text(response)
    assert team_of(study) == ["alice"]
    assert audit_of(study) == []


def test_the_add_form_offers_only_active_coordinators_off_the_team_and_refuses_a_made_up_choice(client):
    alice = UserFactory(username="alice", roles=["coordinator"])
    UserFactory(username="bea", roles=["coordinator"])
    UserFactory(username="ada", roles=["admin"])
    UserFactory(username="rita", roles=["reader"])
    UserFactory(username="ivan", roles=["coordinator"], is_active=False)
    study = on_team(StudyFactory(), alice)
    client.force_login(alice)
    response = client.get(reverse("study-detail", args=[study.pk]))
    assert [user.username for user in response.context["team_candidates"]] == ["ada", "bea"]
    for made_up in ("99999", "alice'--", ""):
        response = client.post(reverse("study-team-add", args=[study.pk]), {"user": made_up})
        assert response.status_code == 400
        assert ("Choose a coordinator." if not made_up else f"There is no user “{made_up}”") in text(response)
    # Someone not on the team cannot be removed: the same answer as a user that does not exist.
    bea = UserFactory(roles=["coordinator"])
    assert client.post(reverse("study-team-remove", args=[study.pk, bea.pk])).status_code == 404
    assert team_of(study) == ["alice"] and audit_of(study) == []


def test_whoever_creates_a_study_in_the_admin_runs_it(client, demo_case_set):
    carol = UserFactory(username="carol", roles=["coordinator"])
    client.force_login(carol)
    response = client.post(
        reverse("admin:readerstudy_study_add"),
        {
            "title": "Carol's study",
            "case_set": demo_case_set.pk,
            "arms": '["UNAIDED", "FULL_REASONING"]',
            "label_vocabulary": "chexpert",
            "washout_days": 28,
            "randomisation_seed": 7,
            "blank_truth": "negative",
            "primary_endpoint": "time",
            "primary_arm": "FULL_REASONING",
            "primary_versus": "UNAIDED",
            "idle_threshold_s": 60,
            "change_reason": "",
            "questions-TOTAL_FORMS": 0,
            "questions-INITIAL_FORMS": 0,
            "questions-MIN_NUM_FORMS": 0,
            "questions-MAX_NUM_FORMS": 1000,
        },
    )
    assert response.status_code == 302, text(response)[:2000]
    study = Study.objects.get(title="Carol's study")
    assert (study.created_by, team_of(study)) == (carol, ["carol"])
    assert audit_of(study) == [("team_joined", "carol", "carol joined the team.", "created the study")]
    assert client.get(reverse("study-detail", args=[study.pk])).status_code == 200


def test_a_run_is_pinned_only_to_a_study_the_coordinator_runs(client, demo_case_set):
    from tests.reading_setup import run_and_pin

    alice = UserFactory(roles=["coordinator"])
    theirs = StudyFactory(title="Their draft", case_set=demo_case_set)
    mine = on_team(StudyFactory(title="My draft", case_set=demo_case_set), alice)
    run = run_and_pin(StudyFactory(case_set=demo_case_set))
    client.force_login(alice)
    page = client.get(reverse("inference:run", args=[run.pk]))
    assert list(page.context["pin_form"].fields["study"].queryset) == [mine]
    response = client.post(reverse("inference:run-pin", args=[run.pk]), {"pin-study": theirs.pk}, follow=True)
    assert "Choose a draft study that uses this run's case set." in text(response)
    assert not StudyOutputPin.objects.filter(study=theirs).exists()


def test_the_study_team_command_lists_adds_and_removes_all_or_nothing(capsys):
    for name, role in (("alice", "coordinator"), ("bea", "coordinator"), ("rita", "reader")):
        UserFactory(username=name, roles=[role])
    study = StudyFactory(title="Effusion")
    call_command("study_team", "Effusion")
    assert capsys.readouterr().out == "Effusion: no coordinators (admins only).\n"
    call_command("study_team", str(study.pk), "--add", "alice,bea", "--reason", "kick-off")
    assert capsys.readouterr().out == "Effusion: alice, bea.\n"
    with pytest.raises(
        CommandError,
        match=r"^rita is not a coordinator: only coordinators join a study's team\. "
        r"Nothing was changed\.$",
    ):
        call_command("study_team", "Effusion", "--remove", "alice", "--add", "rita")
    with pytest.raises(CommandError, match=r"^No such user\(s\): zoe\.$"):
        call_command("study_team", "Effusion", "--add", "zoe")
    assert team_of(study) == ["alice", "bea"]
    call_command("study_team", "Effusion", "--remove", "bea")
    assert capsys.readouterr().out == "Effusion: alice.\n"
    assert audit_of(study) == [
        ("team_joined", "", "alice joined the team.", "kick-off"),
        ("team_joined", "", "bea joined the team.", "kick-off"),
        ("team_left", "", "bea left the team.", ""),
    ]
