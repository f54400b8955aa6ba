"""Celery tasks. `inference.run_job` runs on the `gpu` queue (one process per GPU); `inference.reconcile`
on the `default` queue, also every few minutes from beat."""

import logging

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings

from . import engine_registry, heartbeat, jobs
from .models import ModelConfiguration
from .runner import execute_job

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="inference.run_job", max_retries=None)
def run_job(self, job_id):
    outcome = execute_job(job_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="inference.reconcile")
def reconcile():
    return len(jobs.reconcile())


@worker_process_init.connect
def load_model_in_worker_process(**kwargs):
    """Runs in each pool process after the fork: CUDA is first touched here, never in the parent."""
    heartbeat.process_started()
    name = settings.INFERENCE_PRELOAD_CONFIGURATION
    if not name:
        return
    configuration = ModelConfiguration.objects.filter(name=name).first()
    if configuration is None:
        logger.error("INFERENCE_PRELOAD_CONFIGURATION %r is not a model configuration", name)
        return
    engine_registry.get_engine(configuration)
    heartbeat.model_loaded()
