"""The STUDY argument of the study commands: an id or an exact title."""

from django.core.management.base import CommandError

from readerstudy.models import Study


def study_from_argument(text):
    found = Study.objects.filter(pk=int(text)) if text.isdigit() else Study.objects.filter(title=text)
    if found.count() != 1:
        raise CommandError(f"No single study with id or title {text!r}.")
    return found.get()
