import pytest

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


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory):
    """Six small synthetic cases with labels.csv, written once per test run."""
    from readerstudy.services.synthetic import make_synthetic_cases

    out = tmp_path_factory.mktemp("synthetic")
    make_synthetic_cases(out, count=6, seed=1, size=(96, 120))
    return out


@pytest.fixture
def demo_case_set(db, dicom_store, synthetic_dir):
    """The synthetic cases imported into case set `demo` (images in this test's DICOM store)."""
    from readerstudy.models import CaseSet
    from readerstudy.services.ingest import IngestOptions, import_cases

    report = import_cases(synthetic_dir, IngestOptions(case_set_name="demo", labels_path=synthetic_dir / "labels.csv"))
    assert report.ok, report.rejected
    return CaseSet.objects.get(name="demo")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """The tiny Qwen2.5-VL of `make_tiny_model`, built and trained once per test run."""
    from inference.tiny_model import make_tiny_model  # imports torch: only for the tests that ask

    out = tmp_path_factory.mktemp("tiny-model")
    make_tiny_model(out)
    return out
