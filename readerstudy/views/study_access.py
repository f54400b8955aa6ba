"""Pages of one study are for those who run it (readerstudy/rules.py); to anyone else the study does not exist."""

from functools import wraps

from django.http import Http404
from django.shortcuts import get_object_or_404

from readerstudy.core.roles import COORDINATOR, role_required
from readerstudy.models import Study
from readerstudy.rules import RUN_STUDY


def study_run_by(user, pk, queryset=None):
    """The study `pk` if `user` runs it; otherwise 404, the answer for a study that does not exist."""
    study = get_object_or_404(Study if queryset is None else queryset, pk=pk)
    if not user.has_perm(RUN_STUDY, study):
        raise Http404("No such study.")
    return study


def study_view(view):
    """A view of study `pk` for its team and admins, called with the study instead of its pk."""

    @role_required(COORDINATOR)
    @wraps(view)
    def wrapped(request, pk, *args, **kwargs):
        return view(request, study_run_by(request.user, pk), *args, **kwargs)

    return wrapped
