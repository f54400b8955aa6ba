"""What a benchmark reads: synthetic cases in an open unaided study, readers each with one session holding every
case, and a signed-in session per reader (no login: password hashing would be measured instead)."""

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import Group, User
from django.contrib.sessions.backends.db import SessionStore
from django.core.management.base import CommandError
from django.utils import timezone

from readerstudy.cases.ingest import IngestOptions, import_cases
from readerstudy.core.roles import READER
from readerstudy.models import Arm, Assignment, CaseSet, ReadingSession, Study, StudyReader
from tooling.synthetic.cases import make_synthetic_cases

CASE_SET = "bench"
SEED = 2026


def seed_readers(readers, cases, size):
    """`readers` readers in one open unaided study of `cases` synthetic cases of `size` (width, height), read in
    the session's enforced order (the dearer checks); returns [(session key, the first assignment's public id)]."""
    source = settings.DATA_DIR / "cases"
    make_synthetic_cases(source, count=cases, seed=SEED, size=size)
    report = import_cases(source, IngestOptions(case_set_name=CASE_SET, labels_path=source / "labels.csv"))
    if not report.ok:
        raise CommandError(f"the synthetic cases did not import: {report.rejected}")
    case_set = CaseSet.objects.get(name=CASE_SET)
    study = Study.objects.create(
        title="Benchmark study",
        case_set=case_set,
        arms=[Arm.UNAIDED],
        instructions="Read each case.",
        washout_days=0,
    )
    # Opened as the reading tests open one: an unaided study has no outputs to pin, and no design is measured.
    Study.objects.filter(pk=study.pk).update(status=Study.Status.OPEN, opened_at=timezone.now())
    study.refresh_from_db()
    ordered = list(case_set.ordered_cases())
    reader_group = Group.objects.get(name=READER)
    signed_in = []
    for number in range(1, readers + 1):
        user = User.objects.create(username=f"bench-reader{number}")
        user.set_unusable_password()
        user.save()
        user.groups.add(reader_group)
        StudyReader.enrol(study, user)
        session = ReadingSession.objects.create(study=study, reader=user, index=1)
        assignments = Assignment.objects.bulk_create(
            Assignment(study=study, reader=user, case=case, arm=Arm.UNAIDED, session=session, position=position)
            for position, case in enumerate(ordered, start=1)
        )
        signed_in.append((session_for(user), assignments[0].public_id))
    return signed_in


def session_for(user):
    """The key of a new session signed in as `user`, as django.contrib.auth.login stores one."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key
