"""Computing a study's analysis in the task (DESIGN.md §7: mixed models never run per page view).

The task claims the study (one computation at a time), computes until the computed version has caught up with
the requested one, releases the claim, and looks once more, so a request that arrived meanwhile is never
lost. Data and software that hash to the cached key are not recomputed.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from readerstudy.models import AnalysisPlot, StudyAnalysis

from .dataset import load
from .report import analyse, cache_key
from .schedule import OUTDATED, ago

logger = logging.getLogger(__name__)


def compute_requested(study_id):
    """The task's body. Returns "computed", "current" or "busy" (another worker holds the study)."""
    StudyAnalysis.objects.filter(study_id=study_id).update(queued_at=None)
    outcome = "current"
    while _outdated(study_id):
        if not _claim(study_id):
            return "busy"
        try:
            while _outdated(study_id):
                refresh(StudyAnalysis.objects.select_related("study").get(study_id=study_id))
                outcome = "computed"
        finally:
            StudyAnalysis.objects.filter(study_id=study_id).update(started_at=None)
    return outcome


def _outdated(study_id):
    return StudyAnalysis.objects.filter(OUTDATED, study_id=study_id).exists()


def _claim(study_id):
    expired = ago(settings.ANALYSIS_LEASE_S)
    return bool(StudyAnalysis.objects.filter(study_id=study_id)
                .filter(Q(started_at__isnull=True) | Q(started_at__lt=expired))
                .update(started_at=timezone.now()))


def refresh(analysis):
    """Bring `analysis` up to the version requested now; recompute only if its data or software changed."""
    version = analysis.requested_version
    try:
        data = load(analysis.study)
        key = cache_key(data.data_hash)
        if key != analysis.cache_key or analysis.result is None:
            _store(analysis, data, key)
    except Exception as failure:  # noqa: BLE001 - recorded for the coordinator, and the loop must end
        logger.exception("analysis of study %s failed", analysis.study_id)
        StudyAnalysis.objects.filter(pk=analysis.pk).update(error=f"{type(failure).__name__}: {failure}",
                                                            computed_version=version)
        return
    StudyAnalysis.objects.filter(pk=analysis.pk).update(computed_version=version, error="")


def _store(analysis, data, key):
    computed = analyse(data)
    with transaction.atomic():
        StudyAnalysis.objects.filter(pk=analysis.pk).update(
            result=computed.result, report_html=computed.html, data_hash=data.data_hash, cache_key=key,
            computed_at=timezone.now())
        AnalysisPlot.objects.filter(analysis=analysis).delete()
        AnalysisPlot.objects.bulk_create(
            AnalysisPlot(analysis=analysis, name=plot.name, title=plot.title, svg=plot.svg, png=plot.png, order=i)
            for i, plot in enumerate(computed.plots))
    logger.info("analysis of study %s computed from %s reads", analysis.study_id, len(data.reads))


class AnalysisFailed(Exception):
    pass


def current_analysis(study):
    """The analysis of the study's data as it is now (computed here unless the cached one is of this data)."""
    analysis, _ = StudyAnalysis.objects.select_related("study").get_or_create(study=study)
    refresh(analysis)
    analysis.refresh_from_db()
    if analysis.error:
        raise AnalysisFailed(f"The analysis failed: {analysis.error}")
    return analysis