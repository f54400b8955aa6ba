"""The model's accuracy on a run's cases, with the shared scoring module (readers are scored the same way)."""

from readerstudy.core.labels import CHEXPERT_LABELS
from readerstudy.core.scoring import NEGATIVE, score_set

from .models import JobStatus, ModelOutput

# A run belongs to no study: its blank labels score as a new study's do by default.
RUN_BLANK_RULE = NEGATIVE


def run_metrics(run):
    outputs = ModelOutput.objects.filter(job__run=run).select_related("job", "case")
    return score_outputs([(output, output.case.truth_by_slug()) for output in outputs], blank=RUN_BLANK_RULE)


def score_outputs(scored, vocabulary=CHEXPERT_LABELS, *, blank):
    """scored: (output, its case's truth by slug) pairs; failed, refused and truncated jobs count as such."""
    return score_set(
        [(set(output.labels), truth, _scoring_status(output.job.status)) for output, truth in scored],
        vocabulary,
        blank=blank,
    )


def _scoring_status(status):
    return {JobStatus.SUCCEEDED: "ok"}.get(status, str(status))
