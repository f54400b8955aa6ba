"""Reading, checking and normalising one DICOM file for case ingest (no database here).

inspect_file() accepts single-frame greyscale radiographs and raises RejectedFile, with a short reason that
never contains patient data, for everything else. normalised_bytes() gives the stored copy: Explicit VR
Little Endian, uncompressed, the very pixel values the original decodes to, the same bytes every time.
"""

import hashlib
import io
import warnings
from copy import deepcopy
from dataclasses import dataclass, field

import numpy as np
import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLSNearLossless,
)

from readerstudy.cases.deidentification import identifying_attributes_present
from readerstudy.core.errors import Refused

RADIOGRAPH_MODALITIES = {"CR", "DX"}
# Secondary captures (and files that name no modality) may be digitised or exported radiographs: accepted
# with a warning when they are greyscale and single-frame. A missing modality is recorded as OT (other).
SECONDARY_CAPTURE_MODALITIES = {"OT", "SC", ""}
# X-ray projection modalities that are never chest radiographs (mammography, dental, angiography, fluoroscopy).
NON_CHEST_XRAY_MODALITIES = {"MG", "IO", "PX", "XA", "RF"}
GREYSCALE = {"MONOCHROME1", "MONOCHROME2"}
REQUIRED_IMAGE_ATTRIBUTES = (
    "SOPClassUID",
    "SOPInstanceUID",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "PhotometricInterpretation",
)

# The stored copy must hash the same after a pydicom upgrade, so its meta header names no pydicom version.
IMPLEMENTATION_VERSION_NAME = "READERSTUDY_1"
# Always lossy. JPEG 2000 (.91) may or may not be, so it is trusted to say so itself.
LOSSY_TRANSFER_SYNTAXES = {JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLSNearLossless}
BYTE_ORDER_SENSITIVE_VRS = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


class RejectedFile(Refused):
    """Why a file cannot be a case image; the message names no patient data."""


@dataclass
class InspectedDicom:
    dataset: Dataset
    pixels: np.ndarray  # as decoded by pydicom: stored values, no LUT applied
    sop_instance_uid: str
    modality: str
    rows: int
    columns: int
    bits_stored: int
    photometric_interpretation: str
    view_position: str
    pixel_spacing: tuple[float, float] | None
    window_center: float | None
    window_width: float | None
    transfer_syntax_uid: str  # of the original file
    identifying: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def inspect_file(path) -> InspectedDicom:
    try:
        with warnings.catch_warnings():  # pydicom warns about every odd value; the reason says what matters
            warnings.simplefilter("ignore")
            return _inspect(path)
    except RejectedFile:
        raise
    except Exception as error:  # pydicom parses elements lazily: any access may fail on a malformed file
        raise RejectedFile(f"unreadable DICOM ({type(error).__name__})") from None


def _inspect(path):
    dataset = read_dataset(path)
    check_is_image(dataset)
    modality = checked_modality(dataset)
    check_single_greyscale_frame(dataset)
    check_bit_depth(dataset)
    check_native_pixel_data_complete(dataset)
    pixels = decode_pixels(dataset)
    check_fits_the_catalogue(dataset)
    return InspectedDicom(
        dataset=dataset,
        pixels=pixels,
        sop_instance_uid=str(dataset.SOPInstanceUID),
        modality=modality or "OT",
        rows=int(dataset.Rows),
        columns=int(dataset.Columns),
        bits_stored=int(dataset.BitsStored),
        photometric_interpretation=str(dataset.PhotometricInterpretation).strip(),
        view_position=str(dataset.get("ViewPosition", "") or "").strip().upper(),
        pixel_spacing=pixel_spacing(dataset),
        window_center=first_number(dataset.get("WindowCenter")),
        window_width=first_number(dataset.get("WindowWidth")),
        transfer_syntax_uid=str(dataset.file_meta.TransferSyntaxUID),
        identifying=identifying_attributes_present(dataset),
        warnings=acceptance_warnings(dataset, modality),
    )


def read_dataset(path) -> Dataset:
    """The whole dataset, files without a File Meta header too; unreadable and truncated files are rejected."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            dataset = pydicom.dcmread(path, force=True)
        except Exception as error:
            raise RejectedFile(reading_failure(error, caught)) from None
    # force=True turns any bytes into a dataset of a nonsense element or two: real DICOM names its SOP Class.
    if not sop_class(dataset).is_valid:
        raise RejectedFile("not a DICOM file")
    if says_truncated(caught) or last_element_cut_short(dataset):
        raise RejectedFile("truncated file")
    set_missing_transfer_syntax(dataset)
    return dataset


def reading_failure(error, caught_warnings):
    if isinstance(error, EOFError) or says_truncated([error, *caught_warnings]):
        return "truncated file"
    return f"unreadable DICOM ({type(error).__name__})"


def says_truncated(errors_and_warnings):
    """A file that ends inside an undefined-length value only warns, and pydicom drops the whole dataset."""
    said = " ".join(str(getattr(each, "message", each)) for each in errors_and_warnings).lower()
    return "end of file" in said or "truncated" in said


def sop_class(dataset) -> UID:
    # A DICOMDIR names its SOP class only in the File Meta header.
    return UID(str(dataset.get("SOPClassUID") or dataset.file_meta.get("MediaStorageSOPClassUID") or ""))


def last_element_cut_short(dataset):
    """pydicom reads a file that ends inside an element without complaint, keeping the bytes that are there."""
    if not dataset.keys():
        return False
    last = dataset.get_item(max(dataset.keys()))
    length = getattr(last, "length", None)  # a raw (not yet parsed) element still knows its declared length
    return length not in (None, 0xFFFFFFFF) and last.value is not None and len(last.value) < length


def set_missing_transfer_syntax(dataset):
    """A file without a File Meta header still has the encoding pydicom guessed; the decoders need it named."""
    if dataset.file_meta.get("TransferSyntaxUID"):
        if not dataset.file_meta.TransferSyntaxUID.is_transfer_syntax:
            raise RejectedFile(f"unknown transfer syntax {dataset.file_meta.TransferSyntaxUID}")
        return
    implicit_vr, little_endian = dataset.original_encoding
    dataset.file_meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian if implicit_vr else ExplicitVRLittleEndian if little_endian else ExplicitVRBigEndian
    )


def check_is_image(dataset):
    if "PixelData" not in dataset:
        raise RejectedFile(f"no pixel data ({sop_class(dataset).name})")
    for keyword in REQUIRED_IMAGE_ATTRIBUTES:
        if dataset.get(keyword) in (None, ""):
            raise RejectedFile(f"{keyword} is missing")
    if not UID(str(dataset.SOPInstanceUID)).is_valid:  # dedup and storage paths rely on it
        raise RejectedFile("invalid SOP Instance UID")


def checked_modality(dataset):
    modality = str(dataset.get("Modality", "") or "").strip().upper()
    if modality in NON_CHEST_XRAY_MODALITIES:
        raise RejectedFile(f"not a chest radiograph (modality {modality})")
    if modality not in RADIOGRAPH_MODALITIES | SECONDARY_CAPTURE_MODALITIES:
        raise RejectedFile(f"not a radiograph (modality {modality})")
    return modality


def acceptance_warnings(dataset, modality):
    notes = []
    if modality not in RADIOGRAPH_MODALITIES:
        notes.append(f"secondary capture (modality {modality or 'missing'}): check that it is a chest radiograph")
    if str(dataset.get("BurnedInAnnotation", "")).upper() == "YES":
        notes.append("burned-in annotation: the pixels may show patient data")
    return notes


def integer(dataset, keyword, default):
    try:
        return int(dataset.get(keyword, default) or default)
    except (TypeError, ValueError):
        raise RejectedFile(f"invalid {keyword}") from None


def check_single_greyscale_frame(dataset):
    frames = integer(dataset, "NumberOfFrames", 1)
    if frames > 1:
        raise RejectedFile(f"multi-frame image ({frames} frames)")
    photometric = str(dataset.PhotometricInterpretation).strip()
    if integer(dataset, "SamplesPerPixel", 1) != 1 or photometric not in GREYSCALE:
        raise RejectedFile(f"colour image ({photometric})")


def check_bit_depth(dataset):
    bits_stored, bits_allocated = integer(dataset, "BitsStored", 0), integer(dataset, "BitsAllocated", 0)
    if not 8 <= bits_stored <= 16:
        raise RejectedFile(f"bits stored {bits_stored} outside 8–16")
    if bits_allocated not in (8, 16) or bits_allocated < bits_stored:
        raise RejectedFile(f"bits allocated {bits_allocated} cannot hold bits stored {bits_stored}")


def check_native_pixel_data_complete(dataset):
    """Compressed data is checked by its decoder; uncompressed data must hold rows × columns samples."""
    if dataset.file_meta.TransferSyntaxUID.is_encapsulated:
        return
    expected = integer(dataset, "Rows", 0) * integer(dataset, "Columns", 0) * integer(dataset, "BitsAllocated", 0) // 8
    if len(dataset.PixelData) < expected:
        raise RejectedFile("truncated file (pixel data shorter than the image)")


# Attributes the case catalogue keeps in a column of this many characters (models/cases.py, CaseImage).
CATALOGUE_LENGTHS = {"ViewPosition": 16, "Modality": 16}


def check_fits_the_catalogue(dataset):
    for keyword, limit in CATALOGUE_LENGTHS.items():
        if len(str(dataset.get(keyword, "") or "").strip()) > limit:
            raise RejectedFile(f"{keyword} is longer than {limit} characters")


def decode_pixels(dataset) -> np.ndarray:
    try:
        return dataset.pixel_array
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # each plugin raises its own errors; the Rust ones panic (a BaseException)
        raise RejectedFile(f"pixel data will not decode ({decoder_message(error)})") from None


def decoder_message(error):
    """The first useful line: pydicom's "raised by all available plugins:" line comes before each plugin's."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    return (lines[1] if lines[0].endswith(":") and len(lines) > 1 else lines[0])[:160]


def pixel_spacing(dataset):
    """Row and column spacing in mm; the detector's spacing when the image plane's is not given."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = dataset.get(keyword)
        try:
            if value is not None and len(value) == 2:
                return float(value[0]), float(value[1])
        except (TypeError, ValueError):
            continue
    return None


def first_number(value):
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        value = value[0] if len(value) else None
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def normalised_bytes(inspected: InspectedDicom) -> bytes:
    """The stored copy: the dataset with its decoded pixels, written Explicit VR Little Endian, uncompressed.

    Everything else is kept as it is, Photometric Interpretation and Pixel Representation included, except
    that a lossy original is marked so (PS3.3 C.7.6.1.1.5). inspected.dataset is not changed.
    """
    dataset = deepcopy(inspected.dataset)
    original_syntax = UID(inspected.transfer_syntax_uid)
    if not original_syntax.is_little_endian:
        swap_binary_values_to_little_endian(dataset)
    if original_syntax in LOSSY_TRANSFER_SYNTAXES:
        dataset.LossyImageCompression = "01"
    set_uncompressed_pixels(dataset, inspected.pixels)
    dataset.file_meta = normalised_file_meta(dataset)
    dataset.preamble = None  # the original's may hold anything (a TIFF header, say); the copy gets zeros
    buffer = io.BytesIO()
    # dcmwrite, not save_as: save_as refuses to change the byte order of a dataset read big endian.
    pydicom.dcmwrite(buffer, dataset, enforce_file_format=True)
    return buffer.getvalue()


def swap_binary_values_to_little_endian(dataset):
    """pydicom re-encodes numbers and text for the new byte order but writes OW/OF/OL/OD/OV bytes as read.

    UN values cannot be swapped without knowing their structure; they are nearly always private tags.
    """
    for element in dataset.iterall():
        size = BYTE_ORDER_SENSITIVE_VRS.get(element.VR)
        if size and element.tag != 0x7FE00010 and element.value and len(element.value) % size == 0:
            element.value = np.frombuffer(element.value, f">u{size}").astype(f"<u{size}").tobytes()


def set_uncompressed_pixels(dataset, pixels):
    little_endian = np.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder("<"))
    data = little_endian.tobytes()
    bits_allocated = 8 * pixels.dtype.itemsize
    dataset.BitsAllocated = bits_allocated
    dataset["PixelData"] = DataElement(
        0x7FE00010, "OB" if bits_allocated == 8 else "OW", data + b"\0" * (len(data) % 2)
    )  # values have even length
    for extended_offset_table in (0x7FE00001, 0x7FE00002):  # only valid beside compressed pixel data
        dataset.pop(extended_offset_table, None)


def normalised_file_meta(dataset):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    return meta


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
