"""The data model's guarantees, enforced by the database itself."""

import uuid

import pytest
from django.db import IntegrityError, connection, transaction

from readerstudy.core.labels import CHEXPERT_LABELS
from readerstudy.models import (
    Arm,
    Assignment,
    CaseImage,
    GroundTruth,
    Label,
    Read,
    Study,
    StudyQuestion,
    StudyReader,
    TimingEvent,
    TruthValue,
)
from tests.factories import AssignmentFactory, CaseFactory, CaseSetFactory, ReadFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_migration_seeds_the_fourteen_chexpert_labels_with_hyphenated_slugs():
    labels = list(Label.objects.order_by("order").values_list("slug", "name"))
    assert labels == CHEXPERT_LABELS
    assert ("pleural-effusion", "Pleural Effusion") in labels
    assert ("no-finding", "No Finding") in labels
    assert ("support-devices", "Support Devices") in labels


def test_migration_creates_the_three_role_groups():
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {"reader", "coordinator", "admin"}


def test_second_read_of_an_assignment_is_refused_by_the_database():
    read = ReadFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Read.objects.create(assignment=read.assignment)


def test_second_assignment_of_the_same_case_and_arm_to_a_reader_is_refused():
    first = AssignmentFactory(arm=Arm.LABELS_ONLY)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(
            study=first.study,
            reader=first.reader,
            case=first.case,
            arm=Arm.LABELS_ONLY,
            session=first.session,
            position=first.position + 1,
        )


def test_the_same_case_under_another_arm_is_allowed():
    first = AssignmentFactory(arm=Arm.UNAIDED)
    second = Assignment.objects.create(
        study=first.study,
        reader=first.reader,
        case=first.case,
        arm=Arm.FULL_REASONING,
        session=first.session,
        position=first.position + 1,
    )
    assert second.pk != first.pk


def test_active_time_must_equal_total_less_hidden_and_idle():
    read = ReadFactory()
    Read.objects.filter(pk=read.pk).update(total_ms=10_000, hidden_ms=2_000, idle_ms=1_000, active_ms=7_000)
    with pytest.raises(IntegrityError), transaction.atomic():
        Read.objects.filter(pk=read.pk).update(active_ms=8_000)


def test_a_submitted_read_must_carry_its_client_uuid():
    read = ReadFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Read.objects.filter(pk=read.pk).update(submitted_at="2026-01-01T00:00:00Z")


def test_submission_uuid_is_unique_across_reads():
    token = uuid.uuid4()
    ReadFactory(client_submission_uuid=token)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReadFactory(client_submission_uuid=token)


def test_deleting_a_case_with_assignments_is_refused():
    from django.db.models import ProtectedError

    assignment = AssignmentFactory()
    with pytest.raises(ProtectedError):
        assignment.case.delete()


def test_timing_events_are_append_only_in_the_database():
    assignment = AssignmentFactory()
    event = TimingEvent.objects.create(
        assignment=assignment, page_load_id=uuid.uuid4(), type="page_shown", client_ms=12.5, client_uuid=uuid.uuid4()
    )
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE readerstudy_timingevent SET client_ms = 0 WHERE id = %s", [event.pk])
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        TimingEvent.objects.filter(pk=event.pk).delete()


def test_timing_event_client_uuid_is_unique():
    assignment = AssignmentFactory()
    token = uuid.uuid4()
    TimingEvent.objects.create(
        assignment=assignment, page_load_id=uuid.uuid4(), type="hidden", client_ms=1, client_uuid=token
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        TimingEvent.objects.create(
            assignment=assignment, page_load_id=uuid.uuid4(), type="hidden", client_ms=2, client_uuid=token
        )


def test_case_image_rejects_colour_photometric_and_bits_outside_8_to_16():
    case = CaseFactory()
    fields = dict(
        case=case,
        sop_instance_uid="1.2.3",
        stored_path="x",
        sha256="a" * 64,
        byte_size=1,
        modality="DX",
        rows=10,
        columns=10,
        bits_stored=12,
        photometric_interpretation="MONOCHROME2",
        original_transfer_syntax_uid="1.2.840.10008.1.2.1",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseImage.objects.create(**{**fields, "photometric_interpretation": "RGB"})
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseImage.objects.create(**{**fields, "bits_stored": 32})
    CaseImage.objects.create(**fields)


def test_case_public_id_is_random_and_not_derived_from_the_source_id():
    first, second = CaseFactory(source_id="patient-smith"), CaseFactory(source_id="patient-smith-2")
    assert first.public_id != second.public_id
    assert "smith" not in first.public_id
    assert len(first.public_id) == 17


@pytest.mark.parametrize(
    ("truth", "expected"),
    [
        ({}, None),
        ({"no-finding": TruthValue.POSITIVE}, False),
        ({"support-devices": TruthValue.POSITIVE, "cardiomegaly": TruthValue.NEGATIVE}, False),
        ({"support-devices": TruthValue.POSITIVE, "pneumothorax": TruthValue.POSITIVE}, True),
        ({"edema": TruthValue.UNCERTAIN}, None),
        ({"edema": TruthValue.UNCERTAIN, "cardiomegaly": TruthValue.NEGATIVE}, False),
    ],
)
def test_abnormal_means_a_positive_label_other_than_no_finding_and_support_devices(truth, expected):
    case = CaseFactory()
    for slug, value in truth.items():
        GroundTruth.objects.create(case=case, label=Label.objects.get(slug=slug), value=value)
    case.refresh_normality()
    case.refresh_from_db()
    assert case.is_abnormal is expected


def test_new_study_gets_the_papers_rating_questions_per_arm():
    study = StudyFactory()
    questions = {q.key: q.arms for q in StudyQuestion.objects.filter(study=study)}
    assert questions == {
        "confidence": ["UNAIDED", "LABELS_ONLY", "FULL_REASONING"],
        "usefulness": ["LABELS_ONLY", "FULL_REASONING"],
        "trust": ["LABELS_ONLY", "FULL_REASONING"],
        "reasoning_accuracy": ["FULL_REASONING"],
        "uncertainty_qualified": ["FULL_REASONING"],
    }


def test_a_study_without_ai_arms_gets_only_the_confidence_question():
    study = StudyFactory(arms=["UNAIDED"])
    assert list(study.questions.values_list("key", flat=True)) == ["confidence"]


def test_a_study_asking_the_abnormality_question_asks_it_in_every_arm_on_0_to_100():
    study = StudyFactory(arms=["UNAIDED", "FULL_REASONING"], asks_abnormality=True)
    question = study.questions.get(key="abnormality")
    assert (question.arms, question.scale_min, question.scale_max, question.min_anchor, question.max_anchor) == (
        ["UNAIDED", "FULL_REASONING"],
        0,
        100,
        "Certainly normal",
        "Certainly abnormal",
    )
    assert list(study.questions.values_list("key", flat=True))[-1] == "abnormality"


@pytest.mark.parametrize(
    "fields, errors",
    [
        ({}, {}),
        ({"primary_arm": "UNAIDED"}, {"primary_versus": ["The primary comparison needs two different arms."]}),
        (
            {"arms": ["UNAIDED", "LABELS_ONLY"]},
            {"primary_arm": ["The primary comparison names arms the study does not run: Full AI reasoning."]},
        ),
        (
            {"primary_endpoint": "auc"},
            {"primary_endpoint": ["An AUC needs the abnormality question: tick “asks abnormality”."]},
        ),
        ({"primary_endpoint": "auc", "asks_abnormality": True}, {}),
        ({"arms": ["UNAIDED"]}, {}),  # one arm: no comparison to declare
        ({"arms": ["UNAIDED", "LABELS_ONLY"], "status": "open"}, {}),  # frozen as it opened
    ],
)
def test_the_declared_primary_comparison_must_be_one_the_study_can_make(fields, errors):
    from django.core.exceptions import ValidationError

    study = StudyFactory.build(case_set=CaseSetFactory(), **fields)
    if not errors:
        study.full_clean()
        return
    with pytest.raises(ValidationError) as refused:
        study.full_clean()
    assert refused.value.message_dict == errors


def test_the_database_refuses_a_primary_comparison_of_an_arm_with_itself():
    study = StudyFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Study.objects.filter(pk=study.pk).update(primary_versus="FULL_REASONING")


def test_rating_scale_must_be_ordered():
    study = StudyFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        StudyQuestion.objects.create(
            study=study, key="odd", text="?", scale_min=5, scale_max=5, min_anchor="a", max_anchor="b"
        )


def test_enrolment_copies_the_profile_and_later_edits_do_not_rewrite_it():
    from readerstudy.models import ReaderProfile

    study = StudyFactory()
    user = UserFactory(roles=["reader"])
    ReaderProfile.objects.create(user=user, years_experience=7, subspecialty="Thoracic", board_certified=True)
    enrolment = StudyReader.enrol(study, user)
    user.reader_profile.years_experience = 20
    user.reader_profile.save()
    enrolment.refresh_from_db()
    assert (enrolment.reader_code, enrolment.years_experience, enrolment.subspecialty) == ("R01", 7, "Thoracic")
    assert StudyReader.enrol(study, user).pk == enrolment.pk
    assert StudyReader.enrol(study, UserFactory(roles=["reader"])).reader_code == "R02"
