"""Synthetic chest radiographs as DX DICOM files, for the demo, tests and benchmarks (no patient images
can be had offline). Deterministic: the same seed gives the same bytes."""

import csv
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid

from readerstudy.labels import CHEXPERT_LABELS

DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
MAX_VALUE = 4095  # 12 bits stored
FINDING_WEIGHTS = {
    "cardiomegaly": 3, "pleural-effusion": 3, "lung-opacity": 3, "support-devices": 3, "pneumothorax": 2,
    "lung-lesion": 2, "consolidation": 2, "atelectasis": 2, "edema": 2, "pneumonia": 1,
    "enlarged-cardiomediastinum": 1, "fracture": 1, "pleural-other": 1,
}


def make_synthetic_cases(out_dir, count=12, seed=0, size=(2000, 2500)):
    """Write `count` cases (one sub-folder each) and labels.csv; returns [(case id, {slug: 1|0|-1|None})]."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cases = []
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        case_id = f"case-{index + 1:04d}"
        truth = choose_truth(rng)
        findings = {slug for slug, value in truth.items() if value in (1, -1) and slug != "no-finding"}
        pixels = render_chest(rng, size[0], size[1], findings)
        folder = out_dir / case_id
        folder.mkdir(exist_ok=True)
        monochrome1 = rng.random() < 0.2
        write_dicom(folder / "frontal.dcm", pixels, seed, index, monochrome1, rng)
        cases.append((case_id, truth))
    write_labels_csv(out_dir / "labels.csv", cases)
    return cases


def choose_truth(rng):
    """A realistic mix: about a third normal, some with only a device, the rest with one to three findings."""
    truth = {slug: None for slug, _ in CHEXPERT_LABELS}
    kind = rng.random()
    if kind < 0.33:
        truth["no-finding"] = 1
        return truth
    if kind < 0.45:
        truth["support-devices"] = 1
        truth["no-finding"] = 1
        return truth
    slugs = list(FINDING_WEIGHTS)
    weights = np.array(list(FINDING_WEIGHTS.values()), dtype=float)
    chosen = rng.choice(slugs, size=int(rng.integers(1, 4)), replace=False, p=weights / weights.sum())
    for slug in chosen:
        truth[str(slug)] = -1 if rng.random() < 0.1 else 1
    truth["no-finding"] = 0
    return truth


def write_labels_csv(path, cases):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["case_id", *(name for _, name in CHEXPERT_LABELS)])
        for case_id, truth in cases:
            writer.writerow([case_id, *("" if truth[slug] is None else truth[slug] for slug, _ in CHEXPERT_LABELS)])


# --- rendering: attenuation maps on a unit grid, then mapped to 12-bit values (bright = dense) ---

def _grid(width, height):
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return x / width, y / height


def _ellipse(x, y, cx, cy, rx, ry):
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2


def _soft(distance, edge=0.08):
    """1 inside (distance < 1), fading to 0 across a soft edge."""
    return np.clip((1 + edge - distance) / (2 * edge), 0, 1)


def render_chest(rng, width, height, findings=frozenset()):
    """A PA chest radiograph as 12-bit values (bright = dense), with `findings` drawn where they lie."""
    x, y = _grid(width, height)
    jitter = rng.normal(0, 0.008, 8)
    domes = _diaphragm_domes(x, y, jitter)
    right_lung = _lung(x, y, 0.31 + jitter[0], medial=0.45, domes=domes)
    left_lung = _lung(x, y, 0.69 + jitter[1], medial=0.56, domes=domes)
    lungs = np.maximum(right_lung, left_lung)
    density = 0.42 * _torso(x, y) + 0.12 * np.maximum(domes, 0) * _torso(x, y)
    density -= 0.3 * lungs
    density += 0.035 * lungs * _lung_markings(rng, x, y)
    density += _mediastinum(x, y, findings)
    density += _heart(x, y, findings) * (1 - 0.5 * np.clip(domes, 0, 1))
    density += _ribs(x, y, lungs, broken="fracture" in findings)
    density += _clavicles(x, y) + _shoulders(x, y)
    density += _findings(rng, x, y, findings, right_lung, left_lung, domes)
    density += rng.normal(0, 0.008, density.shape).astype(np.float32)
    return (np.clip(density * 1.15 + 0.08, 0, 1) * MAX_VALUE).astype(np.uint16)


def _torso(x, y):
    """Soft tissue of the chest wall and neck: a rounded rectangle, softly edged."""
    return np.clip((1.04 - (np.abs(x - 0.5) / 0.47) ** 4 - (np.abs(y - 0.6) / 0.62) ** 6) / 0.08, 0, 1)


def _diaphragm_domes(x, y, jitter):
    """> 0 below the hemidiaphragms (abdomen), < 0 above; the right dome sits higher over the liver."""
    right = y - (0.80 + jitter[2] - 0.1 * np.sqrt(np.clip(1 - ((x - 0.3) / 0.2) ** 2, 0, 1)))
    left = y - (0.83 + jitter[3] - 0.1 * np.sqrt(np.clip(1 - ((x - 0.7) / 0.2) ** 2, 0, 1)))
    return np.clip(np.where(x < 0.5, right, left) / 0.01, -1, 1)


def _lung(x, y, cx, medial, domes):
    """A lung field: narrow apex, wide base, a straight medial border, cut off by its dome."""
    top, bottom = 0.16, 0.86
    depth = np.clip((y - top) / (bottom - top), 0, 1)
    half_width = 0.17 * np.sqrt(depth) + 0.02
    lateral = np.clip(1 - np.abs(x - cx) / np.maximum(half_width, 1e-3), 0, 1)
    inside_medial = (x < medial) if cx < 0.5 else (x > medial)
    lung = np.clip(lateral * 6, 0, 1) * inside_medial * (y > top)
    return lung * np.clip(-domes, 0, 1)


def _mediastinum(x, y, findings):
    half = 0.085 if "enlarged-cardiomediastinum" in findings else 0.06
    band = np.clip((half - np.abs(x - 0.5)) / 0.02, 0, 1) * np.clip((y - 0.08) / 0.05, 0, 1) * np.clip((0.8 - y) / 0.1, 0, 1)
    trachea = np.clip(1 - np.abs(x - 0.5) / 0.012, 0, 1) * (y > 0.04) * (y < 0.36)
    spine = 0.05 * np.clip(1 - np.abs(x - 0.5) / 0.03, 0, 1) * (0.8 + 0.2 * np.sin(y * 90))
    return 0.12 * band - 0.1 * trachea + spine


def _heart(x, y, findings):
    rx, cx = (0.2, 0.58) if "cardiomegaly" in findings else (0.13, 0.55)
    return 0.18 * _soft(_ellipse(x, y, cx, 0.64, rx, 0.13), 0.15)


def _shoulders(x, y):
    """Humeral heads at the upper corners."""
    return 0.2 * (_soft(_ellipse(x, y, 0.06, 0.19, 0.06, 0.07), 0.2) + _soft(_ellipse(x, y, 0.94, 0.19, 0.06, 0.07), 0.2))


def _lung_markings(rng, x, y):
    phase = rng.uniform(0, 6.28, 3)
    return (np.sin(60 * x + phase[0]) * np.sin(45 * y + phase[1]) + np.sin(90 * (x + y) + phase[2])) * 0.5


def _ribs(x, y, lungs, broken):
    ribs = np.zeros_like(x)
    for i in range(9):
        arc = 0.2 + 0.065 * i + 0.08 * (x - 0.5) ** 2 * 4
        band = np.clip(1 - np.abs(y - arc) / 0.012, 0, 1)
        if broken and i == 5:
            band *= np.abs(x - 0.22) > 0.015
        ribs += band
    return 0.1 * ribs * (lungs > 0.1)


def _clavicles(x, y):
    right = np.clip(1 - np.abs(y - (0.17 + 0.15 * (0.45 - x))) / 0.015, 0, 1) * (x > 0.15) * (x < 0.47)
    left = np.clip(1 - np.abs(y - (0.17 + 0.15 * (x - 0.55))) / 0.015, 0, 1) * (x > 0.53) * (x < 0.85)
    return 0.2 * (right + left)


def _findings(rng, x, y, findings, right_lung, left_lung, domes):
    extra = np.zeros_like(x)
    on_left = rng.random() < 0.5
    lung = left_lung if on_left else right_lung
    cx = 0.69 if on_left else 0.31
    if "pleural-effusion" in findings:
        # Fluid fills the base and climbs the lateral wall: a meniscus that blunts the costophrenic angle.
        meniscus = np.clip((y - (0.68 - 0.5 * np.abs(x - cx) ** 1.5)) / 0.03, 0, 1)
        extra += 0.3 * meniscus * lung
    if "pneumothorax" in findings:
        apex = _soft(_ellipse(x, y, cx + (0.05 if on_left else -0.05), 0.3, 0.09, 0.16), 0.05)
        extra -= 0.12 * apex * lung
        extra += 0.06 * np.clip(1 - np.abs(np.sqrt(_ellipse(x, y, cx + (0.05 if on_left else -0.05), 0.3, 0.09,
                                                                0.16)) - 1) / 0.03, 0, 1) * lung
    if "lung-lesion" in findings:
        extra += 0.22 * _soft(_ellipse(x, y, cx + rng.uniform(-0.05, 0.05), rng.uniform(0.3, 0.55), 0.025, 0.02))
    if findings & {"consolidation", "pneumonia", "lung-opacity"}:
        patch = _soft(_ellipse(x, y, cx, rng.uniform(0.5, 0.62), 0.1, 0.08), 0.5)
        extra += 0.18 * patch * lung
    if "atelectasis" in findings:
        extra += 0.15 * np.clip(1 - np.abs(y - 0.6) / 0.01, 0, 1) * lung
    if "edema" in findings:
        extra += 0.1 * np.exp(-(((x - 0.5) / 0.2) ** 2 + ((y - 0.45) / 0.15) ** 2)) * (right_lung + left_lung)
    if "pleural-other" in findings:
        extra += 0.1 * np.clip(1 - np.abs(np.sqrt(_ellipse(x, y, cx, 0.47, 0.16, 0.31)) - 1) / 0.04, 0, 1)
    if "support-devices" in findings:
        extra += 0.5 * np.clip(1 - np.abs(x - (0.5 + 0.02 * np.sin(y * 8))) / 0.004, 0, 1) * (y < 0.4)
    return extra


def write_dicom(path, pixels, seed, index, monochrome1, rng):
    height, width = pixels.shape
    uid = lambda kind: generate_uid(entropy_srcs=[f"synthetic-cxr-{seed}-{index}-{kind}"])  # noqa: E731
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = DX_FOR_PRESENTATION
    ds.file_meta.MediaStorageSOPInstanceUID = uid("image")
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SOPClassUID = DX_FOR_PRESENTATION
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uid("study"), uid("series")
    ds.Modality, ds.BodyPartExamined, ds.ViewPosition = "DX", "CHEST", "PA" if rng.random() < 0.8 else "AP"
    ds.PatientOrientation = ["L", "F"]
    ds.PatientName, ds.PatientID = "", ""
    ds.PatientIdentityRemoved, ds.DeidentificationMethod = "YES", "synthetic image, no patient"
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.PresentationIntentType = "FOR PRESENTATION"
    spacing = round(float(rng.uniform(0.139, 0.175)) * (2500 / max(height, 1)), 4)
    ds.PixelSpacing = ds.ImagerPixelSpacing = [spacing, spacing]
    ds.Rows, ds.Columns = height, width
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 16, 12, 11, 0
    ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 1, 0, "US"
    ds.WindowCenter, ds.WindowWidth = [2048, 1800], [4096, 2400]
    ds.WindowCenterWidthExplanation = ["FULL", "LUNG"]
    stored = (MAX_VALUE - pixels) if monochrome1 else pixels
    ds.PixelData = stored.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
