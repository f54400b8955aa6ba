from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from readerstudy.management.study_argument import study_from_argument
from readerstudy.studies.team import TeamRefused, add_to_team, remove_from_team


class Command(BaseCommand):
    help = (
        "Show a study's team (the coordinators who run it), or add and remove coordinators; each change is "
        "written to the study's audit log."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="The study's id or exact title.")
        parser.add_argument("--add", default="", help="Comma-separated usernames of coordinators to add.")
        parser.add_argument("--remove", default="", help="Comma-separated usernames to take off the team.")
        parser.add_argument("--reason", default="", help="Written to the audit log with each change.")

    def handle(self, *args, study, add, remove, reason, **options):
        target = study_from_argument(study)
        adding, removing = _usernames(add), _usernames(remove)
        users = {u.get_username(): u for u in get_user_model().objects.filter(username__in=adding + removing)}
        missing = [name for name in adding + removing if name not in users]
        if missing:
            raise CommandError(f"No such user(s): {', '.join(missing)}.")
        try:
            with transaction.atomic():  # all the changes or, if one is refused, none
                for name in adding:
                    add_to_team(target, users[name], None, reason)
                for name in removing:
                    remove_from_team(target, users[name], None, reason)
        except TeamRefused as refused:
            raise CommandError(f"{refused} Nothing was changed.") from None
        team = list(target.team.order_by("user__username").values_list("user__username", flat=True))
        self.stdout.write(f"{target.title}: {', '.join(team) if team else 'no coordinators (admins only)'}.")


def _usernames(text):
    return [name.strip() for name in text.split(",") if name.strip()]
