"""Who runs which study: object permissions (django-rules), and the same rule as a queryset for lists.

A study is run by its team (Study.coordinators) and by admins. Coordinators outside the team are answered as
if the study did not exist (404), so neither its data nor its existence leaks. Readers see only their own
assignments (reading/reads.py); they are never on a team.
"""

import rules

from readerstudy.core.roles import ADMIN, COORDINATOR, has_role
from readerstudy.models import Study

RUN_STUDY = "readerstudy.run_study"


@rules.predicate
def is_admin(user):
    return has_role(user, ADMIN)


@rules.predicate
def is_coordinator(user):
    return has_role(user, COORDINATOR)


@rules.predicate
def is_on_team(user, study):
    # Asked without a study (a list, the Django admin's model-level checks): no team to be on.
    return isinstance(study, Study) and study.coordinators.filter(pk=user.pk).exists()


rules.add_perm(RUN_STUDY, rules.is_active & (is_admin | (is_coordinator & is_on_team)))


def studies_run_by(user, queryset=None):
    """`queryset` (every study by default) narrowed to the studies `user` runs: RUN_STUDY for a list."""
    queryset = Study.objects.all() if queryset is None else queryset
    if not user.is_active:
        return queryset.none()
    if has_role(user, ADMIN):
        return queryset
    if has_role(user, COORDINATOR):
        return queryset.filter(pk__in=Study.objects.filter(coordinators=user).values("pk"))
    return queryset.none()
