"""Everything `make demo` needs, idempotently: demo users, synthetic cases in case set `demo`, an open study,
and a dry run filled with simulated reads whose analysis coordinators can open at once."""

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError

from inference import jobs
from inference.models import ModelConfiguration
from inference.runner import execute_job
from readerstudy.analysis.refresh import current_analysis
from readerstudy.cases.ingest import IngestOptions, import_cases
from readerstudy.core.roles import ADMIN, COORDINATOR, READER
from readerstudy.models import Arm, Assignment, CaseSet, ReaderProfile, Study
from readerstudy.reading.simulation import SimulationSettings, simulate_reads
from readerstudy.studies.enrolment import add_readers
from readerstudy.studies.lifecycle import open_study
from readerstudy.studies.pinning import pin_run, unpinned_cases
from readerstudy.studies.team import add_to_team
from tooling.management.commands.make_synthetic_cases import parse_size
from tooling.synthetic.cases import make_synthetic_cases

DEMO_CASE_SET = "demo"
DEMO_STUDY = "Demo study: AI reasoning in chest radiograph reading"
DRY_RUN_STUDY = "Demo dry run: simulated readers, analysed"
# Six: one complete williams-1 group for three arms, so the rehearsal is balanced for carry-over.
DRY_RUN_READERS = [f"simulated-reader{n}" for n in range(1, 7)]
DEMO_SEED = 2026
SIMULATED_CONFIGURATION = "Simulated NV-Reason-CXR"
# Demo logins are printed and documented; the demo runs on 127.0.0.1 with its own embedded database.
DEMO_USERS = [
    ("admin", "demo-admin-pass", ADMIN, {}),
    ("coordinator", "demo-coordinator-pass", COORDINATOR, {}),
    ("reader1", "demo-reader1-pass", READER, {"years_experience": 12, "subspecialty": "Thoracic"}),
    ("reader2", "demo-reader2-pass", READER, {"years_experience": 4, "subspecialty": "General"}),
]
DEMO_INSTRUCTIONS = (
    "Read each chest radiograph as you would in clinical practice. Record your findings and a short report, "
    "then answer the rating questions. Where the AI's output is shown, mark any error you find in it. "
    "Use Pause if you are interrupted."
)


class Command(BaseCommand):
    help = (
        "Create the demo users, synthetic cases, an open three-arm study and an analysed dry run (safe to run again)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=12, help="Number of synthetic cases.")
        parser.add_argument("--image-size", default="2000x2500", help="Synthetic image size, WxH.")

    def handle(self, *args, count, image_size, **options):
        size = parse_size(image_size)
        users = [self._ensure_user(*spec) for spec in DEMO_USERS]
        case_set = self._ensure_cases(count, size)
        study = self._ensure_study(case_set, users[1])
        self._ensure_assignments(study, [user for user, (_, _, role, _) in zip(users, DEMO_USERS) if role == READER])
        self._ensure_pinned_outputs(study, users[1])
        self._ensure_dry_run(case_set, users[1])
        self.stdout.write(self.style.SUCCESS("Demo ready. Log in at http://127.0.0.1:8000 with:"))
        for username, password, role, _ in DEMO_USERS:
            self.stdout.write(f"  {role:<12} {username:<12} {password}")

    def _ensure_user(self, username, password, role, profile):
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(password)
        user.is_staff = role in (ADMIN, COORDINATOR)
        user.save()
        user.groups.add(Group.objects.get(name=role))
        if profile:
            ReaderProfile.objects.update_or_create(user=user, defaults={**profile, "board_certified": True})
        return user

    def _ensure_cases(self, count, size):
        case_set = CaseSet.objects.filter(name=DEMO_CASE_SET).first()
        if case_set and case_set.memberships.count() >= count:
            return case_set
        source = settings.DATA_DIR / "demo-cases"
        self.stdout.write(f"Writing {count} synthetic radiographs to {source} …")
        make_synthetic_cases(source, count=count, seed=DEMO_SEED, size=size)
        report = import_cases(source, IngestOptions(case_set_name=DEMO_CASE_SET, labels_path=source / "labels.csv"))
        if not report.ok:
            raise CommandError(f"demo cases did not import: {report.rejected}")
        self.stdout.write(report.summary())
        return CaseSet.objects.get(name=DEMO_CASE_SET)

    def _ensure_study(self, case_set, coordinator):
        study, created = Study.objects.get_or_create(
            title=DEMO_STUDY,
            defaults={
                "description": "A three-arm within-subject demo study on synthetic radiographs.",
                "instructions": DEMO_INSTRUCTIONS,
                "case_set": case_set,
                "arms": list(Arm.values),
                "washout_days": 0,
                "randomisation_seed": DEMO_SEED,
                "created_by": coordinator,
            },
        )
        if created:
            self.stdout.write(f"Created the study {study.title!r}")
        self._ensure_team(study, coordinator)
        return study

    def _ensure_team(self, study, coordinator):
        """The demo coordinator runs the demo's studies."""
        if not study.coordinators.filter(pk=coordinator.pk).exists():
            add_to_team(study, coordinator, None, "the demo's coordinator (seed_demo)")

    def _ensure_pinned_outputs(self, study, coordinator):
        """Run the simulated model through the real task code, in this process, pin it, open the study."""
        if study.status == Study.Status.DRAFT and unpinned_cases(study).exists():
            configuration = ModelConfiguration.objects.get(name=SIMULATED_CONFIGURATION)
            run = jobs.create_run(study.case_set, configuration, coordinator, send=False)
            for job_id in run.jobs.values_list("pk", flat=True):
                execute_job(job_id)
            report = pin_run(study, run, coordinator)
            if report.problems:
                raise CommandError(f"demo outputs could not be pinned: {report.problems}")
            self.stdout.write(f"Pinned {report.pinned} simulated model outputs")
        if study.status == Study.Status.DRAFT:
            open_study(study, coordinator)
            self.stdout.write(f"Opened the study {study.title!r}")

    def _ensure_assignments(self, study, readers):
        """The readers not yet in the study join its crossover design (the enrolment's sessions and order)."""
        joining = [r for r in readers if not Assignment.objects.filter(study=study, reader=r).exists()]
        if joining:
            add_readers(study, joining)
            self.stdout.write(f"Designed sessions for {', '.join(r.username for r in joining)}")

    def _ensure_dry_run(self, case_set, coordinator):
        """Simulated readers (who cannot log in) fill a dry run, so the analysis page has something to show."""
        study, _ = Study.objects.get_or_create(
            title=DRY_RUN_STUDY,
            defaults={
                "description": "A rehearsal: every read is simulated with a known arm effect on time.",
                "case_set": case_set,
                "arms": list(Arm.values),
                "washout_days": 0,
                "randomisation_seed": DEMO_SEED,
                "is_dry_run": True,
                "asks_abnormality": True,
                "created_by": coordinator,
            },
        )
        self._ensure_team(study, coordinator)
        readers = []
        for username in DRY_RUN_READERS:
            reader, created = User.objects.get_or_create(username=username)
            if created:
                reader.set_unusable_password()
                reader.save()
            reader.groups.add(Group.objects.get(name=READER))
            readers.append(reader)
        self._ensure_assignments(study, readers)
        self._ensure_pinned_outputs(study, coordinator)
        study.refresh_from_db()
        simulated = simulate_reads(study, SimulationSettings(seed=DEMO_SEED))
        if simulated:
            self.stdout.write(f"Simulated {simulated} reads in {study.title!r}")
        current_analysis(study)
