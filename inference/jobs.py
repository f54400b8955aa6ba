"""Creating, enqueueing, claiming and reconciling inference jobs. The job row is the truth; a Celery
message only says "look at job N", so a lost or doubled message never loses or doubles work."""

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from readerstudy.core import leases

from .models import FINAL_STATUSES, InferenceJob, InferenceRun, JobStatus

logger = logging.getLogger(__name__)


def create_run(case_set, configuration, user=None, send=True) -> InferenceRun:
    """One job per case of the set, enqueued once the transaction commits (unless the caller runs them)."""
    return create_run_for_cases(case_set, configuration, case_set.ordered_cases(), user, send)


def create_run_for_cases(case_set, configuration, cases, user=None, send=True) -> InferenceRun:
    with transaction.atomic():
        run = InferenceRun.objects.create(
            case_set=case_set, configuration=configuration, created_by=user if getattr(user, "pk", None) else None
        )
        jobs = InferenceJob.objects.bulk_create(
            InferenceJob(run=run, case=case, configuration=configuration) for case in cases
        )
        if send:
            enqueue([job.pk for job in jobs])
    return run


def enqueue(job_ids):
    """Send one message per job after commit, so a worker never looks for a row that is not there yet."""
    job_ids = list(job_ids)

    def send():
        # By name: the task module imports this one.
        for job_id in job_ids:
            current_app.send_task("inference.run_job", (job_id,))
        InferenceJob.objects.filter(pk__in=job_ids).update(enqueued_at=timezone.now())

    transaction.on_commit(send)


def retry_jobs(jobs):
    """Put failed, refused or truncated jobs back in the queue (a coordinator's retry)."""
    with transaction.atomic():
        ids = list(
            jobs.filter(
                status__in=[JobStatus.FAILED, JobStatus.REFUSED, JobStatus.TRUNCATED], output__isnull=True
            ).values_list("pk", flat=True)
        )
        InferenceJob.objects.filter(pk__in=ids).update(status=JobStatus.QUEUED, attempts=0, error="", finished_at=None)
        enqueue(ids)
    return len(ids)


@dataclass
class Claim:
    state: str  # "claimed" | "busy" | "final" | "missing"
    job: InferenceJob | None = None
    token: uuid.UUID | None = None
    retry_in: float | None = None


def _job(job):
    return InferenceJob.objects.filter(pk=job.pk if isinstance(job, InferenceJob) else job)


def claim(job_id) -> Claim:
    """Take the job's lease if it is queued, or running under a lease that ran out (its worker died)."""
    token = leases.claim(
        _job(job_id).filter(
            status__in=[JobStatus.QUEUED, JobStatus.RUNNING], attempts__lt=settings.INFERENCE_MAX_ATTEMPTS
        ),
        settings.INFERENCE_LEASE_S,
        status=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        worker_host=socket.gethostname(),
        worker_pid=os.getpid(),
        started_at=timezone.now(),
    )
    job = InferenceJob.objects.select_related("case", "configuration").filter(pk=job_id).first()
    if job is None:
        return Claim("missing")
    if token:
        return Claim("claimed", job=job, token=token)
    if job.status in FINAL_STATUSES:
        return Claim("final", job=job)
    if job.attempts >= settings.INFERENCE_MAX_ATTEMPTS:
        fail_exhausted(job)
        return Claim("final", job=job)
    # Another worker holds a live lease: look again when it would have run out.
    remaining = (job.lease_expires_at - timezone.now()).total_seconds() if job.lease_expires_at else 0
    return Claim("busy", job=job, retry_in=max(remaining, 0) + 1)


def claim_companions(job, limit) -> list[Claim]:
    """Up to `limit` more queued jobs of `job`'s configuration, claimed to be generated in one batch with it
    (oldest first). Their own messages, when they come, find them final or leased, and do nothing."""
    if limit <= 0:
        return []
    candidates = (
        InferenceJob.objects.filter(
            configuration_id=job.configuration_id,
            status=JobStatus.QUEUED,
            attempts__lt=settings.INFERENCE_MAX_ATTEMPTS,
        )
        .filter(leases.free())
        .exclude(pk=job.pk)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    # Another worker may claim a candidate first: the lease decides, and this batch is one job smaller.
    return [claimed for claimed in map(claim, list(candidates)) if claimed.state == "claimed"]


def resend(job, countdown):
    """One more message for `job`, delivered after `countdown` seconds (a batch companion's retry)."""
    current_app.send_task("inference.run_job", (job.pk,), countdown=countdown)
    _job(job).update(enqueued_at=timezone.now())


def renew(job, token):
    """Between the steps of a job (model load, each turn): keep the lease, or stop if it was taken over."""
    if not leases.renew(_job(job), token, settings.INFERENCE_LEASE_S):
        raise leases.LeaseLost(f"job {job.pk}: the lease ran out and the job may be another worker's now")


def fail_exhausted(job):
    _job(job).exclude(status__in=FINAL_STATUSES).update(
        status=JobStatus.FAILED,
        finished_at=timezone.now(),
        lease_token=None,
        lease_expires_at=None,
        error=f"gave up after {job.attempts} attempts; last error: {job.error or 'worker lost'}",
    )
    job.refresh_from_db()


def release_for_retry(job, token, reason) -> float | None:
    """After a transient error: back to queued with the reason; returns the back-off, or None if exhausted."""
    if job.attempts >= settings.INFERENCE_MAX_ATTEMPTS:
        fail(job, token, f"gave up after {job.attempts} attempts: {reason}")
        return None
    leases.release(_job(job), token, status=JobStatus.QUEUED, error=str(reason), enqueued_at=timezone.now())
    return settings.INFERENCE_RETRY_BACKOFF_S * 2 ** (job.attempts - 1)


def fail(job, token, reason):
    leases.release(_job(job), token, status=JobStatus.FAILED, finished_at=timezone.now(), error=str(reason))


def stranded_jobs(now=None):
    """Jobs no live message will reach: running under an expired lease, never sent, or sent long ago."""
    now = now or timezone.now()
    requeue_before = now - timedelta(seconds=settings.INFERENCE_REQUEUE_AFTER_S)
    return InferenceJob.objects.filter(
        Q(status=JobStatus.RUNNING) & leases.expired(now)
        | Q(status=JobStatus.QUEUED, enqueued_at__isnull=True, queued_at__lt=now - timedelta(minutes=1))
        | Q(status=JobStatus.QUEUED, enqueued_at__lt=requeue_before)
    )


def reconcile():
    """Re-enqueue stranded jobs; a message sent twice is harmless, since only a lease holder runs a job."""
    ids = list(stranded_jobs().values_list("pk", flat=True))
    with transaction.atomic():
        enqueue(ids)
    if ids:
        logger.info("reconcile: re-enqueued %d inference job(s)", len(ids))
    return ids
