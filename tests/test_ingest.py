"""Case ingest from a folder: what is imported, what is rejected and why, and that nothing is left behind."""

import shutil
from pathlib import Path

import pydicom
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from readerstudy.cases.ingest import IngestOptions, IngestRefused, import_cases
from readerstudy.models import Case, CaseImage, CaseSet, GroundTruth, ImportBatch, TruthValue

pytestmark = pytest.mark.django_db


def stored_files(store):
    return sorted(p for p in Path(store).rglob("*") if p.is_file()) if Path(store).exists() else []


def copy_cases(synthetic_dir, target, names=None):
    target.mkdir(parents=True, exist_ok=True)
    for case_dir in sorted(p for p in synthetic_dir.iterdir() if p.is_dir()):
        if names is None or case_dir.name in names:
            shutil.copytree(case_dir, target / case_dir.name)
    return target


def first_file(folder):
    return next(p for p in sorted(Path(folder).rglob("*.dcm")))


def test_synthetic_cases_import_with_ground_truth_and_normalised_stored_files(synthetic_dir, dicom_store):
    report = import_cases(synthetic_dir, IngestOptions("demo", labels_path=synthetic_dir / "labels.csv"))
    assert report.ok and len(report.created) == 6 and report.existing == []
    case_set = CaseSet.objects.get(name="demo")
    assert [c.source_id for c in case_set.ordered_cases()] == sorted(
        p.name for p in synthetic_dir.iterdir() if p.is_dir()
    )
    for image in CaseImage.objects.all():
        stored = pydicom.dcmread(dicom_store / image.stored_path)
        assert stored.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert (image.rows, image.columns, image.bits_stored, image.modality) == (120, 96, 12, "DX")
        assert stored.SOPInstanceUID == image.sop_instance_uid
    labels_rows = (synthetic_dir / "labels.csv").read_text().splitlines()
    assert GroundTruth.objects.count() == 6 * (len(labels_rows[0].split(",")) - 1)
    assert Case.objects.filter(is_abnormal__isnull=True).count() == 0


def test_reimporting_the_same_files_changes_nothing(synthetic_dir, dicom_store):
    import_cases(synthetic_dir, IngestOptions("demo", labels_path=synthetic_dir / "labels.csv"))
    files_before = stored_files(dicom_store)
    counts = (Case.objects.count(), CaseImage.objects.count(), ImportBatch.objects.count(), GroundTruth.objects.count())
    report = import_cases(synthetic_dir, IngestOptions("demo", labels_path=synthetic_dir / "labels.csv"))
    assert report.ok and report.created == [] and len(report.existing) == 6
    assert (
        Case.objects.count(),
        CaseImage.objects.count(),
        ImportBatch.objects.count(),
        GroundTruth.objects.count(),
    ) == counts
    assert stored_files(dicom_store) == files_before


def test_a_second_case_set_reuses_the_cases_already_imported(synthetic_dir, dicom_store):
    import_cases(synthetic_dir, IngestOptions("first"))
    import_cases(synthetic_dir, IngestOptions("second"))
    assert Case.objects.count() == 6
    assert CaseSet.objects.get(name="second").memberships.count() == 6


def test_a_loose_file_is_a_case_of_its_own_and_the_labels_file_beside_it_is_not(synthetic_dir, tmp_path, dicom_store):
    folder = tmp_path / "loose"
    folder.mkdir()
    shutil.copy(first_file(synthetic_dir), folder / "single.dcm")
    (folder / "labels.csv").write_text("case_id,Cardiomegaly\nsingle.dcm,1\n")
    (folder / ".DS_Store").write_bytes(b"\x00\x01")
    report = import_cases(folder, IngestOptions("loose", labels_path=folder / "labels.csv"))
    assert report.ok and [source for source, _ in report.created] == ["single.dcm"]
    assert Case.objects.get().truth_by_slug()["cardiomegaly"] == TruthValue.POSITIVE


@pytest.mark.parametrize(
    ("make_bad_file", "reason"),
    [
        (lambda good, bad: bad.write_text("patient list, not an image\n"), "not a DICOM file"),
        (lambda good, bad: bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2]), "truncated"),
    ],
    ids=["text-file", "truncated"],
)
def test_a_case_with_a_rejected_file_is_not_imported_and_leaves_nothing(
    synthetic_dir, tmp_path, dicom_store, make_bad_file, reason
):
    folder = copy_cases(synthetic_dir, tmp_path / "in", names={"case-0001", "case-0002"})
    good = first_file(folder / "case-0001")
    make_bad_file(good, folder / "case-0001" / "extra.dcm")
    report = import_cases(folder, IngestOptions("demo"))
    assert [name for name, _ in report.rejected] == ["case-0001/extra.dcm"]
    assert reason in report.rejected[0][1]
    assert report.not_imported == ["case-0001"]
    assert [source for source, _ in report.created] == ["case-0002"]
    assert list(Case.objects.values_list("source_id", flat=True)) == ["case-0002"]
    assert len(stored_files(dicom_store)) == 1


def test_an_import_in_which_everything_is_rejected_leaves_no_rows_at_all(tmp_path, dicom_store):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    report = import_cases(tmp_path / "in", IngestOptions("demo"))
    assert report.rejected == [("notes.txt", "not a DICOM file")]
    assert (CaseSet.objects.count(), ImportBatch.objects.count(), Case.objects.count()) == (0, 0, 0)


def test_identifying_attributes_are_refused_unless_deidentified_or_allowed(synthetic_dir, tmp_path, dicom_store):
    folder = tmp_path / "identified"
    (folder / "case").mkdir(parents=True)
    ds = pydicom.dcmread(first_file(synthetic_dir))
    ds.PatientName = "Doe^Jane"
    ds.PatientBirthDate = "19700101"
    ds.save_as(folder / "case" / "image.dcm")

    refused = import_cases(folder, IngestOptions("demo"))
    assert refused.created == [] and len(refused.rejected) == 1
    message = refused.rejected[0][1]
    assert "PatientName" in message and "PatientBirthDate" in message
    assert "Doe" not in message and "1970" not in message
    assert stored_files(dicom_store) == []

    deidentified = import_cases(folder, IngestOptions("demo", deidentify=True))
    assert len(deidentified.created) == 1
    stored = pydicom.dcmread(dicom_store / CaseImage.objects.get().stored_path)
    # The profile's actions: the name emptied or replaced by a dummy, the birth date by a dummy date.
    assert "Doe" not in str(stored.get("PatientName", "")) and "1970" not in str(stored.get("PatientBirthDate", ""))
    assert stored.PatientIdentityRemoved == "YES"
    assert stored.DeidentificationMethod == "PS3.15 basic profile; patient characteristics kept; UIDs hashed"


def test_a_malformed_labels_file_imports_nothing(synthetic_dir, tmp_path, dicom_store):
    labels = tmp_path / "labels.csv"
    labels.write_text("case_id,Cardiomegaly\ncase-0001,2\n")
    with pytest.raises(IngestRefused) as refused:
        import_cases(synthetic_dir, IngestOptions("demo", labels_path=labels))
    assert refused.value.problems == ["labels.csv: line 2: cardiomegaly: value '2' is not 1, 0, -1 or blank"]
    assert Case.objects.count() == 0 and CaseSet.objects.count() == 0 and stored_files(dicom_store) == []


def test_the_case_set_of_an_open_study_is_frozen(synthetic_dir, dicom_store):
    from tests.factories import StudyFactory

    StudyFactory(case_set=CaseSet.objects.create(name="frozen"), status="open")
    with pytest.raises(IngestRefused, match="frozen"):
        import_cases(synthetic_dir, IngestOptions("frozen"))
    assert Case.objects.count() == 0


def test_command_prints_a_summary_and_exits_non_zero_on_rejections(synthetic_dir, tmp_path, dicom_store, capsys):
    folder = copy_cases(synthetic_dir, tmp_path / "in", names={"case-0001"})
    (folder / "notes.txt").write_text("hello")
    with pytest.raises(CommandError) as failed:
        call_command("import_cases", str(folder), "--case-set", "demo")
    assert failed.value.returncode == 1
    out, err = capsys.readouterr()
    assert "rejected notes.txt: not a DICOM file" in err
    assert "1 case(s) imported, 0 already present, 1 not imported, 1 file(s) rejected" in out
    assert "Traceback" not in out + err


def test_command_refuses_a_missing_folder_with_a_message(tmp_path):
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_cases", str(tmp_path / "absent"), "--case-set", "demo")


def test_a_changed_file_under_a_known_sop_instance_uid_is_rejected(synthetic_dir, tmp_path, dicom_store):
    import_cases(synthetic_dir, IngestOptions("demo"))
    folder = tmp_path / "changed"
    (folder / "case-0001").mkdir(parents=True)
    ds = pydicom.dcmread(first_file(synthetic_dir / "case-0001"))
    ds.SeriesDescription = "edited after import"
    ds.save_as(folder / "case-0001" / "frontal.dcm")
    report = import_cases(folder, IngestOptions("demo"))
    assert report.rejected == [("case-0001/frontal.dcm", "SOP Instance UID already imported with different content")]
    assert Case.objects.count() == 6 and len(stored_files(dicom_store)) == 6


def test_files_of_one_known_case_regrouped_with_a_new_file_are_rejected(synthetic_dir, tmp_path, dicom_store):
    import_cases(synthetic_dir, IngestOptions("demo"))
    folder = tmp_path / "regrouped"
    (folder / "mixed").mkdir(parents=True)
    shutil.copy(first_file(synthetic_dir / "case-0001"), folder / "mixed" / "a.dcm")
    ds = pydicom.dcmread(first_file(synthetic_dir / "case-0002"))
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(folder / "mixed" / "b.dcm")
    report = import_cases(folder, IngestOptions("demo"))
    assert report.rejected == [("mixed", "its files match only part of a case imported before")]
    assert Case.objects.count() == 6 and len(stored_files(dicom_store)) == 6


def test_a_value_longer_than_its_column_is_a_rejection_naming_the_attribute(synthetic_dir, tmp_path, dicom_store):
    ds = pydicom.dcmread(first_file(synthetic_dir))
    ds.ViewPosition = "POSTEROANTERIOR-ERECT"  # 21 characters; the catalogue keeps 16
    (tmp_path / "in").mkdir()
    ds.save_as(tmp_path / "in" / "long.dcm")
    report = import_cases(tmp_path / "in", IngestOptions("demo"))
    assert report.rejected == [("long.dcm", "ViewPosition is longer than 16 characters")]
    assert (Case.objects.count(), stored_files(dicom_store)) == (0, [])
