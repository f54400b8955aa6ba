"""Asking for a study's analysis to be recomputed: light enough for the web process (no pandas here).

A change to a study's reads, ground truth or status (core.signals.study_data_changed) calls `request_analysis`,
which bumps the study's requested version and, unless a computation was sent recently, sends one on the
`default` queue once the transaction commits (refresh.py computes it). A periodic sweep resends what a lost
message left behind.
"""

from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from readerstudy.core import leases
from readerstudy.models import Study, StudyAnalysis

OUTDATED = Q(computed_version__lt=F("requested_version"))


def request_analysis(study_id, force=False):
    """The study's data changed: recompute its analysis soon. `force` sends a computation even if one was
    sent recently (a coordinator's "Recompute")."""
    rows = note_change(study_id)
    if not force:
        rows = rows.filter(Q(queued_at__isnull=True) | Q(queued_at__lt=ago(settings.ANALYSIS_REQUEUE_AFTER_S)))
    if rows.update(queued_at=timezone.now()):
        # robust: a broker that is down must not fail the reader's submit; the sweep resends.
        transaction.on_commit(lambda: _send(study_id), robust=True)


def note_change(study_id):
    """Bump the study's requested version (its analysis is now out of date); returns its row as a queryset."""
    rows = StudyAnalysis.objects.filter(study_id=study_id)
    # One UPDATE that never reads the row: its cached result and report grow with the study (megabytes), and
    # every submit comes here. The row is created by the study's first change.
    if not rows.update(requested_version=F("requested_version") + 1):
        StudyAnalysis.objects.get_or_create(study_id=study_id)
        rows.update(requested_version=F("requested_version") + 1)
    return rows


def _send(study_id):
    # By name: the task module imports this one.
    current_app.send_task("analysis.compute", (study_id,), countdown=settings.ANALYSIS_DELAY_S)


def on_study_data_changed(sender, study_id, **kwargs):
    """Receiver of core.signals.study_data_changed (connected in apps.py)."""
    request_analysis(study_id)


def sweep():
    """Resend computations a lost message left waiting, and start studies with reads but no analysis."""
    for study_id in (
        Study.objects.filter(analysis__isnull=True, assignments__read__submitted_at__isnull=False)
        .values_list("pk", flat=True)
        .distinct()
    ):
        request_analysis(study_id)
    waiting = (
        StudyAnalysis.objects.filter(OUTDATED)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=ago(settings.ANALYSIS_REQUEUE_AFTER_S)))
        .filter(leases.free())
    )
    resent = list(waiting.values_list("study_id", flat=True))
    for study_id in resent:
        request_analysis(study_id, force=True)
    return len(resent)


def ago(seconds):
    return timezone.now() - timedelta(seconds=seconds)
