"""Running one inference job: claim → DICOM → image → generate → parse → store, exactly once."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from readerstudy.core import dicom_store
from readerstudy.core.leases import LeaseLost

from . import engine_registry, heartbeat, jobs
from .engines.base import CaseContext, PermanentEngineError, TransientEngineError
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
    claim = jobs.claim(job_id)
    if claim.state != "claimed":
        return Outcome(claim.state, retry_in=claim.retry_in)
    job = claim.job

    def keep_alive():
        jobs.renew(job, claim.token)

    try:
        engine, load_s = engine_registry.get_engine(job.configuration)
        image_row, image = model_image(job.case)
        keep_alive()  # loading a model can take a while: the turns start with a full lease
        result = engine.converse(
            image,
            job.configuration.conversation(),
            engine_registry.generation_params(job.configuration),
            case=case_context(job.case),
            keep_alive=keep_alive,
        )
    except LeaseLost as lost:
        # Another worker may be running the job now: leave it alone, whatever this one has generated.
        logger.warning("%s; stopped", lost)
        return Outcome("lost")
    except TransientEngineError as error:
        retry_in = jobs.release_for_retry(job, claim.token, _reason(error))
        logger.warning("job %s: transient error, %s", job.pk, "retrying" if retry_in else "giving up")
        return Outcome("retry" if retry_in else JobStatus.FAILED, retry_in=retry_in)
    except (PermanentEngineError, ImageUnusable) as error:
        jobs.fail(job, claim.token, _reason(error))
        logger.warning("job %s failed: %s", job.pk, type(error).__name__)
        return Outcome(JobStatus.FAILED)
    status = store_output(job, claim.token, engine, load_s, image_row, result)
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
    }
