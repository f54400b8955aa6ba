"""What the coordinator's progress page shows for a run: counts, throughput, time left, workers, failures."""

from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from .models import FINAL_STATUSES, InferenceJob, JobStatus, WorkerHeartbeat

THROUGHPUT_WINDOW = timedelta(minutes=10)
WORKER_SILENT_AFTER = timedelta(minutes=5)


def run_progress(run, now=None):
    now = now or timezone.now()
    jobs = InferenceJob.objects.filter(run=run)
    counts = {status: 0 for status in JobStatus.values}
    counts.update(dict(jobs.values_list("status").annotate(n=Count("id")).values_list("status", "n")))
    total = sum(counts.values())
    finished = sum(counts[s] for s in FINAL_STATUSES)
    per_minute = _throughput(jobs, now)
    remaining = total - finished
    return {
        "total": total,
        "finished": finished,
        "counts": counts,
        "per_minute": per_minute,
        "eta_seconds": round(remaining / per_minute * 60)
        if per_minute and remaining
        else (0 if not remaining else None),
        "failures": list(
            jobs.filter(status__in=[JobStatus.FAILED, JobStatus.REFUSED, JobStatus.TRUNCATED])
            .select_related("case")
            .values_list("pk", "case__public_id", "status", "error")
        ),
        "retrying": list(
            jobs.filter(status=JobStatus.QUEUED)
            .exclude(error="")
            .select_related("case")
            .values_list("pk", "case__public_id", "attempts", "error")
        ),
        "is_complete": total > 0 and finished == total,
    }


def _throughput(jobs, now):
    """Jobs finished per minute over the last ten minutes (or since the first finish, if sooner)."""
    recent = jobs.filter(finished_at__gte=now - THROUGHPUT_WINDOW).order_by("finished_at")
    finished = list(recent.values_list("finished_at", flat=True))
    if not finished:
        return None
    first_start = jobs.filter(started_at__isnull=False).order_by("started_at").values_list("started_at", flat=True)
    since = max(now - THROUGHPUT_WINDOW, first_start[0]) if first_start else now - THROUGHPUT_WINDOW
    minutes = max((now - since).total_seconds() / 60, 1 / 60)
    return round(len(finished) / minutes, 2)


def workers(now=None):
    now = now or timezone.now()
    return [
        {
            "name": f"{beat.hostname}:{beat.pid}",
            "last_seen": beat.last_seen,
            "jobs_done": beat.jobs_done,
            "model_loads": beat.model_loads,
            "model": beat.engine_key,
            "alive": now - beat.last_seen < WORKER_SILENT_AFTER,
        }
        for beat in WorkerHeartbeat.objects.filter(last_seen__gte=now - timedelta(days=1))[:50]
    ]
