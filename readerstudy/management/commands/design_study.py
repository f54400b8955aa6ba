from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from readerstudy.management.study_argument import study_from_argument
from readerstudy.models import Assignment
from readerstudy.studies.design import DesignRefused
from readerstudy.studies.enrolment import add_readers


class Command(BaseCommand):
    help = "Add readers to a study's counterbalanced crossover design (sessions and assignments)."

    def add_arguments(self, parser):
        parser.add_argument("study", help="The study's id or exact title.")
        parser.add_argument("--readers", required=True, help="Comma-separated usernames.")

    def handle(self, *args, study, readers, **options):
        target = study_from_argument(study)
        names = [name.strip() for name in readers.split(",") if name.strip()]
        users = {u.get_username(): u for u in get_user_model().objects.filter(username__in=names)}
        missing = [name for name in names if name not in users]
        if missing:
            raise CommandError(f"No such user(s): {', '.join(missing)}.")
        try:
            designed = add_readers(target, [users[name] for name in names])
        except DesignRefused as refused:
            raise CommandError(str(refused)) from None
        count = Assignment.objects.filter(study=designed, reader__in=users.values()).count()
        self.stdout.write(
            f"{designed.title}: {len(names)} reader(s) added, {count} assignments "
            f"({designed.design_version}, seed {designed.randomisation_seed})."
        )
