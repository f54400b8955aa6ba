"""Running inference jobs: claim → DICOM → image → generate → parse → store, each job exactly once, several
jobs of one model configuration generated together when INFERENCE_BATCH_SIZE allows."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from readerstudy.core import dicom_store
from readerstudy.core.leases import LeaseLost

from . import engine_registry, heartbeat, jobs
from .engines.base import BatchItem, CaseContext, EngineError, PermanentEngineError, TransientEngineError
from .models import InferenceJob, JobStatus, ModelOutput, ParseStatus
from .parsing import parse_output
from .preprocess import dicom_to_model_image, frontal_image

logger = logging.getLogger(__name__)

JOB_STATUS_FOR_PARSE = {
    "ok": JobStatus.SUCCEEDED,
    "truncated": JobStatus.TRUNCATED,
    "refused": JobStatus.REFUSED,
    "malformed": JobStatus.FAILED,
}


@dataclass
class Outcome:
    status: str
    retry_in: float | None = None


def execute_job(job_id) -> Outcome:
    """Run job `job_id` with up to INFERENCE_BATCH_SIZE - 1 queued jobs of its configuration generated beside
    it, each under its own lease; returns `job_id`'s outcome (the others are settled here)."""
    claim = jobs.claim(job_id)
    if claim.state != "claimed":
        return Outcome(claim.state, retry_in=claim.retry_in)
    companions = jobs.claim_companions(claim.job, settings.INFERENCE_BATCH_SIZE - 1)
    outcome, *others = run_batch([claim, *companions])
    for companion, other in zip(companions, others):
        if other.retry_in is not None:  # the lead's retry is its task's; a companion's needs a message of its own
            jobs.resend(companion.job, countdown=other.retry_in)
    return outcome


def run_batch(claims) -> list[Outcome]:
    """The claimed jobs (one configuration) generated together; one Outcome per claim, in order."""
    configuration = claims[0].job.configuration
    held = list(claims)

    def keep_alive():
        """Renew every lease; a job taken over meanwhile is dropped (its output is discarded when stored)."""
        for claim in list(held):
            try:
                jobs.renew(claim.job, claim.token)
            except LeaseLost as lost:
                logger.warning("%s; its output will be discarded", lost)
                held.remove(claim)
        if not held:
            raise LeaseLost("every job of the batch was taken over")

    try:
        engine, load_s = engine_registry.get_engine(configuration)
    except EngineError as error:  # the model did not load: every job of the batch meets the same error
        return [settle(claim, error) for claim in claims]
    outcomes, prepared = {}, []
    for claim in claims:
        try:
            prepared.append((claim, *model_image(claim.job.case)))
        except ImageUnusable as error:
            outcomes[claim.job.pk] = settle(claim, error)
    try:
        keep_alive()  # loading a model can take a while: the turns start with full leases
        results = engine.converse_batch(
            [BatchItem(image, case_context(claim.job.case)) for claim, _, image in prepared],
            configuration.conversation(),
            engine_registry.generation_params(configuration),
            keep_alive=keep_alive,
        )
    except LeaseLost as lost:
        # Other workers may be running the jobs now: leave them alone, whatever this one has generated.
        logger.warning("%s; stopped", lost)
        return [outcomes.get(claim.job.pk, Outcome("lost")) for claim in claims]
    for (claim, image_row, _), result in zip(prepared, results):
        # The model's load time goes on the job that waited for it.
        loaded_s = load_s if claim is claims[0] else 0.0
        outcomes[claim.job.pk] = settle(claim, result, engine=engine, load_s=loaded_s, image_row=image_row)
    return [outcomes[claim.job.pk] for claim in claims]


def settle(claim, result, engine=None, load_s=0.0, image_row=None) -> Outcome:
    """Store a job's conversation, or record its error: a transient one puts it back in the queue."""
    job, token = claim.job, claim.token
    if isinstance(result, TransientEngineError):
        retry_in = jobs.release_for_retry(job, token, _reason(result))
        logger.warning("job %s: transient error, %s", job.pk, "retrying" if retry_in else "giving up")
        return Outcome("retry" if retry_in else JobStatus.FAILED, retry_in=retry_in)
    if isinstance(result, (PermanentEngineError, ImageUnusable)):
        jobs.fail(job, token, _reason(result))
        logger.warning("job %s failed: %s", job.pk, type(result).__name__)
        return Outcome(JobStatus.FAILED)
    status = store_output(job, token, engine, load_s, image_row, result)
    heartbeat.job_done()
    return Outcome(status)


class ImageUnusable(Exception):
    """The stored image cannot be turned into a model input: retrying will not help."""


def model_image(case):
    """The case's frontal image as the model takes it, and the stored image it came from."""
    image_row = frontal_image(list(case.images.all()))
    if image_row is None:
        raise ImageUnusable("the case has no image")
    try:
        image = dicom_to_model_image(
            dicom_store.absolute_path(image_row.stored_path),
            settings.INFERENCE_MIN_PIXELS,
            settings.INFERENCE_MAX_PIXELS,
        )
    except Exception as error:  # any decoder or file error: the same file will fail the same way again
        raise ImageUnusable(f"cannot prepare the image: {type(error).__name__}: {error}") from error
    return image_row, image


def case_context(case):
    return CaseContext(public_id=case.public_id, truth=case.truth_by_slug())


def _reason(error):
    return f"{type(error).__name__}: {error}"[:2000]


def store_output(job, token, engine, load_s, image_row, result):
    """Write the output and final status only if this worker still holds the lease (one output per job)."""
    first = result.turns[0]
    parsed = parse_output(first.text)
    status = JOB_STATUS_FOR_PARSE[parsed.status]
    with transaction.atomic():
        current = InferenceJob.objects.select_for_update().get(pk=job.pk)
        if current.lease_token != token or current.status != JobStatus.RUNNING:
            logger.warning("job %s: lease lost before storing; result discarded", job.pk)
            return current.status
        ModelOutput.objects.create(
            job=current,
            case=job.case,
            image=image_row,
            parse_status=parsed.status,
            turns=[_turn_record(turn) for turn in result.turns],
            steps=[
                {"index": s.index, "turn": 0, "start": s.start, "end": s.end, "region": s.region} for s in parsed.steps
            ],
            labels=list(parsed.labels),
            unknown_labels=list(parsed.unknown_labels),
            deliberate_errors=result.deliberate_errors,
            engine=job.configuration.engine,
            model_id=job.configuration.model_id,
            revision=job.configuration.revision,
            generation=engine_registry.generation_params(job.configuration).as_dict(),
            software=engine.software_versions(),
        )
        current.status = status
        current.error = (
            "" if parsed.status != ParseStatus.MALFORMED else "the output is not in the model's <think>/<answer> format"
        )
        current.finished_at = timezone.now()
        current.lease_token = current.lease_expires_at = None
        current.model_load_s = load_s if load_s else None
        current.generation_s = sum(turn.seconds for turn in result.turns)
        current.tokens_in = sum(turn.tokens_in for turn in result.turns)
        current.tokens_out = sum(turn.tokens_out for turn in result.turns)
        current.save()
    return status


def _turn_record(turn):
    return {
        "prompt": turn.prompt.text,
        "kind": turn.prompt.kind,
        "text": turn.text,
        "seconds": turn.seconds,
        "tokens_in": turn.tokens_in,
        "tokens_out": turn.tokens_out,
        "hit_token_limit": turn.hit_token_limit,
        "batch_size": turn.batch_size,
    }
