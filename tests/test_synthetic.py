"""Synthetic chest radiographs: deterministic files, valid de-identified DX DICOM, labels.csv in CheXpert's
convention, and findings that can be seen where and on the side they are said to be."""

import csv
import io

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian

from readerstudy.core.labels import CHEXPERT_LABELS
from tooling.synthetic.cases import choose_truth, make_synthetic_cases
from tooling.synthetic.constants import DX_FOR_PRESENTATION, FINDINGS, LATERAL_FINDINGS, MAX_VALUE
from tooling.synthetic.dicom import write_dicom
from tooling.synthetic.picture import render_chest

W, H = 200, 250  # small: the whole file runs in seconds
SLUGS = [slug for slug, _ in CHEXPERT_LABELS]
NAMES = [name for _, name in CHEXPERT_LABELS]


def render(findings=(), sides=None, seed=5, size=(W, H)):
    return render_chest(np.random.default_rng(seed), *size, findings, sides).astype(float)


def files_under(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())


def box_mean(image, radius):
    """Mean over a (2r+1)^2 square round each pixel (edges repeated)."""
    padded = np.pad(image, radius + 1, mode="edge")
    total = padded.cumsum(0).cumsum(1)
    k = 2 * radius + 1
    sums = total[k:, k:] - total[:-k, k:] - total[k:, :-k] + total[:-k, :-k]
    return sums[: image.shape[0], : image.shape[1]] / k**2


def run_from(mask, start, step):
    """The last index of the run of True that `start` is in, walking by `step`."""
    index = start
    while 0 <= index + step < len(mask) and mask[index + step]:
        index += step
    return index


def heart_and_thorax_widths(image):
    """The widest heart shadow in the lower chest, and the inner thorax (lung edge to lung edge) there."""
    height, width = image.shape
    lung = np.percentile(image[int(0.3 * height) : int(0.6 * height)], 5)
    mediastinum = np.median(image[int(0.5 * height) : int(0.6 * height), width // 2 - 5 : width // 2 + 5])
    best = (0, 1)
    for row in range(int(0.45 * height), int(0.64 * height)):
        dense = image[row - 1 : row + 2].mean(axis=0) > (lung + mediastinum) / 2
        right, left = run_from(dense, width // 2, -1), run_from(dense, width // 2, 1)
        outer_right, outer_left = run_from(~dense, right - 1, -1), run_from(~dense, left + 1, 1)
        if left - right + 1 > best[0]:
            best = (left - right + 1, outer_left - outer_right + 1)
    return best


# --- files -------------------------------------------------------------------------------------------------


def test_the_same_seed_gives_byte_identical_files_and_another_seed_different_ones(tmp_path):
    make_synthetic_cases(tmp_path / "a", count=4, seed=3, size=(64, 80))
    make_synthetic_cases(tmp_path / "b", count=4, seed=3, size=(64, 80))
    make_synthetic_cases(tmp_path / "c", count=4, seed=4, size=(64, 80))
    files = files_under(tmp_path / "a")
    assert [str(f) for f in files] == [
        "case-0001/frontal.dcm",
        "case-0002/frontal.dcm",
        "case-0003/frontal.dcm",
        "case-0004/frontal.dcm",
        "labels.csv",
    ]
    assert files_under(tmp_path / "b") == files_under(tmp_path / "c") == files
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    for name in files[:-1]:
        first, other = pydicom.dcmread(tmp_path / "a" / name), pydicom.dcmread(tmp_path / "c" / name)
        assert first.SOPInstanceUID != other.SOPInstanceUID
        assert not np.array_equal(first.pixel_array, other.pixel_array)


def test_uids_are_derived_from_seed_and_index_and_are_distinct(tmp_path):
    make_synthetic_cases(tmp_path, count=5, seed=0, size=(32, 40))
    datasets = [pydicom.dcmread(path) for path in sorted(tmp_path.rglob("*.dcm"))]
    uids = [(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID) for ds in datasets]
    flat = [uid for triple in uids for uid in triple]
    assert len(set(flat)) == 15
    assert all(len(uid) <= 64 and uid.replace(".", "").isdigit() for uid in flat)
    assert all(ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID for ds in datasets)


def test_files_are_de_identified_12_bit_dx_radiographs_of_the_requested_size(tmp_path):
    make_synthetic_cases(tmp_path, count=12, seed=0, size=(W, H))
    photometric = set()
    for path in sorted(tmp_path.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.SOPClassUID == ds.file_meta.MediaStorageSOPClassUID == DX_FOR_PRESENTATION
        assert (ds.Modality, ds.BodyPartExamined, ds.PresentationIntentType) == ("DX", "CHEST", "FOR PRESENTATION")
        assert ds.ViewPosition in ("PA", "AP")
        assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation, ds.SamplesPerPixel) == (
            16,
            12,
            11,
            0,
            1,
        )
        assert (ds.RescaleSlope, ds.RescaleIntercept) == (1, 0)
        assert (ds.Rows, ds.Columns) == (H, W)
        assert ds.pixel_array.shape == (H, W) and ds.pixel_array.max() <= MAX_VALUE
        # No patient: the patient's name and id are there but empty, and nothing dates or places the study.
        assert "PatientName" in ds and str(ds.PatientName) == "" and ds.PatientID == ""
        assert (ds.PatientIdentityRemoved, ds.DeidentificationMethod) == ("YES", "synthetic image, no patient")
        for keyword in (
            "StudyDate",
            "StudyTime",
            "AccessionNumber",
            "InstitutionName",
            "PatientBirthDate",
            "ReferringPhysicianName",
            "ContentDate",
            "AcquisitionDate",
        ):
            assert not ds.get(keyword), keyword
        # A 35 x 43 cm detector read out at this size.
        assert len(ds.PixelSpacing) == 2 and ds.PixelSpacing == ds.ImagerPixelSpacing
        assert 278 / W <= float(ds.PixelSpacing[0]) == float(ds.PixelSpacing[1]) <= 350 / W
        assert len(ds.WindowCenter) == len(ds.WindowWidth) == len(ds.WindowCenterWidthExplanation) == 2
        assert (
            ds.PresentationLUTShape
            == {"MONOCHROME1": "INVERSE", "MONOCHROME2": "IDENTITY"}[ds.PhotometricInterpretation]
        )
        photometric.add(ds.PhotometricInterpretation)
    assert photometric == {"MONOCHROME1", "MONOCHROME2"}


def test_full_size_files_have_flat_panel_pixel_spacing(tmp_path):
    pixels = np.zeros((2500, 2000), np.uint16)
    spacings = set()
    for index in range(4):
        write_dicom(tmp_path / f"{index}.dcm", pixels, 0, index, False, np.random.default_rng(index))
        ds = pydicom.dcmread(tmp_path / f"{index}.dcm", stop_before_pixels=True)
        spacings.add(float(ds.PixelSpacing[0]))
    assert len(spacings) == 4 and all(0.139 <= s <= 0.175 for s in spacings)


def test_monochrome1_files_store_the_inverted_picture(tmp_path):
    pixels = render_chest(np.random.default_rng(1), 64, 80, ["cardiomegaly"])
    write_dicom(tmp_path / "m1.dcm", pixels, 0, 1, True, np.random.default_rng(0))
    write_dicom(tmp_path / "m2.dcm", pixels, 0, 2, False, np.random.default_rng(0))
    m1, m2 = pydicom.dcmread(tmp_path / "m1.dcm"), pydicom.dcmread(tmp_path / "m2.dcm")
    assert (m1.PhotometricInterpretation, m2.PhotometricInterpretation) == ("MONOCHROME1", "MONOCHROME2")
    assert np.array_equal(m1.pixel_array, MAX_VALUE - pixels)
    assert np.array_equal(m2.pixel_array, pixels)
    # The default window is the same one, in each file's stored values.
    assert float(m1.WindowCenter[0]) == MAX_VALUE - float(m2.WindowCenter[0])
    assert m1.WindowWidth == m2.WindowWidth


def test_every_generated_file_looks_right_once_its_photometric_interpretation_is_applied(tmp_path):
    make_synthetic_cases(tmp_path, count=12, seed=0, size=(64, 80))
    for path in sorted(tmp_path.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        shown = ds.pixel_array.astype(float)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            shown = MAX_VALUE - shown
        # Air above the shoulders is dark, the mediastinum bright, the lungs in between.
        corner, mediastinum = shown[:3, :3].mean(), shown[30:40, 30:34].mean()
        lungs = np.concatenate([shown[25:45, 10:20].ravel(), shown[25:45, 44:54].ravel()]).mean()
        assert corner < lungs < mediastinum, path


# --- labels ------------------------------------------------------------------------------------------------


def test_labels_csv_has_one_chexpert_column_per_label_and_the_returned_truth(tmp_path):
    cases = make_synthetic_cases(tmp_path, count=12, seed=0, size=(32, 40))
    with open(tmp_path / "labels.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["case_id", *NAMES]
    assert (
        [row[0] for row in rows[1:]]
        == [case_id for case_id, _ in cases]
        == sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    )
    for row, (_, truth) in zip(rows[1:], cases):
        assert row[1:] == ["" if truth[slug] is None else str(truth[slug]) for slug in SLUGS]
        assert set(row[1:]) <= {"", "1", "0", "-1"}


def test_ground_truth_is_a_realistic_mix():
    draws = [choose_truth(np.random.default_rng([7, index])) for index in range(600)]
    truths = [truth for truth, _ in draws]
    normal = [t for t in truths if t["no-finding"] == 1]
    devices_only = [t for t in normal if t["support-devices"] == 1]
    assert 0.25 < len(normal) / len(truths) < 0.55
    assert 0.05 < len(devices_only) / len(truths) < 0.2
    for truth, sides in draws:
        findings = [slug for slug in FINDINGS if truth[slug] in (1, -1)]
        if truth["no-finding"] == 1:
            assert findings == []
        else:
            assert 1 <= len(findings) <= 3 and any(truth[slug] == 1 for slug in findings)
        assert set(sides) == {slug for slug in findings if slug in LATERAL_FINDINGS}
        assert all(
            side in ("right", "left") or (slug, side) == ("pleural-effusion", "both") for slug, side in sides.items()
        )
        assert set(truth.values()) <= {1, 0, -1, None}
    values = [value for truth in truths for value in truth.values()]
    # Mostly positive or blank; now and then uncertain, or denied in so many words.
    assert values.count(1) > 5 * values.count(-1) > 0 and values.count(0) > 0
    assert values.count(None) > values.count(1)
    assert {slug for truth in truths for slug in FINDINGS if truth[slug] == 1} == set(FINDINGS)


# --- pictures ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(64, 80), (128, 160), (200, 250), (250, 200)])
def test_any_size_renders_twelve_bit_values_with_rows_as_height(size):
    pixels = render_chest(np.random.default_rng(0), *size, FINDINGS)
    assert pixels.shape == (size[1], size[0]) and pixels.dtype == np.uint16
    assert pixels.max() <= MAX_VALUE and pixels.min() < 1000 < pixels.max()


def test_the_same_generator_gives_the_same_picture():
    assert np.array_equal(render(["edema"]), render(["edema"]))
    assert not np.array_equal(render(["edema"], seed=1), render(["edema"], seed=2))


def test_unknown_findings_and_sides_are_refused():
    with pytest.raises(ValueError, match="unknown finding"):
        render(["broken-heart"])
    with pytest.raises(ValueError, match="sides must be 'right', 'left' or 'both'"):
        render(["pneumothorax"], {"pneumothorax": "middle"})


def test_the_chest_has_dark_lungs_either_side_of_a_bright_mediastinum_and_bony_ribs():
    image = render()
    rows = slice(int(0.35 * H), int(0.55 * H))
    right_lung, left_lung = image[rows, int(0.25 * W)].mean(), image[rows, int(0.75 * W)].mean()
    mediastinum, abdomen = image[rows, W // 2].mean(), image[int(0.9 * H), W // 2 - 20 : W // 2 + 20].mean()
    assert mediastinum > right_lung + 1000 and mediastinum > left_lung + 1000 and abdomen > left_lung + 1000
    # Ribs: down a column through a lung, brightness rises and falls again and again.
    rows, column = slice(int(0.2 * H), int(0.6 * H)), int(0.25 * W)
    detail = box_mean(image, 1)[rows, column] - box_mean(image, 6)[rows, column]
    assert np.count_nonzero(np.diff(np.sign(detail))) >= 8


def test_cardiomegaly_widens_the_heart_beyond_half_the_chest():
    heart, thorax = heart_and_thorax_widths(render())
    big_heart, same_thorax = heart_and_thorax_widths(render(["cardiomegaly"]))
    assert abs(thorax - same_thorax) <= 2
    assert 0.38 < heart / thorax < 0.5 < 0.54 < big_heart / same_thorax
    assert big_heart > heart * 1.15


def test_an_uncertain_cardiomegaly_is_drawn_smaller():
    certain = heart_and_thorax_widths(render({"cardiomegaly": 1.0}))[0]
    uncertain = heart_and_thorax_widths(render({"cardiomegaly": 0.55}))[0]
    assert heart_and_thorax_widths(render())[0] < uncertain < certain


@pytest.mark.parametrize("side", ["right", "left"])
def test_a_pneumothorax_is_a_dark_rim_without_markings_bounded_by_a_pleural_line(side):
    normal = render(size=(400, 500))
    pneumothorax = render(["pneumothorax"], {"pneumothorax": side}, size=(400, 500))
    difference = pneumothorax - normal
    # The patient's right is on the image's left.
    on_side = slice(0, 200) if side == "right" else slice(200, 400)
    other_side = slice(200, 400) if side == "right" else slice(0, 200)
    assert not difference[:, other_side].any()
    rim = box_mean((difference < -100).astype(float), 2) > 0.999
    assert rim[:, on_side].sum() > 1000 and not rim[:, other_side].any()
    # Darker than the lung was there, and than the other lung at the mirrored place.
    assert difference[rim].mean() < -200
    assert pneumothorax[rim].mean() < pneumothorax[rim[:, ::-1]].mean() - 150
    # What was taken away is not a uniform darkening: the vessels went with it (the noise is the same
    # in both pictures, so it cannot vary this much on its own).
    assert (-difference[rim]).std() > 20
    # The visceral pleura: a thin line, brighter than the lung was, along the rim's inner edge.
    line = difference > 400
    assert 100 < line.sum() < 0.02 * line.size
    near_rim = box_mean((difference < -100).astype(float), 3) > 0
    assert near_rim[line].mean() > 0.8


@pytest.mark.parametrize("side", ["right", "left"])
def test_an_effusion_whitens_its_base_and_not_the_other(side):
    normal, effusion = render(), render(["pleural-effusion"], {"pleural-effusion": side})
    # The lateral lung bases, away from the heart.
    rows = slice(int(0.6 * H), int(0.68 * H))
    bases = {"right": (rows, slice(int(0.14 * W), int(0.28 * W))), "left": (rows, slice(int(0.72 * W), int(0.86 * W)))}
    other = "left" if side == "right" else "right"
    assert effusion[bases[side]].mean() > normal[bases[side]].mean() + 400
    assert effusion[bases[side]].mean() > effusion[bases[other]].mean() + 400
    half = slice(0, W // 2) if other == "right" else slice(W // 2, W)
    assert np.array_equal(effusion[:, half], normal[:, half])


def test_effusions_on_both_sides_whiten_both_bases():
    normal, both = render(), render(["pleural-effusion"], {"pleural-effusion": "both"})
    rows = slice(int(0.6 * H), int(0.7 * H))
    for columns in (slice(int(0.15 * W), int(0.35 * W)), slice(int(0.65 * W), int(0.85 * W))):
        assert both[rows, columns].mean() > normal[rows, columns].mean() + 400


def test_a_nodule_is_a_small_round_local_density():
    difference = render(["lung-lesion"], {"lung-lesion": "left"}) - render()
    assert difference.max() > 300
    spot = difference > difference.max() / 2
    rows, columns = np.nonzero(spot)
    assert columns.min() > W // 2  # in the left lung, on the image's right
    assert rows.max() - rows.min() < 0.1 * H and columns.max() - columns.min() < 0.1 * W
    assert np.abs(difference[~(box_mean(spot.astype(float), 4) > 0)]).max() < 1


@pytest.mark.parametrize("slug", sorted(LATERAL_FINDINGS))
def test_lateral_findings_lie_on_the_side_they_are_given(slug):
    normal = render()
    for side, own, other in (
        ("right", slice(0, W // 2), slice(W // 2, W)),
        ("left", slice(W // 2, W), slice(0, W // 2)),
    ):
        difference = np.abs(render([slug], {slug: side}) - normal)
        assert difference[:, own].sum() > 20 * max(difference[:, other].sum(), 1) and difference.max() > 150, side


@pytest.mark.parametrize("slug", ["consolidation", "pneumonia", "lung-opacity", "atelectasis"])
def test_airspace_findings_add_density_inside_the_lung(slug):
    difference = render([slug], {slug: "right"}) - render()
    assert difference.max() > 300 and difference.min() > -100
    rows, columns = np.nonzero(difference > 100)
    assert 0.2 * H < rows.mean() < 0.75 * H and 0.1 * W < columns.mean() < 0.45 * W


def test_edema_is_a_bilateral_perihilar_haze():
    difference = render(["edema"]) - render()
    rows = slice(int(0.35 * H), int(0.5 * H))
    right, left = difference[rows, int(0.25 * W) : int(0.38 * W)], difference[rows, int(0.62 * W) : int(0.75 * W)]
    assert right.mean() > 150 and left.mean() > 150
    # Fainter out at the apices than round the hila.
    assert difference[int(0.15 * H) : int(0.2 * H), int(0.2 * W) : int(0.8 * W)].mean() < right.mean() / 2


def test_an_enlarged_cardiomediastinum_widens_the_upper_mediastinum():
    def upper_width(image):
        row = image[int(0.28 * H) : int(0.32 * H)].mean(axis=0)
        dense = row > (np.percentile(row, 10) + row[W // 2]) / 2
        return run_from(dense, W // 2, 1) - run_from(dense, W // 2, -1) + 1

    assert upper_width(render(["enlarged-cardiomediastinum"])) > upper_width(render()) * 1.25


def test_a_fracture_breaks_one_rib_and_leaves_the_rest():
    difference = np.abs(render(["fracture"], {"fracture": "right"}, size=(400, 500)) - render(size=(400, 500)))
    changed = difference > 50
    rows, columns = np.nonzero(changed)
    assert 20 < len(rows) < 0.01 * changed.size
    # One rib: in any column, what changed is less than a rib spacing tall.
    for column in set(columns.tolist()):
        in_column = rows[columns == column]
        assert in_column.max() - in_column.min() < 0.06 * 500
    # On the patient's right, lateral of the break: medially the rib is where it was.
    assert columns.max() < 0.28 * 400


def test_support_devices_are_thin_bright_lines():
    difference = render(["support-devices"], seed=2) - render(seed=2)
    assert difference.max() > 800
    assert 0.001 < (difference > 300).mean() < 0.08


def test_no_finding_draws_nothing():
    assert np.array_equal(render(["no-finding"]), render())


# --- the command -------------------------------------------------------------------------------------------


def test_command_writes_cases_and_prints_them(tmp_path):
    from django.core.management import call_command

    out = io.StringIO()
    call_command(
        "make_synthetic_cases", str(tmp_path / "out"), "--count", "3", "--seed", "2", "--size", "40x50", stdout=out
    )
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["case-0001", "case-0002", "case-0003"]
    assert lines[3].startswith("Wrote 3 case(s) of 40x50") and "labels.csv" in lines[3]
    assert pydicom.dcmread(tmp_path / "out" / "case-0002" / "frontal.dcm").pixel_array.shape == (50, 40)
    expected = tmp_path / "expected"
    make_synthetic_cases(expected, count=3, seed=2, size=(40, 50))
    assert (tmp_path / "out" / "labels.csv").read_bytes() == (expected / "labels.csv").read_bytes()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--size", "big"], "--size must look like 2000x2500"),
        (["--size", "100x"], "--size must look like 2000x2500"),
        (["--size=-5x10"], "--size must look like 2000x2500"),
        (["--size", "8x10"], "--size must be between 16 and 8192"),
        (["--size", "100000x100"], "--size must be between 16 and 8192"),
        (["--count", "0"], "--count must be at least 1"),
        (["--seed", "-1"], "--seed must be 0 or more"),
    ],
)
def test_command_refuses_bad_arguments_with_a_clear_message(tmp_path, arguments, message):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=message):
        call_command("make_synthetic_cases", str(tmp_path / "out"), *arguments)
    assert not (tmp_path / "out").exists()
