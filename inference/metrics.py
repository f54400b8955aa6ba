"""The model's accuracy on a run's cases, with the shared scoring module (readers are scored the same way)."""

from .models import JobStatus, ModelOutput
from .scoring import score_set


def run_metrics(run):
    outputs = ModelOutput.objects.filter(job__run=run).select_related("job", "case")
    items = [(set(o.labels), o.case.truth_by_slug(), scoring_status(o.job.status)) for o in outputs]
    return score_set(items)


def scoring_status(status):
    return {JobStatus.SUCCEEDED: "ok"}.get(status, str(status))
