"""A synthetic radiograph as a DX DICOM file, For Presentation, with the UIDs of its seed and index."""

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from .constants import DX_FOR_PRESENTATION, MAX_VALUE

# --- DICOM -----------------------------------------------------------------------------------------------


def case_uids(seed, index):
    """Study, series and instance UIDs hashed from the seed and case index: the same run, the same UIDs."""
    return {
        kind: generate_uid(entropy_srcs=[f"readerstudy-synthetic-cxr:{seed}:{index}:{kind}"])
        for kind in ("study", "series", "instance")
    }


def write_dicom(path, pixels, seed, index, monochrome1, rng, view_position=None):
    """Save `pixels` (presentation values, bright = dense) as a de-identified DX For Presentation file.

    MONOCHROME1 files store the inverted values, so that a viewer that honours the photometric
    interpretation shows the same picture. `rng` draws the detector pixel spacing and, if not given, the view.
    """
    view_position = view_position or ("AP" if rng.random() < 0.2 else "PA")
    spacing_mm = detector_width_mm(rng) / pixels.shape[1]
    ds = dx_dataset(pixels, case_uids(seed, index), monochrome1, spacing_mm, view_position)
    ds.save_as(path, enforce_file_format=True)


def detector_width_mm(rng):
    """A full-size (2000 column) image then has 0.139–0.175 mm pixels, as flat-panel detectors do."""
    return float(rng.uniform(278, 350))


def dx_dataset(pixels, uids, monochrome1, spacing_mm, view_position):
    height, width = pixels.shape
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = DX_FOR_PRESENTATION
    ds.file_meta.MediaStorageSOPInstanceUID = uids["instance"]
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SOPClassUID, ds.SOPInstanceUID = DX_FOR_PRESENTATION, uids["instance"]
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uids["study"], uids["series"]
    # Type 2 patient and study attributes are present but empty: there is no patient, date or institution.
    for keyword in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ReferringPhysicianName",
        "StudyID",
        "Manufacturer",
    ):
        setattr(ds, keyword, "")
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "synthetic image, no patient"
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "DX", 1, 1
    ds.StudyDescription = ds.SeriesDescription = f"CHEST {view_position}"
    ds.BodyPartExamined, ds.ViewPosition = "CHEST", view_position
    ds.PatientOrientation = ["L", "F"]  # columns run to the patient's left, rows to the feet
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.BurnedInAnnotation, ds.LossyImageCompression = "NO", "00"
    spacing = f"{spacing_mm:.4f}"
    ds.PixelSpacing = ds.ImagerPixelSpacing = [spacing, spacing]
    ds.Rows, ds.Columns = height, width
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    ds.PixelIntensityRelationship = "LOG"
    ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    # Sign -1: higher stored values mean less X-ray reached the detector (dense is bright, MONOCHROME2).
    ds.PixelIntensityRelationshipSign = 1 if monochrome1 else -1
    ds.PresentationLUTShape = "INVERSE" if monochrome1 else "IDENTITY"
    stored = MAX_VALUE - pixels if monochrome1 else pixels
    centers, widths = windows_for(pixels)
    # Windows apply to stored values, before MONOCHROME1's inversion.
    ds.WindowCenter = [MAX_VALUE - c if monochrome1 else c for c in centers]
    ds.WindowWidth = widths
    ds.WindowCenterWidthExplanation = ["DEFAULT", "FULL"]
    ds.PixelData = stored.astype("<u2").tobytes()
    return ds


def windows_for(pixels):
    """A window spanning the image's 0.5–99.5th percentile values, and the whole 12-bit range."""
    low, high = np.percentile(pixels[::4, ::4], [0.5, 99.5])
    return [int(round((low + high) / 2)), 2048], [max(int(round(high - low)), 2), 4096]
