"""Readers designed into a study (service and `design_study`), and the washout between their sessions."""

from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from inference import jobs
from inference.runner import execute_job
from readerstudy.cases.ingest import IngestOptions, import_cases
from readerstudy.models import Arm, Assignment, CaseSet, Read, ReadingSession, Study, StudyReader
from readerstudy.studies.design import DESIGN_VERSION, LATIN_SQUARE, WILLIAMS, DesignRefused, plan
from readerstudy.studies.enrolment import add_readers, balance_note, design_cases
from readerstudy.studies.lifecycle import LifecycleRefused, open_study
from readerstudy.studies.pinning import pin_run
from tests.factories import CaseFactory, CaseSetFactory, StudyFactory, UserFactory
from tests.reading_setup import run_and_pin, simulated_configuration
from tests.test_reading_api import submit, url
from tooling.synthetic.cases import make_synthetic_cases

pytestmark = pytest.mark.django_db


@pytest.fixture
def thirty_cases():
    cases = [CaseFactory(is_abnormal=i % 3 != 0) for i in range(30)]
    return CaseSetFactory(cases=cases)


def readers(n):
    return [UserFactory(roles=["reader"]) for _ in range(n)]


def pattern(study):
    """The design as (reader row, session, position, case, arm), independent of user ids."""
    rows = dict(StudyReader.objects.filter(study=study).values_list("user_id", "design_row"))
    return sorted(
        (rows[a.reader_id], a.session.index, a.position, a.case_id, a.arm)
        for a in Assignment.objects.filter(study=study).select_related("session")
    )


def test_six_readers_thirty_cases_three_arms_give_540_assignments(thirty_cases):
    study = StudyFactory(case_set=thirty_cases)
    add_readers(study, readers(6))
    study.refresh_from_db()
    assert study.design_version == DESIGN_VERSION
    assignments = Assignment.objects.filter(study=study)
    assert assignments.count() == 540
    assert Counter(assignments.values_list("arm", flat=True)) == {arm: 180 for arm in Arm.values}
    assert ReadingSession.objects.filter(study=study).count() == 18
    per_reader_case = Counter(assignments.values_list("reader_id", "case_id"))
    assert set(per_reader_case.values()) == {3}
    assert sorted(StudyReader.objects.filter(study=study).values_list("reader_code", "design_row")) == [
        (f"R{i:02d}", i - 1) for i in range(1, 7)
    ]


def test_the_same_seed_gives_the_same_design_and_readers_added_later_continue_it(thirty_cases):
    at_once = StudyFactory(case_set=thirty_cases, randomisation_seed=5)
    add_readers(at_once, readers(6))
    in_two_steps = StudyFactory(case_set=thirty_cases, randomisation_seed=5)
    add_readers(in_two_steps, readers(4))
    add_readers(in_two_steps, readers(2))
    other_seed = StudyFactory(case_set=thirty_cases, randomisation_seed=6)
    add_readers(other_seed, readers(6))
    assert pattern(at_once) == pattern(in_two_steps)
    assert pattern(at_once) != pattern(other_seed)


def test_a_latin_square_1_study_keeps_its_version_when_readers_are_added_later(thirty_cases):
    """A study designed before williams-1 continues its own design, reproducible from its seed."""
    study = StudyFactory(case_set=thirty_cases, randomisation_seed=9, design_version=LATIN_SQUARE)
    add_readers(study, readers(2))
    add_readers(study, readers(1))
    study.refresh_from_db()
    assert study.design_version == LATIN_SQUARE
    expected = plan(design_cases(study), Arm.values, 9, range(3), LATIN_SQUARE)
    assert pattern(study) == sorted((r.reader_row, r.session, r.position, r.case_id, r.arm) for r in expected)
    assert pattern(study) != sorted(
        (r.reader_row, r.session, r.position, r.case_id, r.arm)
        for r in plan(design_cases(study), Arm.values, 9, range(3), WILLIAMS)
    )
    assert balance_note(study) == (
        "latin-square-1: arms are balanced for order (not carry-over) within each "
        "complete group of 3 readers; 3 reader(s) make 1 complete group(s)."
    )


def test_a_williams_study_balances_carry_over_over_its_six_readers(thirty_cases):
    study = StudyFactory(case_set=thirty_cases)
    add_readers(study, readers(6))
    arms_by_pair = {}
    for a in Assignment.objects.filter(study=study).select_related("session").order_by("session__index"):
        arms_by_pair.setdefault((a.reader_id, a.case_id), []).append(a.arm)
    follows = Counter((arms[i], arms[i + 1]) for arms in arms_by_pair.values() for i in range(2))
    assert follows == {(a, b): 60 for a in Arm.values for b in Arm.values if a != b}
    assert balance_note(study) == (
        "williams-1: arms are balanced for order and carry-over within each complete "
        "group of 6 readers; 6 reader(s) make 1 complete group(s)."
    )


def test_impossible_designs_are_refused_and_leave_nothing(thirty_cases):
    study = StudyFactory(case_set=CaseSetFactory(cases=[CaseFactory(), CaseFactory()]))
    with pytest.raises(DesignRefused, match="^The case set has 2 case\\(s\\); a design with 3 arms needs at least 3.$"):
        add_readers(study, readers(1))
    study = StudyFactory(case_set=thirty_cases)
    with pytest.raises(DesignRefused, match="^Choose at least one reader.$"):
        add_readers(study, [])
    coordinator = UserFactory(username="coord", roles=["coordinator"])
    with pytest.raises(DesignRefused, match="^Not readers: coord.$"):
        add_readers(study, readers(1) + [coordinator])
    first = readers(1)
    add_readers(study, first)
    before = Assignment.objects.count()
    with pytest.raises(DesignRefused, match=f"^Already reading in this study: {first[0].username}.$"):
        add_readers(study, readers(1) + first)
    assert Assignment.objects.count() == before
    assert StudyReader.objects.filter(study=study).count() == 1


def test_the_design_study_command(thirty_cases, capsys):
    study = StudyFactory(case_set=thirty_cases, title="Pilot")
    names = [u.username for u in readers(2)]
    call_command("design_study", "Pilot", "--readers", ",".join(names))
    assert capsys.readouterr().out == (
        f"Pilot: 2 reader(s) added, 180 assignments ({DESIGN_VERSION}, seed {study.randomisation_seed}).\n"
    )
    with pytest.raises(CommandError, match="^No such user\\(s\\): nobody.$"):
        call_command("design_study", str(study.pk), "--readers", "nobody")
    with pytest.raises(CommandError, match="^Already reading in this study: "):
        call_command("design_study", "Pilot", "--readers", names[0])


# --- washout --------------------------------------------------------------------------------------------


@pytest.fixture
def designed(demo_case_set, reader, client):
    study = Study.objects.create(title="Washout", case_set=demo_case_set, arms=[Arm.UNAIDED], washout_days=28)
    add_readers(study, [reader])
    Study.objects.filter(pk=study.pk).update(status=Study.Status.OPEN, opened_at=timezone.now())
    client.force_login(reader)
    return client, list(Assignment.objects.filter(study=study).order_by("position"))


def test_a_later_session_opens_only_after_the_previous_one_and_the_washout(designed):
    # One arm: a single session, so give the reader a second one by hand to exercise the washout.
    client, first = designed
    session_one = first[0].session
    session_two = ReadingSession.objects.create(study=session_one.study, reader=session_one.reader, index=2)
    later = Assignment.objects.create(
        study=session_one.study,
        reader=session_one.reader,
        case=first[0].case,
        arm=Arm.LABELS_ONLY,
        session=session_two,
        position=1,
    )
    for name, args in [("api-assignment", ()), ("api-image", (1,))]:
        response = client.get(url(name, later, *args))
        assert (response.status_code, response.json()["detail"]) == (
            403,
            "This session opens 28 days after you finish session 1.",
        )
    page = client.get(reverse("worklist")).content.decode()
    assert "Opens 28 days after you finish session 1" in page

    for assignment in first:
        assert submit(client, assignment).status_code == 201
    last = Read.objects.filter(assignment__session=session_one).latest("submitted_at").submitted_at
    opens = timezone.localtime(last + timedelta(days=28)).strftime("%-d %b %Y, %H:%M")
    response = client.get(url("api-image", later, 1))
    assert (response.status_code, response.json()["detail"]) == (403, f"This session opens on {opens}.")
    assert f"Opens on {opens}" in client.get(reverse("worklist")).content.decode()

    washed_out = timezone.now() - timedelta(days=28, seconds=1)
    Read.objects.filter(assignment__session=session_one).update(submitted_at=washed_out)
    assert client.get(url("api-image", later, 1)).status_code == 200
    assert client.get(url("api-assignment", later)).status_code == 200


def test_practice_cases_open_the_first_session_and_are_marked(demo_case_set, thirty_cases):
    practice = CaseSet.objects.create(name="practice")
    for position, case in enumerate(list(thirty_cases.ordered_cases())[:3], start=1):
        practice.memberships.create(case=case, position=position)
    study = StudyFactory(case_set=demo_case_set, practice_case_set=practice)
    reader = readers(1)[0]
    add_readers(study, [reader])
    first = list(Assignment.objects.filter(study=study, session__index=1).order_by("position"))
    assert [(a.position, a.is_practice, a.arm) for a in first[:4]] == [
        (1, True, "UNAIDED"),
        (2, True, "LABELS_ONLY"),
        (3, True, "FULL_REASONING"),
        (4, False, first[3].arm),
    ]
    assert len(first) == 3 + 6
    assert not Assignment.objects.filter(study=study, session__index__gt=1, is_practice=True).exists()
    assert Assignment.objects.filter(study=study, is_practice=False).count() == 18

    overlapping = StudyFactory(case_set=demo_case_set, practice_case_set=demo_case_set)
    with pytest.raises(DesignRefused, match="^The practice cases must not be study cases.$"):
        add_readers(overlapping, readers(1))


def test_opening_needs_pins_for_the_practice_cases_too(demo_case_set, coordinator, tmp_path, dicom_store):
    make_synthetic_cases(tmp_path / "practice", count=2, seed=8, size=(96, 120))
    import_cases(
        tmp_path / "practice", IngestOptions(case_set_name="practice", labels_path=tmp_path / "practice" / "labels.csv")
    )
    practice = CaseSet.objects.get(name="practice")
    study = Study.objects.create(title="With practice", case_set=demo_case_set, practice_case_set=practice)
    add_readers(study, readers(1))
    run_and_pin(study)
    # Only the practice case read under an AI arm needs an output (the first one is read unaided).
    with pytest.raises(LifecycleRefused, match="^1 case\\(s\\) have no pinned AI output"):
        open_study(study, coordinator)
    run = jobs.create_run(practice, simulated_configuration(), send=False)
    for job in run.jobs.all():
        execute_job(job.pk)
    assert pin_run(study, run).pinned == 2
    assert open_study(study, coordinator).status == Study.Status.OPEN


def test_free_form_studies_take_case_sets_under_a_chosen_arm(demo_case_set, reader, coordinator, client, admin_user):
    from readerstudy.studies.enrolment import assign_case_set

    study = Study.objects.create(title="Free", case_set=demo_case_set, is_free_form=True)
    with pytest.raises(DesignRefused, match="^This study is free-form: assign case sets to readers instead.$"):
        add_readers(study, [reader])
    client.force_login(admin_user)
    client.post(
        reverse("study-assign-case-set", args=[study.pk]),
        {"reader": reader.pk, "case_set": demo_case_set.pk, "arm": "LABELS_ONLY"},
    )
    session = ReadingSession.objects.get(study=study, reader=reader)
    assert (session.index, [a.arm for a in session.assignments.all()]) == (1, ["LABELS_ONLY"] * 6)
    with pytest.raises(DesignRefused, match=f"^{reader.username} already reads 6 of these cases under this arm.$"):
        assign_case_set(study, reader, demo_case_set, "LABELS_ONLY")
    assign_case_set(study, reader, demo_case_set, "UNAIDED")
    assert ReadingSession.objects.filter(study=study, reader=reader).count() == 2
    with pytest.raises(LifecycleRefused, match="^6 case\\(s\\) have no pinned AI output"):
        open_study(study, coordinator)
    run_and_pin(study)
    assert open_study(study, coordinator).status == Study.Status.OPEN
    with pytest.raises(DesignRefused, match="^Case sets are assigned while the study is a draft.$"):
        assign_case_set(study, reader, demo_case_set, "FULL_REASONING")
    not_free = StudyFactory(case_set=demo_case_set)
    with pytest.raises(DesignRefused, match="^Only free-form studies take case sets outside the crossover design.$"):
        assign_case_set(not_free, reader, demo_case_set, "UNAIDED")
    client.force_login(coordinator)
    response = client.post(
        reverse("study-assign-case-set", args=[study.pk]),
        {"reader": reader.pk, "case_set": demo_case_set.pk, "arm": "UNAIDED"},
    )
    assert response.status_code == 403
