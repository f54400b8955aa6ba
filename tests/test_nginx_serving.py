"""A reader's image through a real nginx in front of gunicorn, as in production (deploy/nginx.conf): Django
checks access and answers X-Accel-Redirect, nginx sends the file from its internal /protected-dicom/ location.

Run as root, nginx's workers run as www-data with the writer's group, so the test proves the store's files are
readable through the group by a user other than the one that wrote them (README: Production).
"""

import io
import os
import re
import shutil
import tempfile
from pathlib import Path

import pydicom
import pytest
import requests

from readerstudy.core import dicom_store as store
from readerstudy.models import Arm
from readerstudy.studies import served_images
from tests.reading_setup import open_study_with_assignments
from tooling.servers import gunicorn, nginx

# gunicorn reads what the test wrote: committed data. Serialized rollback, as every transactional test here:
# otherwise the next one's restore clashes with the content types its flush re-created.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PASSWORD = "correct horse battery"


@pytest.fixture
def shared_root():
    """The DATA_DIR of gunicorn and nginx's prefix, in /tmp: pytest's tmp_path is 0700, which nginx's workers
    could not pass through as another user."""
    root = Path(tempfile.mkdtemp(prefix="readerstudy-nginx-"))
    root.chmod(0o750)
    yield root
    shutil.rmtree(root)


@pytest.fixture
def dicom_store(settings, shared_root):
    """Overrides conftest's: the test's store is gunicorn's, DATA_DIR/dicom."""
    settings.DICOM_STORE_DIR = shared_root / "data" / "dicom"
    return settings.DICOM_STORE_DIR


@pytest.fixture
def site(settings, shared_root, dicom_store):
    """gunicorn (X-Accel-Redirect on, the test database) behind nginx; yields nginx's URL and its process."""
    db = settings.DATABASES["default"]
    env = {
        "PATH": os.environ["PATH"],
        "DATA_DIR": str(shared_root / "data"),
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "USE_X_ACCEL_REDIRECT": "true",
        "TRUSTED_PROXY_COUNT": "1",
    }
    with gunicorn(env, workers=2) as upstream, nginx(shared_root / "nginx", upstream, dicom_store) as server:
        try:
            yield server.url, server.process
        finally:
            print(server.error_log.read_text())  # shown when the test fails


def worker_uids(master_pid):
    """The real uids of the nginx master's worker processes (from /proc)."""
    uids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:  # a process that ended meanwhile
            continue
        if int(fields["PPid"]) == master_pid:
            uids.append(int(fields["Uid"].split()[0]))
    return uids


def test_nginx_sends_the_readers_image_after_django_checked_access(site, demo_case_set, reader, settings):
    url, nginx = site
    # The test settings' cheap hasher is unknown to gunicorn, which runs on the production settings.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    reader.set_password(PASSWORD)
    reader.save()
    _, assignments = open_study_with_assignments(demo_case_set, reader, arms=[Arm.UNAIDED])
    assignment = assignments[Arm.UNAIDED]
    browser = requests.Session()
    login_page = browser.get(f"{url}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
    logged_in = browser.post(
        f"{url}/login/",
        {"username": reader.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=30,
    )
    assert logged_in.status_code == 302, logged_in.text

    image = browser.get(f"{url}/api/assignments/{assignment.public_id}/images/1/", timeout=30)
    assert image.status_code == 200, image.text
    assert image.headers["Content-Type"] == "application/dicom"
    assert "X-Accel-Redirect" not in image.headers
    served = store.absolute_path(served_images.relative_path(assignment, 1))
    assert image.content == served.read_bytes()
    assert pydicom.dcmread(io.BytesIO(image.content)).SOPInstanceUID
    assert (served.stat().st_mode & 0o777, served.parent.stat().st_mode & 0o777) == (0o640, 0o750)
    if os.geteuid() == 0:
        # nginx read the file as a user other than its writer, through the group alone.
        uids = worker_uids(nginx.pid)
        assert uids and served.stat().st_uid not in uids

    # The internal location is not reachable from outside, signed in or not.
    relative = served_images.relative_path(assignment, 1)
    assert browser.get(f"{url}/protected-dicom/{relative}", timeout=30).status_code == 404
    assert requests.get(f"{url}/protected-dicom/{relative}", timeout=30).status_code == 404
