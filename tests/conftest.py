import pytest

from tests.factories import UserFactory


@pytest.fixture
def dicom_store(settings, tmp_path):
    """Each test gets an empty DICOM store, so 'nothing left behind' can be checked file by file."""
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
