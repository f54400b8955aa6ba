"""Celery tasks of the study domain, on the `default` queue: the analysis is CPU work, never the GPU's."""

from celery import shared_task

from readerstudy.services.analysis import schedule


@shared_task(name="analysis.compute")
def compute_analysis(study_id):
    # Imported here: the web process imports this module (it sends the task), and must not load pandas,
    # statsmodels and matplotlib with it.
    from readerstudy.services.analysis import refresh

    return refresh.compute_requested(study_id)


@shared_task(name="analysis.sweep")
def sweep_analyses():
    return schedule.sweep()
