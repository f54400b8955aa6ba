"""Celery tasks of the study domain, on the `default` queue: the analysis is CPU work, never the GPU's."""

from celery import shared_task

from readerstudy.services.analysis import refresh, schedule


@shared_task(name="analysis.compute")
def compute_analysis(study_id):
    return refresh.compute_requested(study_id)


@shared_task(name="analysis.sweep")
def sweep_analyses():
    return schedule.sweep()
