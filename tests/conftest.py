import pytest

from tests.celery_worker import purge_queues
from tests.factories import UserFactory


@pytest.fixture
def dicom_store(settings, tmp_path):
    """An empty DICOM store per test, so 'nothing left behind' can be checked file by file."""
    settings.DICOM_STORE_DIR = tmp_path / "dicom-store"
    return settings.DICOM_STORE_DIR


@pytest.fixture
def reader(db):
    return UserFactory(roles=["reader"])


@pytest.fixture
def coordinator(db):
    return UserFactory(roles=["coordinator"])


@pytest.fixture
def admin_user(db):
    return UserFactory(roles=["admin"])


def write_synthetic_cases(tmp_path_factory, name, size, count=6):
    """`count` synthetic cases with labels.csv in a fresh folder."""
    from tooling.synthetic.cases import make_synthetic_cases

    out = tmp_path_factory.mktemp(name)
    make_synthetic_cases(out, count=count, seed=1, size=size)
    return out


def import_as_demo(folder):
    """Import a folder of synthetic cases into case set `demo`, as the demo does."""
    from readerstudy.cases.ingest import IngestOptions, import_cases
    from readerstudy.models import CaseSet

    report = import_cases(folder, IngestOptions(case_set_name="demo", labels_path=folder / "labels.csv"))
    assert report.ok, report.rejected
    return CaseSet.objects.get(name="demo")


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory):
    """Small cases (96×120), written once per test run."""
    return write_synthetic_cases(tmp_path_factory, "synthetic", (96, 120))


@pytest.fixture(scope="session")
def model_sized_dir(tmp_path_factory):
    """Cases at a size in the range the tiny model was trained on (the 96×120 ones are below it)."""
    return write_synthetic_cases(tmp_path_factory, "model-sized", (256, 320))


@pytest.fixture
def demo_case_set(db, dicom_store, synthetic_dir):
    """The synthetic cases imported into case set `demo` (images in this test's DICOM store)."""
    return import_as_demo(synthetic_dir)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """The tiny Qwen2.5-VL of `make_tiny_model`, built and trained once per test run."""
    from tooling.tiny_model import make_tiny_model  # imports torch: only for the tests that ask

    out = tmp_path_factory.mktemp("tiny-model")
    make_tiny_model(out)
    return out


@pytest.fixture
def worker_data_dir(tmp_path, settings):
    """The worker subprocess and this test share one DATA_DIR, so both see the same DICOM store."""
    data_dir = tmp_path / "data"
    settings.DICOM_STORE_DIR = data_dir / "dicom"
    purge_queues()
    return data_dir


@pytest.fixture
def served_run(demo_case_set, django_capture_on_commit_callbacks):
    """A run whose model is served by a local OpenAI-protocol server the test scripts."""
    from inference import jobs
    from inference.models import ModelConfiguration
    from tests.openai_server import fake_model_server

    with fake_model_server() as server:
        configuration = ModelConfiguration.objects.create(
            name="served",
            engine="openai",
            model_id=server.model,
            options={"base_url": server.base_url, "backoff_s": 0.01, "max_retries": 1},
        )
        with django_capture_on_commit_callbacks(execute=False):
            run = jobs.create_run(demo_case_set, configuration)
        yield run, server
