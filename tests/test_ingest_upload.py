"""The admins' upload page runs the same ingest on a ZIP archive."""

import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from readerstudy.models import Case

pytestmark = pytest.mark.django_db


def zipped(folder, prefix=""):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                archive.write(path, prefix + str(path.relative_to(folder)))
    return buffer.getvalue()


def upload(client, data, labels=None, **fields):
    payload = {"archive": SimpleUploadedFile("cases.zip", data), "case_set": "uploaded", **fields}
    if labels is not None:
        payload["labels"] = SimpleUploadedFile("labels.csv", labels)
    return client.post(reverse("import-cases"), payload)


def test_admin_uploads_a_zipped_folder_and_sees_the_report(client, admin_user, synthetic_dir, dicom_store):
    client.force_login(admin_user)
    response = upload(
        client, zipped(synthetic_dir, prefix="my-cases/"), labels=(synthetic_dir / "labels.csv").read_bytes()
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "6 case(s) imported, 0 already present, 0 not imported, 0 file(s) rejected" in page
    assert Case.objects.count() == 6
    assert Case.objects.first().import_batch.created_by == admin_user


def test_rejected_files_are_listed_on_the_page(client, admin_user, synthetic_dir, tmp_path, dicom_store):
    (tmp_path / "README.txt").write_text("not an image")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(tmp_path / "README.txt", "README.txt")
    client.force_login(admin_user)
    page = upload(client, buffer.getvalue()).content.decode()
    assert "README.txt" in page and "not a DICOM file" in page
    assert Case.objects.count() == 0


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"../escape.dcm": b"x"}, "path leaves the archive"),
        ({}, "the archive is empty"),
    ],
)
def test_unsafe_or_empty_archives_are_refused(client, admin_user, dicom_store, entries, message):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    client.force_login(admin_user)
    response = upload(client, buffer.getvalue())
    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_file_that_is_not_a_zip_is_refused_with_a_message(client, admin_user, dicom_store):
    client.force_login(admin_user)
    response = upload(client, b"this is not a zip")
    assert response.status_code == 400
    assert "not a readable ZIP archive" in response.content.decode()
    assert Case.objects.count() == 0


def test_deidentify_and_allow_identified_are_exclusive(client, admin_user, synthetic_dir, dicom_store):
    client.force_login(admin_user)
    response = upload(client, zipped(synthetic_dir), deidentify="on", allow_identified="on")
    assert response.status_code == 400
    assert "not both" in response.content.decode()


def test_a_labels_file_inside_the_archive_is_used(client, admin_user, synthetic_dir, dicom_store):
    client.force_login(admin_user)
    response = upload(client, zipped(synthetic_dir))
    assert "6 case(s) imported, 0 already present, 0 not imported, 0 file(s) rejected" in response.content.decode()
    assert Case.objects.filter(ground_truth__isnull=False).distinct().count() == 6


def test_a_file_that_breaks_the_dicom_writer_is_one_rejection_not_a_500(
    client, admin_user, synthetic_dir, tmp_path, dicom_store
):
    """One bit flipped in the meta header's first tag: pydicom reads the file, then cannot write it."""
    original = sorted(synthetic_dir.rglob("*.dcm"))[0].read_bytes()
    damaged = bytearray(original)
    damaged[132] ^= 1
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("good/frontal.dcm", original)
        archive.writestr("damaged.dcm", bytes(damaged))
    client.force_login(admin_user)
    response = upload(client, buffer.getvalue())
    page = response.content.decode()
    assert response.status_code == 200
    assert "damaged.dcm" in page and "could not be read or normalised (ValueError)" in page
    assert list(Case.objects.values_list("source_id", flat=True)) == ["good"]
