"""Protocol integrity: a running study's protocol, case sets, ground truth and pins are frozen on the models,
so the admin, the services and the shell meet the same rule; the audit trail cannot be erased; every admin
change leaves a history row with who and why."""

import re

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError
from django.urls import reverse

from inference.models import StudyOutputPin
from readerstudy.models import (
    AuditEntry,
    CaseSetMembership,
    GroundTruth,
    Label,
    ProtocolFrozen,
    Study,
    StudyAnalysis,
    StudyQuestion,
)
from readerstudy.studies.enrolment import add_readers
from readerstudy.studies.lifecycle import open_study
from readerstudy.studies.truth import CorrectionRefused, correct_ground_truth
from tests.factories import UserFactory
from tests.reading_setup import run_and_pin

pytestmark = pytest.mark.django_db


@pytest.fixture
def opened(demo_case_set, coordinator, reader):
    study = Study.objects.create(title="Running", case_set=demo_case_set)
    add_readers(study, [reader])
    run_and_pin(study)
    return open_study(study, coordinator)


def frozen(message):
    return pytest.raises(ProtocolFrozen, match=f"^\\['{re.escape(message)}'\\]$")


def admin_post_data(response):
    """Every field of a rendered admin change form, as the browser would send it back unchanged."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update({f"{formset.prefix}-{name}": value for name, value in formset.management_form.initial.items()})
        forms += formset.forms
    for form in forms:
        for name, field in form.fields.items():
            value = form.initial.get(name, field.initial)
            if value is None or value is False:
                continue
            data[form.add_prefix(name)] = (
                value.pk
                if hasattr(value, "pk")
                else (str(value).replace("'", '"') if isinstance(value, list) else value)
            )
    return data


# --- the rules on the models ----------------------------------------------------------------------------------


def test_an_open_studys_protocol_and_status_change_only_through_the_services(opened):
    opened.arms = ["UNAIDED"]
    opened.blank_truth = "unknown"
    with frozen("The study is open: its protocol is frozen (arms, blank truth cannot change)."):
        opened.save()
    study = Study.objects.get(pk=opened.pk)
    study.title = "Renamed"  # not part of the protocol
    study.save()
    study.status = Study.Status.CLOSED
    with frozen(
        "A study opens and closes only with Open and Close on its page, which check it and write the audit log."
    ):
        study.save()
    assert Study.objects.get(pk=opened.pk).status == Study.Status.OPEN


def test_a_draft_cannot_be_opened_by_saving_it(demo_case_set):
    draft = Study.objects.create(title="Draft", case_set=demo_case_set)
    draft.status = Study.Status.OPEN
    with frozen(
        "A study opens and closes only with Open and Close on its page, which check it and write the audit log."
    ):
        draft.save()


def test_questions_case_sets_ground_truth_and_pins_of_a_running_study_are_frozen(opened, demo_case_set):
    with frozen("Study “Running” is open: its questions are frozen."):
        StudyQuestion.objects.create(study=opened, key="late", text="Added late?", min_anchor="a", max_anchor="b")
    with frozen("Study “Running” is open: its questions are frozen."):
        opened.questions.first().delete()
    case = demo_case_set.ordered_cases().first()
    with frozen("Case set “demo” belongs to study “Running”, which is open: its cases are frozen."):
        CaseSetMembership.objects.get(case_set=demo_case_set, case=case).delete()
    truth_rule = (
        f"Case {case} is read in study “Running”, which is open: its ground truth changes only through "
        "“Correct ground truth”, with a reason (audited)."
    )
    row = case.ground_truth.first()
    row.value = "positive"
    with frozen(truth_rule):
        row.save()
    with frozen(truth_rule):
        row.delete()
    with frozen("Study “Running” is open: its pinned outputs are frozen."):
        StudyOutputPin.objects.filter(study=opened).first().delete()


def test_a_ground_truth_correction_needs_a_reason_is_audited_and_marks_the_analysis_stale(
    opened, demo_case_set, admin_user
):
    case = demo_case_set.ordered_cases().first()
    StudyAnalysis.objects.create(study=opened, requested_version=2, computed_version=2)
    with pytest.raises(CorrectionRefused, match="^Say why the ground truth is corrected.$"):
        correct_ground_truth(case, "pneumothorax", "positive", admin_user, "  ")
    before = case.ground_truth.get(label__slug="pneumothorax").value
    after = "uncertain" if before != "uncertain" else "negative"
    assert correct_ground_truth(case, "pneumothorax", after, admin_user, "Missed on the labels file.") == [opened]
    assert case.ground_truth.get(label__slug="pneumothorax").value == after
    entry = AuditEntry.objects.get(action="truth_corrected")
    assert (entry.study, entry.username, entry.detail, entry.reason) == (
        opened,
        admin_user.username,
        f"Ground truth of case {case}: Pneumothorax {before} → {after}.",
        "Missed on the labels file.",
    )
    assert StudyAnalysis.objects.get(study=opened).requested_version == 3
    latest = GroundTruth.history.filter(case=case, label__slug="pneumothorax").latest("history_date")
    assert (latest.history_type, latest.history_change_reason) == ("~", "Missed on the labels file.")
    assert [(c.field, c.old, c.new) for c in latest.diff_against(latest.prev_record).changes] == [
        ("value", before, after)
    ]


# --- the admin ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_the_admin_shows_a_running_studys_protocol_read_only_with_the_rule(client, opened, demo_case_set, role):
    user = UserFactory(roles=[role], is_staff=True)
    opened.coordinators.add(user)
    client.force_login(user)
    page = client.get(reverse("admin:readerstudy_study_change", args=[opened.pk]))
    assert "The study is open: its protocol, questions, case set and pins are frozen." in page.content.decode()
    # Sent back as it is, nothing of the protocol can change, and the status is not a field at all.
    data = {**admin_post_data(page), "status": "closed", "arms": '["UNAIDED"]', "washout_days": "1"}
    client.post(reverse("admin:readerstudy_study_change", args=[opened.pk]), data)
    study = Study.objects.get(pk=opened.pk)
    assert (study.status, study.arms, study.washout_days) == ("open", opened.arms, opened.washout_days)
    assert study.questions.count() == 5

    case_set_page = client.get(reverse("admin:readerstudy_caseset_change", args=[demo_case_set.pk]))
    assert (
        "Case set “demo” belongs to study “Running”, which is open: its cases are frozen."
        in case_set_page.content.decode()
    )
    case = demo_case_set.ordered_cases().first()
    case_page = client.get(reverse("admin:readerstudy_case_change", args=[case.pk]))
    text = case_page.content.decode()
    assert f"Case {case} is read in study “Running”, which is open" in text
    assert 'data-testid="correct-truth"' in text
    truth = dict(case.ground_truth.values_list("label__slug", "value"))
    data = admin_post_data(case_page)
    flipped = {key: "positive" for key in data if key.startswith("ground_truth-") and key.endswith("-value")}
    client.post(reverse("admin:readerstudy_case_change", args=[case.pk]), {**data, **flipped})
    assert dict(case.ground_truth.values_list("label__slug", "value")) == truth


def test_opening_a_draft_in_the_admin_is_impossible(client, demo_case_set):
    client.force_login(UserFactory(roles=["admin"], is_staff=True))
    draft = Study.objects.create(title="Draft", case_set=demo_case_set)
    page = client.get(reverse("admin:readerstudy_study_change", args=[draft.pk]))
    assert "status" not in page.context["adminform"].form.fields
    data = {**admin_post_data(page), "status": "open", "change_reason": "Renamed for the registry."}
    data["title"] = "Draft, renamed"
    response = client.post(reverse("admin:readerstudy_study_change", args=[draft.pk]), data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.title, draft.status) == ("Draft, renamed", "draft")
    change = draft.history.latest("history_date")
    assert (change.history_user.username.startswith("user"), change.history_change_reason) == (
        True,
        "Renamed for the registry.",
    )
    assert [c.field for c in change.diff_against(change.prev_record).changes] == ["title"]


def test_a_draft_studys_questions_are_given_n_a_in_the_admin_and_show_it_frozen_once_open(client, demo_case_set):
    client.force_login(UserFactory(roles=["admin"], is_staff=True))
    draft = Study.objects.create(title="Draft", case_set=demo_case_set)
    page = client.get(reverse("admin:readerstudy_study_change", args=[draft.pk]))
    data = admin_post_data(page)
    [prefix] = [k[: -len("-key")] for k, v in data.items() if k.startswith("questions-") and v == "confidence"]
    response = client.post(
        reverse("admin:readerstudy_study_change", args=[draft.pk]), {**data, f"{prefix}-allows_not_applicable": "on"}
    )
    assert response.status_code == 302
    allowed = draft.questions.filter(allows_not_applicable=True).values_list("key", flat=True)
    assert sorted(allowed) == ["confidence", "uncertainty_qualified"]  # the one just ticked, and the default one

    Study.objects.filter(pk=draft.pk).update(status=Study.Status.OPEN)
    frozen = client.get(reverse("admin:readerstudy_study_change", args=[draft.pk]))
    [inline] = frozen.context["inline_admin_formsets"]
    assert "allows_not_applicable" in inline.readonly_fields


def test_only_admins_correct_ground_truth_through_the_admin(client, opened, demo_case_set):
    case = demo_case_set.ordered_cases().first()
    url = reverse("admin:readerstudy_case_correct_truth", args=[case.pk])
    client.force_login(UserFactory(roles=["coordinator"], is_staff=True))
    assert client.post(url, {"label": "edema", "value": "positive", "reason": "x"}).status_code == 403
    client.force_login(UserFactory(roles=["admin"], is_staff=True))
    refused = client.post(url, {"label": "edema", "value": "positive", "reason": ""})
    assert "This field is required." in refused.content.decode()
    done = client.post(url, {"label": "edema", "value": "uncertain", "reason": "Reviewed by two radiologists."})
    assert done.status_code == 302 and case.ground_truth.get(label__slug="edema").value == "uncertain"
    page = client.get(reverse("study-detail", args=[opened.pk])).content.decode()
    assert "Ground truth of case" in page and "Reason: Reviewed by two radiologists." in page
    assert re.search(
        r"ground truth [^·]*: Edema uncertain changed: value: \w+ → uncertain Reason: Reviewed by two "
        r"radiologists.",
        page,
    )


# --- the audit trail ------------------------------------------------------------------------------------------


def test_audit_entries_cannot_be_updated_deleted_or_truncated_in_postgresql(opened):
    assert AuditEntry.objects.filter(study=opened).exists()
    for statement in (
        "UPDATE readerstudy_auditentry SET detail = 'rewritten'",
        "DELETE FROM readerstudy_auditentry",
        # Pending foreign-key checks would refuse a TRUNCATE before the trigger: run them first.
        "SET CONSTRAINTS ALL IMMEDIATE; SET LOCAL readerstudy.allow_truncate = off; "
        "TRUNCATE readerstudy_auditentry CASCADE",
    ):
        with pytest.raises(DatabaseError, match="audit entries are append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement)
    with pytest.raises(DatabaseError, match="audit entries are append-only"), transaction.atomic():
        AuditEntry.objects.filter(study=opened).delete()
    assert AuditEntry.objects.filter(study=opened).count() == 1


def test_a_user_with_audit_entries_is_deactivated_never_deleted(client, opened, coordinator):
    entry = AuditEntry.objects.get(study=opened)
    assert (entry.user, entry.username) == (coordinator, coordinator.username)
    with pytest.raises(ProtectedError):
        coordinator.delete()
    client.force_login(UserFactory(roles=["admin"], is_staff=True, is_superuser=True))
    response = client.post(reverse("admin:auth_user_delete", args=[coordinator.pk]), {"post": "yes"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        f"{coordinator.username} holds study data (1 audit entries): users who hold study data are never "
        "deleted. Deactivate the account instead (untick “Active”)."
    ]
    coordinator.refresh_from_db()
    assert coordinator.is_active
    # A user without study data can still be removed (a mistyped account, say).
    stray = UserFactory(roles=["reader"])
    client.post(reverse("admin:auth_user_delete", args=[stray.pk]), {"post": "yes"})
    assert not type(stray).objects.filter(pk=stray.pk).exists()


def test_admin_changes_to_cases_case_sets_and_their_rows_leave_history_with_who_and_why(client, demo_case_set):
    admin_user = UserFactory(roles=["admin"], is_staff=True)
    client.force_login(admin_user)
    case = demo_case_set.ordered_cases().first()
    page = client.get(reverse("admin:readerstudy_case_change", args=[case.pk]))
    data = admin_post_data(page)
    edema = next(
        key
        for key, value in data.items()
        if key.startswith("ground_truth-")
        and key.endswith("-label")
        and value == Label.objects.get(vocabulary="chexpert", slug="edema").pk
    )
    data[edema.replace("-label", "-value")] = "uncertain"
    data["change_reason"] = "Second reading of the draft's labels."
    assert client.post(reverse("admin:readerstudy_case_change", args=[case.pk]), data).status_code == 302
    row = GroundTruth.history.filter(case=case, label__slug="edema").latest("history_date")
    assert (row.value, row.history_type, row.history_user, row.history_change_reason) == (
        "uncertain",
        "~",
        admin_user,
        "Second reading of the draft's labels.",
    )

    page = client.get(reverse("admin:readerstudy_caseset_change", args=[demo_case_set.pk]))
    data = admin_post_data(page)
    data["description"] = "Six synthetic radiographs."
    data["change_reason"] = "Described for the protocol."
    assert client.post(reverse("admin:readerstudy_caseset_change", args=[demo_case_set.pk]), data).status_code == 302
    change = demo_case_set.history.latest("history_date")
    assert (change.history_user, change.history_change_reason) == (admin_user, "Described for the protocol.")
    assert [(c.field, c.new) for c in change.diff_against(change.prev_record).changes] == [
        ("description", "Six synthetic radiographs.")
    ]
