"""Computing a study's analysis in the task (mixed models never run per page view).

The task claims the study (one computation at a time), computes until the computed version has caught up with
the requested one, releases the claim, and looks once more, so a request that arrived meanwhile is never
lost. Data and software that hash to the cached key are not recomputed.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from readerstudy.core import leases
from readerstudy.core.errors import Refused
from readerstudy.models import AnalysisPlot, StudyAnalysis

from .dataset import load
from .report import analyse, cache_key
from .schedule import OUTDATED, note_change

logger = logging.getLogger(__name__)


def compute_requested(study_id):
    """The task's body. Returns "computed" (a new result was stored), "current" (nothing new to compute) or
    "busy" (another worker holds the study and will look again when it is done)."""
    row = StudyAnalysis.objects.filter(study_id=study_id)
    row.update(queued_at=None)
    outcome = "current"
    while row.filter(OUTDATED).exists():
        token = leases.claim(row, settings.ANALYSIS_LEASE_S)
        if token is None:
            return "busy"
        try:
            while row.filter(OUTDATED).exists():
                # Each pass renews the lease, so a study whose reads keep coming is never taken over mid-way.
                if not leases.renew(row, token, settings.ANALYSIS_LEASE_S):
                    return "busy"
                if refresh(row.select_related("study").get()):
                    outcome = "computed"
        finally:
            leases.release(row, token)
    return outcome


def refresh(analysis):
    """Bring `analysis` up to the version requested now; recompute only if its data or software changed.
    Returns True if it stored a new result. A failure is recorded (and ends the version) for the coordinator."""
    version = analysis.requested_version
    try:
        data = load(analysis.study)
        key = cache_key(data.data_hash)
        stored = (key != analysis.cache_key or analysis.result is None) and _store(analysis, data, key, version)
    except Exception as failure:  # noqa: BLE001 - recorded for the coordinator, and the loop must end
        logger.exception("analysis of study %s failed", analysis.study_id)
        _newer_than_computed(analysis, version).update(
            error=f"{type(failure).__name__}: {failure}", computed_version=version
        )
        return False
    _newer_than_computed(analysis, version).update(computed_version=version, error="")
    return stored


def _newer_than_computed(analysis, version):
    """The row, unless a result as new as `version` is already stored (never overwrite newer with older)."""
    return StudyAnalysis.objects.filter(pk=analysis.pk, computed_version__lt=version)


def _store(analysis, data, key, version):
    computed = analyse(data)
    with transaction.atomic():
        if not _newer_than_computed(analysis, version).update(
            result=computed.result,
            report_html=computed.html,
            data_hash=data.data_hash,
            cache_key=key,
            computed_at=timezone.now(),
        ):
            return False
        AnalysisPlot.objects.filter(analysis=analysis).delete()
        AnalysisPlot.objects.bulk_create(
            AnalysisPlot(analysis=analysis, name=plot.name, title=plot.title, svg=plot.svg, png=plot.png, order=i)
            for i, plot in enumerate(computed.plots)
        )
    logger.info("analysis of study %s computed from %s reads", analysis.study_id, len(data.reads))
    return True


class AnalysisFailed(Refused):
    """The export or page asked for an analysis whose computation failed."""


def current_analysis(study):
    """The analysis of the study's data as it is now: requested, then computed here unless the cached one is of
    this data and software."""
    analysis = note_change(study.pk).select_related("study").get()
    refresh(analysis)
    analysis.refresh_from_db()
    if analysis.error:
        raise AnalysisFailed(f"The analysis failed: {analysis.error}")
    return analysis
