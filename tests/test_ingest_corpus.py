"""Acceptance: a folder of real-world DICOM files of many kinds, imported with --deidentify."""

import pydicom
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from readerstudy.cases.dicom_files import inspect_file
from readerstudy.models import Case, CaseImage
from tests.dicom_corpus import PATIENT_NAME, build_corpus

pytestmark = pytest.mark.django_db


def test_every_valid_radiograph_is_imported_and_every_other_file_named_with_its_reason(tmp_path, dicom_store, capsys):
    folder = tmp_path / "real-world"
    expected = build_corpus(folder)
    with pytest.raises(CommandError) as failed:
        call_command("import_cases", str(folder), "--case-set", "corpus", "--deidentify")
    out, err = capsys.readouterr()
    assert failed.value.returncode == 1
    assert "Traceback" not in out + err

    accepted = sorted(name for name, outcome in expected.items() if outcome == "accept")
    assert sorted(Case.objects.values_list("source_id", flat=True)) == accepted
    rejected_lines = [line for line in err.splitlines() if line.startswith("rejected ")]
    assert len(rejected_lines) == len(expected) - len(accepted)
    for name, reason in expected.items():
        if reason != "accept":
            assert any(line.startswith(f"rejected {name}: ") and reason in line for line in rejected_lines), name

    # Nothing from the rejected files: one stored file per imported image, each a normalised copy.
    stored = sorted(p for p in dicom_store.rglob("*") if p.is_file())
    assert len(stored) == CaseImage.objects.count() == len(accepted)
    for image in CaseImage.objects.all():
        ds = pydicom.dcmread(dicom_store / image.stored_path)
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert ds.PatientIdentityRemoved == "YES" and PATIENT_NAME not in str(ds.get("PatientName", ""))
    identified = CaseImage.objects.get(case__source_id="identified.dcm")
    stored = (dicom_store / identified.stored_path).read_bytes()
    for value in (PATIENT_NAME, "MRN-0042", "19700101", "ACC-77", "General Hospital"):
        assert value.encode() not in stored


def test_normalised_copies_keep_the_decoded_pixels_exactly(tmp_path, dicom_store):
    folder = tmp_path / "real-world"
    expected = build_corpus(folder)
    with pytest.raises(CommandError):
        call_command("import_cases", str(folder), "--case-set", "corpus", "--deidentify")
    for image in CaseImage.objects.select_related("case"):
        # inspect_file decodes files without a meta header too, which plain pydicom cannot.
        original = inspect_file(folder / image.case.source_id).pixels
        stored = pydicom.dcmread(dicom_store / image.stored_path).pixel_array
        assert (original == stored).all() and original.dtype.kind == stored.dtype.kind, image.case.source_id
    assert expected


def test_importing_the_corpus_again_adds_nothing(tmp_path, dicom_store):
    folder = tmp_path / "real-world"
    build_corpus(folder)
    for _ in range(2):
        with pytest.raises(CommandError):
            call_command("import_cases", str(folder), "--case-set", "corpus", "--deidentify")
    assert Case.objects.count() == CaseImage.objects.count() == len(list(dicom_store.rglob("*.dcm")))
