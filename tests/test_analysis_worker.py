"""A real Celery worker on the `default` queue computes a study's analysis after its reads are submitted."""

import pytest

from readerstudy.models import StudyAnalysis
from readerstudy.reading.simulation import SimulationSettings, simulate_reads
from tests.celery_worker import celery_worker
from tests.conftest import import_as_demo
from tests.factories import UserFactory
from tests.reading_setup import plant_deliberate_errors
from tests.test_simulation import dry_run
from tests.test_worker_integration import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_submitted_reads_are_analysed_in_the_background(
    worker_data_dir, synthetic_dir, tmp_path, settings, coordinator
):  # noqa: F811 - the fixture
    settings.ANALYSIS_DELAY_S = 0
    study = dry_run(import_as_demo(synthetic_dir), [UserFactory(roles=["reader"]) for _ in range(2)], coordinator)
    plant_deliberate_errors(study)
    with celery_worker(worker_data_dir, tmp_path / "worker.log", queues="default") as worker:
        simulate_reads(study, SimulationSettings(seed=4))
        assert wait_for(
            lambda: (
                StudyAnalysis.objects.filter(study=study, result__isnull=False).exists()
                and StudyAnalysis.objects.get(study=study).is_current
            ),
            timeout=120,
        ), worker.log()
        log = worker.log()
    analysis = StudyAnalysis.objects.get(study=study)
    assert analysis.result["reads"]["analysed"] == 36
    assert [row["n"] for row in analysis.result["time"]["per_arm"]] == [12, 12, 12]
    assert analysis.plots.count() == 5 and analysis.lease_token is None and analysis.queued_at is None
    assert "Task analysis.compute" in log and "analysis of study" in log
