"""A folder of DICOM (and not-DICOM) files of many kinds, each with the outcome ingest must give it.

Most encodings are real-world ones: pydicom's own test files, written by GDCM, DCMTK, CharLS, OpenJPEG and
vendors. Greyscale ones of other modalities are relabelled as radiographs (Modality, SOP Class and a fresh
SOP Instance UID) so that they are valid cases whose pixel data keeps its original encoding. The rest is
built here from a small 12-bit image: JPEG baseline (Pillow), JPEG lossless (a few lines below: nothing
installed encodes it), MONOCHROME1, 8-bit, no File Meta header, secondary capture, identifying data.
Every file is a loose file, so each is a case of its own. Everything is deterministic.
"""

import io
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    generate_uid,
)

PYDICOM_FILES = Path(os.path.dirname(pydicom.__file__)) / "data" / "test_files"
DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
CR_IMAGE = "1.2.840.10008.5.1.4.1.1.1"
MAMMOGRAPHY_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"

# pydicom test file -> (corpus name, modality it is relabelled as)
RELABELLED_RADIOGRAPHS = {
    "MR_small_RLE.dcm": ("rle.dcm", "DX"),
    "MR_small_implicit.dcm": ("implicit-vr-cr.dcm", "CR"),
    "MR_small_jpeg_ls_lossless.dcm": ("jpeg-ls-lossless.dcm", "DX"),
    "MR_small_jp2klossless.dcm": ("jpeg2000-lossless.dcm", "DX"),
    "JPEG2000.dcm": ("jpeg2000.dcm", "DX"),
    "JPGExtended.dcm": ("jpeg-extended-12bit.dcm", "DX"),
}
# Real-world secondary captures, copied unchanged: accepted, with a warning.
SECONDARY_CAPTURES = {
    "image_dfl.dcm": "deflated-secondary-capture.dcm",  # 8-bit, Deflated Explicit VR Little Endian
    "JPEGLSNearLossless_08.dcm": "jpeg-ls-near-lossless-8bit-no-modality.dcm",
}
# pydicom test file -> (corpus name, words the rejection reason must contain); copied unchanged.
REJECTED = {
    "CT_small.dcm": ("ct.dcm", "not a radiograph (modality CT)"),
    "MR_small.dcm": ("mr.dcm", "not a radiograph (modality MR)"),
    "ExplVR_BigEnd.dcm": ("ultrasound-big-endian.dcm", "not a radiograph (modality US)"),
    "rtdose.dcm": ("rt-dose.dcm", "not a radiograph (modality RTDOSE)"),
    "rtplan.dcm": ("rt-plan.dcm", "no pixel data (RT Plan Storage)"),
    "rtplan_truncated.dcm": ("rt-plan-truncated.dcm", "truncated file"),
    "rtstruct.dcm": ("rt-struct.dcm", "no pixel data (RT Structure Set Storage)"),
    "reportsi.dcm": ("structured-report.dcm", "no pixel data (Basic Text SR Storage)"),
    "ExplVR_LitEndNoMeta.dcm": ("rt-ion-plan-no-meta.dcm", "no pixel data (RT Ion Plan Storage)"),
    "ExplVR_BigEndNoMeta.dcm": ("rt-ion-plan-no-meta-big-endian.dcm", "no pixel data (RT Ion Plan Storage)"),
    # "CT_small.dcm without a File Meta header", but the file starts with a stray byte: no reader can parse it.
    "no_meta.dcm": ("no-meta-stray-first-byte.dcm", "not a DICOM file"),
    "SC_rgb_jpeg_dcmtk.dcm": ("colour-ybr-jpeg.dcm", "colour image (YBR_FULL)"),
    "SC_rgb_rle.dcm": ("colour-rgb-rle.dcm", "colour image (RGB)"),
    "SC_rgb_rle_2frame.dcm": ("colour-two-frames.dcm", "multi-frame image (2 frames)"),
}
# pydicom test file -> (corpus name, reason): relabelled as DX so that the check under test is the one hit.
RELABELLED_REJECTED = {
    "rtdose_1frame.dcm": ("dose-32-bit-as-dx.dcm", "bits stored 32 outside 8–16"),
    "MR_truncated.dcm": ("truncated-pixel-data.dcm", "truncated file"),
    "JPEG-lossy.dcm": ("undecodable-jpeg.dcm", "pixel data will not decode"),
    "JPEG2000-embedded-sequence-delimiter.dcm": ("undecodable-jpeg2000.dcm", "pixel data will not decode"),
}
EXPECTED_WARNINGS = {
    "secondary-capture.dcm": "secondary capture (modality OT)",
    "deflated-secondary-capture.dcm": "secondary capture (modality OT)",
    "jpeg-ls-near-lossless-8bit-no-modality.dcm": "secondary capture (modality missing)",
}
PATIENT_NAME = "Doe^Jane"  # identified.dcm's; a test checks it never reaches a message or a stored copy


def build_corpus(folder: Path) -> dict:
    """Write the corpus; returns file name -> "accept" or the words its rejection reason must contain."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for source, (target, modality) in RELABELLED_RADIOGRAPHS.items():
        relabelled(PYDICOM_FILES / source, target, modality).save_as(folder / target, enforce_file_format=True)
        expected[target] = "accept"
    for source, target in SECONDARY_CAPTURES.items():
        shutil.copy(PYDICOM_FILES / source, folder / target)
        expected[target] = "accept"
    for source, (target, reason) in REJECTED.items():
        shutil.copy(PYDICOM_FILES / source, folder / target)
        expected[target] = reason
    for source, (target, reason) in RELABELLED_REJECTED.items():
        relabelled(PYDICOM_FILES / source, target, "DX").save_as(folder / target, enforce_file_format=True)
        expected[target] = reason
    expected.update(write_big_endian_files(folder))
    expected.update(write_synthetic_radiographs(folder))
    expected.update(write_synthetic_rejects(folder))
    return expected


def relabelled(source, name, modality):
    ds = pydicom.dcmread(source)
    ds.Modality = modality
    ds.SOPClassUID = CR_IMAGE if modality == "CR" else DX_FOR_PRESENTATION
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[name])
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    return ds


def write_big_endian_files(folder):
    ds = relabelled(PYDICOM_FILES / "MR_small_bigendian.dcm", "big-endian.dcm", "DX")
    add_overlay(ds)
    ds.save_as(folder / "big-endian.dcm", enforce_file_format=True)
    ds = relabelled(PYDICOM_FILES / "MR_small_bigendian.dcm", "no-meta-big-endian.dcm", "DX")
    without_file_meta(ds).save_as(folder / "no-meta-big-endian.dcm", implicit_vr=False, little_endian=False)
    return {"big-endian.dcm": "accept", "no-meta-big-endian.dcm": "accept"}


def add_overlay(ds):
    """An OW value other than the pixel data, whose bytes must be swapped when written little endian."""
    ds.add_new(0x60000010, "US", 64)  # Overlay Rows
    ds.add_new(0x60000011, "US", 64)  # Overlay Columns
    ds.add_new(0x60000040, "CS", "G")  # Overlay Type: graphics
    ds.add_new(0x60000050, "SS", [1, 1])  # Overlay Origin
    ds.add_new(0x60000100, "US", 1)  # Overlay Bits Allocated
    ds.add_new(0x60000102, "US", 0)  # Overlay Bit Position
    ds.add_new(0x60003000, "OW", np.arange(0, 64 * 64 // 16, dtype=">u2").tobytes())  # pydicom writes OW as given


def without_file_meta(ds):
    del ds.file_meta
    ds.preamble = None
    return ds


def chest_like_image(rows=80, columns=64):
    """A small 12-bit greyscale picture: a gradient, two dark 'lungs', a little noise."""
    y, x = np.mgrid[0:rows, 0:columns]
    picture = 1200 + 30 * y + 8 * x
    for centre in (columns * 0.3, columns * 0.7):
        lung = ((x - centre) / (columns * 0.17)) ** 2 + ((y - rows * 0.45) / (rows * 0.3)) ** 2 < 1
        picture[lung] -= 900
    picture = picture + np.random.default_rng(3).integers(0, 40, size=picture.shape)
    return np.clip(picture, 0, 4095).astype(np.uint16)


def radiograph(
    name, pixels, *, modality="DX", sop_class=DX_FOR_PRESENTATION, photometric="MONOCHROME2", bits_stored=12
):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, generate_uid(entropy_srcs=[name])
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[name, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[name, "series"])
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
    ):
        setattr(ds, keyword, "")  # type 2: present, and empty here
    ds.Modality, ds.ViewPosition, ds.BodyPartExamined = modality, "PA", "CHEST"
    ds.ImagerPixelSpacing = [0.5, 0.5]
    ds.WindowCenter, ds.WindowWidth = (2048, 4096) if bits_stored > 8 else (128, 256)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.BitsAllocated = 8 * pixels.dtype.itemsize
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits_stored, bits_stored - 1, 0
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    ds["PixelData"].VR = "OB" if ds.BitsAllocated == 8 else "OW"
    return ds


def write_synthetic_radiographs(folder):
    pixels = chest_like_image()
    files = {
        "explicit-little-endian.dcm": radiograph("explicit-little-endian.dcm", pixels),
        "monochrome1.dcm": radiograph("monochrome1.dcm", 4095 - pixels, photometric="MONOCHROME1"),
        "eight-bit.dcm": radiograph("eight-bit.dcm", (pixels >> 4).astype(np.uint8), bits_stored=8),
        "secondary-capture.dcm": radiograph(
            "secondary-capture.dcm", pixels, modality="OT", sop_class=SECONDARY_CAPTURE
        ),
        "identified.dcm": identified(radiograph("identified.dcm", pixels)),
        "jpeg-baseline-8bit.dcm": jpeg_baseline(radiograph("jpeg-baseline-8bit.dcm", pixels)),
        "jpeg-lossless-sv1.dcm": jpeg_lossless(radiograph("jpeg-lossless-sv1.dcm", pixels), pixels, predictor=1),
        "jpeg-lossless-predictor-7.dcm": jpeg_lossless(
            radiograph("jpeg-lossless-predictor-7.dcm", pixels), pixels, predictor=7
        ),
    }
    for name, ds in files.items():
        ds.save_as(folder / name, enforce_file_format=True)
    # Implicit VR without File Meta header or preamble, as old ACR-NEMA-style exporters write.
    no_meta = without_file_meta(radiograph("no-meta-implicit-vr.dcm", pixels))
    no_meta.save_as(folder / "no-meta-implicit-vr.dcm", implicit_vr=True, little_endian=True)
    return dict.fromkeys([*files, "no-meta-implicit-vr.dcm"], "accept")


def identified(ds):
    """A radiograph carrying identifying data, at the top level, nested in a sequence and in a private tag."""
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = PATIENT_NAME, "MRN-0042", "19700101"
    ds.AccessionNumber, ds.StudyDate, ds.InstitutionName = "ACC-77", "20240102", "General Hospital"
    physician = Dataset()
    physician.InstitutionName = "General Hospital"
    ds.ReferringPhysicianIdentificationSequence = [physician]
    ds.private_block(0x0029, "ACME SITE", create=True).add_new(0x01, "LO", PATIENT_NAME)
    return ds


def jpeg_baseline(ds):
    """8-bit greyscale JPEG baseline, compressed by Pillow (libjpeg-turbo)."""
    eight_bit = (chest_like_image() >> 4).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(eight_bit).save(buffer, format="JPEG", quality=90)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.WindowCenter, ds.WindowWidth = 128, 256
    ds.LossyImageCompression, ds.LossyImageCompressionMethod = "01", "ISO_10918_1"
    return encapsulated(ds, buffer.getvalue(), JPEGBaseline8Bit)


def jpeg_lossless(ds, pixels, predictor):
    frame = lossless_jpeg(pixels, ds.BitsStored, predictor)
    return encapsulated(ds, frame, JPEGLosslessSV1 if predictor == 1 else JPEGLossless)


def encapsulated(ds, frame, transfer_syntax):
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    return ds


def lossless_jpeg(pixels, precision, predictor):
    """ITU T.81 process 14 with predictor 1 (left; what most CR/DX archives hold) or 7 (mean of left and above).

    One Huffman table of 5-bit codes, code = difference category, which is valid though not optimal.
    """
    values = pixels.astype(np.int32)
    predicted = np.empty_like(values)
    predicted[0, 0] = 1 << (precision - 1)
    predicted[0, 1:] = values[0, :-1]  # first row: the sample to the left
    predicted[1:, 0] = values[:-1, 0]  # first column: the sample above
    left, above = values[1:, :-1], values[:-1, 1:]
    predicted[1:, 1:] = left if predictor == 1 else (left + above) >> 1
    bits = []
    for difference in (values - predicted).ravel().tolist():
        category = abs(difference).bit_length()
        bits.append(f"{category:05b}")
        if category:  # negative differences are sent as difference - 1 in `category` bits
            bits.append(f"{difference if difference > 0 else difference + (1 << category) - 1:0{category}b}")
    stream = "".join(bits)
    stream += "1" * (-len(stream) % 8)
    scan = int(stream, 2).to_bytes(len(stream) // 8, "big").replace(b"\xff", b"\xff\x00")
    rows, columns = pixels.shape
    frame_header = struct.pack(">HBHHBBBB", 11, precision, rows, columns, 1, 1, 0x11, 0)
    huffman_table = struct.pack(">HB", 2 + 1 + 16 + 17, 0x00) + bytes([0, 0, 0, 0, 17] + [0] * 11) + bytes(range(17))
    scan_header = struct.pack(">HBBBBBB", 8, 1, 1, 0x00, predictor, 0, 0)  # point transform 0
    return (
        b"\xff\xd8"
        + b"\xff\xc3"
        + frame_header
        + b"\xff\xc4"
        + huffman_table
        + b"\xff\xda"
        + scan_header
        + scan
        + b"\xff\xd9"
    )


def write_synthetic_rejects(folder):
    pixels = chest_like_image()
    radiograph("mammogram.dcm", pixels, modality="MG", sop_class=MAMMOGRAPHY_FOR_PRESENTATION).save_as(
        folder / "mammogram.dcm", enforce_file_format=True
    )
    two_frames = radiograph("multi-frame-dx.dcm", np.stack([pixels, pixels]))
    two_frames.NumberOfFrames = 2
    two_frames.save_as(folder / "multi-frame-dx.dcm", enforce_file_format=True)
    palette = radiograph(
        "palette-colour.dcm",
        (pixels >> 4).astype(np.uint8),
        modality="OT",
        sop_class=SECONDARY_CAPTURE,
        photometric="PALETTE COLOR",
        bits_stored=8,
    )
    palette.save_as(folder / "palette-colour.dcm", enforce_file_format=True)

    whole = (folder / "explicit-little-endian.dcm").read_bytes()
    (folder / "truncated.dcm").write_bytes(whole[: len(whole) * 2 // 3])  # ends inside the pixel data
    compressed = (folder / "jpeg-ls-lossless.dcm").read_bytes()
    (folder / "truncated-jpeg-ls.dcm").write_bytes(compressed[: len(compressed) * 2 // 3])
    deflated = (PYDICOM_FILES / "image_dfl.dcm").read_bytes()
    (folder / "truncated-deflated.dcm").write_bytes(deflated[: len(deflated) * 2 // 3])

    (folder / "empty.dcm").write_bytes(b"")
    (folder / "notes.txt").write_text("Reader study notes: not an image.\n")
    buffer = io.BytesIO()
    Image.fromarray((pixels >> 4).astype(np.uint8)).save(buffer, format="PNG")
    (folder / "screenshot.png").write_bytes(buffer.getvalue())
    return {
        "mammogram.dcm": "not a chest radiograph (modality MG)",
        "multi-frame-dx.dcm": "multi-frame image (2 frames)",
        "palette-colour.dcm": "colour image (PALETTE COLOR)",
        "truncated.dcm": "truncated file",
        "truncated-jpeg-ls.dcm": "truncated file",
        "truncated-deflated.dcm": "truncated file",
        "empty.dcm": "not a DICOM file",
        "notes.txt": "not a DICOM file",
        "screenshot.png": "not a DICOM file",
    }
