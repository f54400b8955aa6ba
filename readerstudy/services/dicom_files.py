"""Reading, checking and normalising one DICOM file for case ingest (no database here).

inspect_file() accepts single-frame greyscale radiographs and raises RejectedFile, with a short reason that
never contains patient data, for everything else. normalised_bytes() gives the stored copy: Explicit VR
Little Endian, uncompressed, the same pixel values.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass, field

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID

RADIOGRAPH_MODALITIES = {"CR", "DX"}
# Secondary captures of radiographs are accepted with a warning when they are greyscale and single-frame.
SECONDARY_CAPTURE_MODALITIES = {"OT", "SC", ""}
GREYSCALE = {"MONOCHROME1", "MONOCHROME2"}

# Identifying attributes after the DICOM basic application confidentiality profile (PS3.15 Annex E), the
# ones that occur in radiographs. Sex and age are kept: they are not identifying alone and readers use them.
IDENTIFYING_ATTRIBUTES = [
    "PatientName", "PatientID", "PatientBirthDate", "PatientBirthTime", "OtherPatientIDs",
    "OtherPatientIDsSequence", "OtherPatientNames", "PatientAddress", "PatientTelephoneNumbers",
    "PatientMotherBirthName", "MilitaryRank", "EthnicGroup", "MedicalRecordLocator", "AccessionNumber",
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "ReferringPhysicianName",
    "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers", "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy", "OperatorsName", "RequestingPhysician", "PhysiciansOfRecord",
    "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "AcquisitionDateTime", "StudyTime",
    "SeriesTime", "AcquisitionTime", "ContentTime", "StudyID", "StationName", "DeviceSerialNumber",
    "RequestAttributesSequence", "PatientComments", "AdditionalPatientHistory", "ImageComments",
]
DEIDENTIFICATION_METHOD = "Basic confidentiality profile attributes blanked on import"


class RejectedFile(Exception):
    """Why a file cannot be a case image; the message names no patient data."""


@dataclass
class InspectedDicom:
    dataset: Dataset
    pixels: np.ndarray
    sop_instance_uid: str
    modality: str
    rows: int
    columns: int
    bits_stored: int
    photometric_interpretation: str
    view_position: str
    pixel_spacing: tuple | None
    window_center: float | None
    window_width: float | None
    transfer_syntax_uid: str
    identifying: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def inspect_file(path) -> InspectedDicom:
    dataset = read_dataset(path)
    check_is_image(dataset)
    check_modality_is_radiograph(dataset)
    check_greyscale_single_frame(dataset)
    modality, warnings = secondary_capture_warning(dataset)
    pixels = decode_pixels(dataset)
    return InspectedDicom(
        dataset=dataset,
        pixels=pixels,
        sop_instance_uid=str(dataset.SOPInstanceUID),
        modality=modality,
        rows=int(dataset.Rows),
        columns=int(dataset.Columns),
        bits_stored=int(dataset.BitsStored),
        photometric_interpretation=str(dataset.PhotometricInterpretation),
        view_position=str(dataset.get("ViewPosition", "") or "").strip().upper(),
        pixel_spacing=pixel_spacing(dataset),
        window_center=first_number(dataset.get("WindowCenter")),
        window_width=first_number(dataset.get("WindowWidth")),
        transfer_syntax_uid=str(dataset.file_meta.TransferSyntaxUID),
        identifying=identifying_attributes_present(dataset),
        warnings=warnings,
    )


def read_dataset(path) -> Dataset:
    """Read the whole file (files without a meta header too); anything unreadable is rejected."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
        has_preamble = len(head) == 132 and head[128:132] == b"DICM"
        with warnings.catch_warnings():
            # pydicom warns about every oddity of a non-DICOM file; the rejection says it once.
            warnings.simplefilter("ignore")
            dataset = pydicom.dcmread(path, force=not has_preamble)
    except InvalidDicomError:
        raise RejectedFile("not a DICOM file") from None
    except (EOFError, OSError, ValueError, KeyError, TypeError, AttributeError, NotImplementedError) as error:
        raise RejectedFile(_truncated_or_unreadable(error)) from None
    # force=True parses any bytes into some dataset: a real one has a SOP Class and Instance UID.
    if "SOPClassUID" not in dataset or "SOPInstanceUID" not in dataset or not _looks_like_dicom(dataset):
        raise RejectedFile("not a DICOM file")
    if "TransferSyntaxUID" not in getattr(dataset, "file_meta", {}):
        dataset.file_meta = dataset.get("file_meta") or FileMetaDataset()
        dataset.file_meta.TransferSyntaxUID = _guess_transfer_syntax(dataset)
    return dataset


def _looks_like_dicom(dataset):
    try:
        uid = str(dataset.SOPClassUID)
        return uid.startswith("1.2.840.10008.") and all(ch.isdigit() or ch == "." for ch in uid)
    except Exception:
        return False


def _guess_transfer_syntax(dataset):
    if dataset.is_little_endian is False:
        return pydicom.uid.ExplicitVRBigEndian
    return ExplicitVRLittleEndian if not dataset.is_implicit_VR else pydicom.uid.ImplicitVRLittleEndian


def _truncated_or_unreadable(error):
    text = str(error).lower()
    if isinstance(error, EOFError) or "end of file" in text or "truncat" in text or "expected" in text:
        return "truncated file"
    return f"unreadable DICOM ({type(error).__name__})"


def check_is_image(dataset):
    if "PixelData" not in dataset:
        sop = pydicom.uid.UID(str(dataset.SOPClassUID))
        raise RejectedFile(f"no pixel data ({sop.name})")
    for keyword in ("Rows", "Columns", "BitsAllocated", "BitsStored", "PhotometricInterpretation"):
        if keyword not in dataset:
            raise RejectedFile(f"image attribute {keyword} is missing")


def _modality(dataset):
    return str(dataset.get("Modality", "") or "").strip().upper()


def check_modality_is_radiograph(dataset):
    modality = _modality(dataset)
    if modality not in RADIOGRAPH_MODALITIES | SECONDARY_CAPTURE_MODALITIES:
        raise RejectedFile(f"not a radiograph (modality {modality or 'none'})")


def secondary_capture_warning(dataset):
    """A greyscale single-frame secondary capture may be a scanned radiograph: accepted, with a warning."""
    modality = _modality(dataset)
    if modality in RADIOGRAPH_MODALITIES:
        return modality, []
    return modality or "OT", [f"secondary capture (modality {modality or 'none'}): check it is a radiograph"]


def check_greyscale_single_frame(dataset):
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise RejectedFile(f"multi-frame image ({frames} frames)")
    photometric = str(dataset.PhotometricInterpretation).strip()
    if int(dataset.get("SamplesPerPixel", 1)) != 1 or photometric not in GREYSCALE:
        raise RejectedFile(f"colour image ({photometric})")
    if not 8 <= int(dataset.BitsStored) <= 16:
        raise RejectedFile(f"bits stored {int(dataset.BitsStored)} outside 8–16")


def decode_pixels(dataset) -> np.ndarray:
    try:
        pixels = dataset.pixel_array
    except Exception as error:  # each decoder plugin raises its own kinds of error
        message = _decoder_message(error)
        if "less than expected" in message.lower() or "shorter" in message.lower():
            raise RejectedFile("truncated file (pixel data shorter than the image)") from None
        raise RejectedFile(f"pixel data will not decode ({message})") from None
    if pixels.shape != (int(dataset.Rows), int(dataset.Columns)):
        raise RejectedFile(f"pixel data has shape {pixels.shape}, not one {dataset.Rows}×{dataset.Columns} frame")
    return pixels


def _decoder_message(error):
    """The first useful line: pydicom's "all plugins failed" line is followed by each plugin's reason."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    useful = lines[1] if lines[0].endswith(":") and len(lines) > 1 else lines[0]
    return useful[:200]


def pixel_spacing(dataset):
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = dataset.get(keyword)
        if value is not None and len(value) == 2:
            try:
                return float(value[0]), float(value[1])
            except (TypeError, ValueError):
                continue
    return None


def first_number(value):
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        value = value[0] if len(value) else None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def identifying_attributes_present(dataset) -> list[str]:
    """Keywords of identifying attributes with a value (the names, never the values)."""
    return [keyword for keyword in IDENTIFYING_ATTRIBUTES if keyword in dataset and _has_value(dataset[keyword])]


def _has_value(element):
    value = element.value
    return value not in (None, "", b"") and not (hasattr(value, "__len__") and len(value) == 0)


def deidentify(dataset):
    """Blank the identifying attributes in place, drop private tags, and say so in the dataset.

    UIDs are kept: re-import deduplicates by SOP Instance UID, and they carry no patient data by themselves.
    """
    for keyword in IDENTIFYING_ATTRIBUTES:
        if keyword in dataset:
            if dataset[keyword].VR == "SQ":
                del dataset[keyword]
            else:
                dataset[keyword].value = ""
    dataset.remove_private_tags()
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = DEIDENTIFICATION_METHOD


def normalised_bytes(inspected: InspectedDicom) -> bytes:
    """The stored copy: the same dataset and pixels, written Explicit VR Little Endian and uncompressed."""
    dataset = inspected.dataset
    pixels = inspected.pixels
    bits_allocated = 8 if int(dataset.BitsAllocated) <= 8 and pixels.dtype.itemsize == 1 else 16
    dtype = {(8, 0): np.uint8, (8, 1): np.int8, (16, 0): "<u2", (16, 1): "<i2"}[
        (bits_allocated, int(dataset.get("PixelRepresentation", 0)))]
    dataset.BitsAllocated = bits_allocated
    dataset.PixelData = np.ascontiguousarray(pixels.astype(dtype)).tobytes()
    dataset["PixelData"].VR = "OB" if bits_allocated == 8 else "OW"
    dataset.SamplesPerPixel = 1
    for keyword in ("NumberOfFrames", "PlanarConfiguration", "LossyImageCompression"):
        if keyword in dataset and keyword != "LossyImageCompression":
            del dataset[keyword]
    # A fresh dataset of the decoded elements forgets the original encoding, so that a big-endian or
    # implicit-VR file can be written explicit little endian.
    fresh = Dataset()
    for element in dataset:
        fresh.add(element)
    fresh.file_meta = _file_meta(dataset)
    buffer = io.BytesIO()
    fresh.save_as(buffer, enforce_file_format=True, implicit_vr=False, little_endian=True)
    return buffer.getvalue()


def _file_meta(dataset):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return meta


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
