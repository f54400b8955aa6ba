"""Readers into a study's crossover design: enrolment, sessions and assignments in one transaction."""

from django.db import transaction
from simple_history.utils import bulk_create_with_history

from readerstudy.core.roles import READER, has_role
from readerstudy.models import Arm, Assignment, AuditEntry, ReadingSession, Study, StudyReader
from readerstudy.studies.design import BALANCED_FOR, DESIGN_VERSION, DesignCase, DesignRefused, group_size, plan
from readerstudy.studies.lifecycle import audit


def design_cases(study):
    return [DesignCase(case.pk, case.is_abnormal) for case in study.case_set.ordered_cases()]


def add_readers(study, users, by=None):
    """Give each user the next rows of the study's design; refused as a whole if any user cannot join.

    Readers added to an open study are recorded in its audit log (by `by`)."""
    users = list(dict.fromkeys(users))
    if not users:
        raise DesignRefused("Choose at least one reader.")
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        _refuse_unless_designable(study, users)
        first_row = designed_readers(study)
        arms = [arm.value for arm in study.ordered_arms]
        planned = plan(
            design_cases(study),
            arms,
            study.randomisation_seed,
            range(first_row, first_row + len(users)),
            design_version(study),
        )
        if not study.design_version:
            study.design_version = DESIGN_VERSION
            study.save(update_fields=["design_version"])
        for offset, user in enumerate(users):
            enrolment = StudyReader.enrol(study, user)
            enrolment.design_row = first_row + offset
            enrolment.save(update_fields=["design_row"])
            sessions = {
                index: ReadingSession.objects.create(study=study, reader=user, index=index)
                for index in range(1, len(arms) + 1)
            }
            practice = _practice_assignments(study, user, sessions[1], arms)
            # The design's first session starts after the practice cases.
            shift = {index: len(practice) if index == 1 else 0 for index in sessions}
            bulk_create_with_history(
                practice
                + [
                    Assignment(
                        study=study,
                        reader=user,
                        case_id=read.case_id,
                        arm=read.arm,
                        session=sessions[read.session],
                        position=read.position + shift[read.session],
                    )
                    for read in planned
                    if read.reader_row == first_row + offset
                ],
                Assignment,
                default_user=by,
                default_change_reason="designed",
            )
        if study.status == Study.Status.OPEN:
            names = ", ".join(u.get_username() for u in users)
            audit(
                study,
                by,
                AuditEntry.Action.READERS_ADDED,
                f"Added {names} (design rows {first_row}–{first_row + len(users) - 1}).",
            )
    return study


def design_version(study):
    """The version the study was designed with; a study not designed yet gets the current one."""
    return study.design_version or DESIGN_VERSION


def designed_readers(study):
    return StudyReader.objects.filter(study=study, design_row__isnull=False).count()


def balance_note(study, adding=0):
    """How the study's designed readers (and `adding` more) fill its design's complete groups, over which its
    balance holds."""
    version, k, readers = design_version(study), len(study.arms), designed_readers(study) + adding
    size = group_size(version, k)
    complete, extra = divmod(readers, size)
    note = (
        f"{version}: arms are balanced for {BALANCED_FOR[version]} within each complete group of {size} readers; "
        f"{readers} reader(s) make {complete} complete group(s)"
    )
    return note + (f" and {extra} more (add {size - extra} to complete the group)." if extra else ".")


def preview(study, users):
    """What add_readers would create, without creating it: per reader, per session, each block's arm and size."""
    users = list(dict.fromkeys(users))
    if not users:
        raise DesignRefused("Choose at least one reader.")
    _refuse_unless_designable(study, users)
    cases = design_cases(study)
    abnormal = {c.id for c in cases if c.abnormal}
    first_row = designed_readers(study)
    arms = [arm.value for arm in study.ordered_arms]
    planned = plan(
        cases, arms, study.randomisation_seed, range(first_row, first_row + len(users)), design_version(study)
    )
    names = dict(Arm.choices)
    table = []
    for offset, user in enumerate(users):
        cells = {}
        for read in (r for r in planned if r.reader_row == first_row + offset):
            arm, size, sick = cells.get((read.session, read.block), (read.arm, 0, 0))
            cells[(read.session, read.block)] = (arm, size + 1, sick + (read.case_id in abnormal))
        sessions = [
            [(block + 1, names[cells[(s, block)][0]], *cells[(s, block)][1:]) for block in range(len(arms))]
            for s in range(1, len(arms) + 1)
        ]
        table.append((user, first_row + offset, sessions))
    return table


def _practice_assignments(study, user, first_session, arms):
    """Practice cases open the first session, one arm after another, so the reader meets each condition."""
    if not study.practice_case_set_id:
        return []
    return [
        Assignment(
            study=study,
            reader=user,
            case=case,
            arm=arms[i % len(arms)],
            session=first_session,
            position=i + 1,
            is_practice=True,
        )
        for i, case in enumerate(study.practice_case_set.ordered_cases())
    ]


def _refuse_unless_designable(study, users):
    if study.status == Study.Status.CLOSED:
        raise DesignRefused("The study is closed.")
    if study.is_free_form:
        raise DesignRefused("This study is free-form: assign case sets to readers instead.")
    if (
        study.practice_case_set_id
        and study.practice_case_set.cases.filter(pk__in=study.case_set.cases.values("pk")).exists()
    ):
        raise DesignRefused("The practice cases must not be study cases.")
    not_readers = [u.get_username() for u in users if not has_role(u, READER)]
    if not_readers:
        raise DesignRefused(f"Not readers: {', '.join(not_readers)}.")
    holding = sorted(
        set(Assignment.objects.filter(study=study, reader__in=users).values_list("reader__username", flat=True))
    )
    if holding:
        raise DesignRefused(f"Already reading in this study: {', '.join(holding)}.")


def assign_case_set(study, reader, case_set, arm):
    """Free-form studies, in draft: one new session for `reader` with every case of `case_set` under `arm`."""
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        if not study.is_free_form:
            raise DesignRefused("Only free-form studies take case sets outside the crossover design.")
        if study.status != Study.Status.DRAFT:
            raise DesignRefused("Case sets are assigned while the study is a draft.")
        if arm not in study.arms:
            raise DesignRefused(f"The study has no arm {arm}.")
        if not has_role(reader, READER):
            raise DesignRefused(f"Not a reader: {reader.get_username()}.")
        cases = list(case_set.ordered_cases())
        taken = Assignment.objects.filter(study=study, reader=reader, arm=arm, case__in=cases).count()
        if taken:
            raise DesignRefused(f"{reader.get_username()} already reads {taken} of these cases under this arm.")
        StudyReader.enrol(study, reader)
        index = ReadingSession.objects.filter(study=study, reader=reader).count() + 1
        session = ReadingSession.objects.create(study=study, reader=reader, index=index)
        bulk_create_with_history(
            [
                Assignment(study=study, reader=reader, case=case, arm=arm, session=session, position=position)
                for position, case in enumerate(cases, start=1)
            ],
            Assignment,
            default_change_reason=f"case set {case_set} assigned",
        )
        return session
