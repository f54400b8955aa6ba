"""Celery tasks of the study domain, on the `default` queue: the analysis is CPU work, never the GPU's."""

from celery import shared_task

from readerstudy.analysis import schedule


@shared_task(name="analysis.compute")
def compute_analysis(study_id):
    # Imported when the task runs: loading this module (Celery's autodiscovery does, in any process that
    # loads the tasks) must not load pandas, statsmodels and matplotlib.
    from readerstudy.analysis import refresh

    return refresh.compute_requested(study_id)


@shared_task(name="analysis.sweep")
def sweep_analyses():
    return schedule.sweep()
