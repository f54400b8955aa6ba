"""Celery tasks. `inference.run_job` runs on the `gpu` queue (one process per GPU); `inference.reconcile`
on the `default` queue, also every few minutes from beat."""

import logging

from celery import current_app, shared_task
from celery.signals import task_postrun, worker_process_init
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
    # The queues this worker was started with (-Q), selected in the parent before the fork.
    heartbeat.process_started(current_app.amqp.queues.consume_from)
    name = settings.INFERENCE_PRELOAD_CONFIGURATION
    if not name:
        return
    configuration = ModelConfiguration.objects.filter(name=name).first()
    if configuration is None:
        logger.error("INFERENCE_PRELOAD_CONFIGURATION %r is not a model configuration", name)
        return
    engine_registry.get_engine(configuration)
    heartbeat.model_loaded()


@task_postrun.connect
def report_alive(**kwargs):
    """Every task a worker finishes (any queue) refreshes its heartbeat, so /readyz can tell each queue's age."""
    heartbeat.task_finished()
