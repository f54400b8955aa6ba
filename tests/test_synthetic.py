"""Synthetic chest radiographs: deterministic, valid DX DICOM, labels.csv, and visible findings."""

import filecmp

import numpy as np
import pydicom
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from readerstudy.services.synthetic import make_synthetic_cases, render_chest


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path):
    make_synthetic_cases(tmp_path / "a", count=4, seed=1, size=(64, 80))
    make_synthetic_cases(tmp_path / "b", count=4, seed=1, size=(64, 80))
    make_synthetic_cases(tmp_path / "c", count=4, seed=2, size=(64, 80))
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 5
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", files, shallow=False)
    assert (mismatch, errors) == ([], [])
    assert (tmp_path / "a" / "case-0001" / "frontal.dcm").read_bytes() != (
        tmp_path / "c" / "case-0001" / "frontal.dcm").read_bytes()


def test_files_are_de_identified_12_bit_dx_radiographs_of_the_requested_size(tmp_path):
    make_synthetic_cases(tmp_path, count=6, seed=4, size=(64, 80))
    photometrics = set()
    for path in sorted(tmp_path.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        assert (ds.Modality, ds.BitsStored, ds.BitsAllocated, ds.Rows, ds.Columns) == ("DX", 12, 16, 80, 64)
        assert str(ds.PatientName) == "" and ds.PatientIdentityRemoved == "YES"
        assert ds.pixel_array.max() <= 4095 and len(ds.PixelSpacing) == 2
        photometrics.add(ds.PhotometricInterpretation)
    assert photometrics <= {"MONOCHROME1", "MONOCHROME2"}


def test_labels_csv_has_chexpert_columns_and_values(tmp_path):
    cases = make_synthetic_cases(tmp_path, count=8, seed=0, size=(32, 40))
    lines = (tmp_path / "labels.csv").read_text().splitlines()
    assert lines[0].startswith("case_id,Atelectasis,Cardiomegaly,") and lines[0].endswith(",Support Devices")
    assert [line.split(",")[0] for line in lines[1:]] == [case_id for case_id, _ in cases]
    assert {cell for line in lines[1:] for cell in line.split(",")[1:]} <= {"", "1", "0", "-1"}


def test_findings_change_the_pixels_where_they_lie():
    def render(findings):
        return render_chest(np.random.default_rng(9), 200, 250, findings).astype(float)

    normal = render(set())
    heart = render({"cardiomegaly"})
    # The wider heart shadow brightens the lower lung fields beside the mediastinum.
    assert heart[150:175, 60:90].mean() > normal[150:175, 60:90].mean() + 100
    # The tube shows as a bright line in the neck, above the mediastinum.
    assert render({"support-devices"})[2:25, 90:110].max() > normal[2:25, 90:110].max() + 1000


@pytest.mark.parametrize(
    ("finding", "rows", "direction"),
    [("pneumothorax", slice(50, 90), -1), ("pleural-effusion", slice(160, 190), 1), ("consolidation", slice(115, 160), 1)],
)
def test_lateralised_findings_change_one_lung(finding, rows, direction):
    normal = render_chest(np.random.default_rng(3), 200, 250, set()).astype(float)
    abnormal = render_chest(np.random.default_rng(3), 200, 250, {finding}).astype(float)
    # Whichever side the finding is on, that lung's region moves by far more than the noise.
    changes = [direction * (abnormal[rows, cols] - normal[rows, cols]).mean() for cols in (slice(40, 85), slice(115, 160))]
    assert max(changes) > 80 and min(changes) < 10


def test_command_writes_cases_and_refuses_a_bad_size(tmp_path, capsys):
    call_command("make_synthetic_cases", str(tmp_path / "out"), "--count", "2", "--seed", "1", "--size", "40x50")
    assert "wrote 2 case(s)" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--size must look like 2000x2500"):
        call_command("make_synthetic_cases", str(tmp_path / "bad"), "--size", "big")
