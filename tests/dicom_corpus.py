"""A folder of real-world DICOM files of many kinds, for the ingest's acceptance test.

Most encodings come from pydicom's own test files, written by other toolkits (GDCM, DCMTK, vendors);
greyscale ones are relabelled as DX radiographs with a fresh SOP Instance UID so that they are valid cases
whose pixel data keeps its original encoding. Each file is a loose file, so each is a case of its own.
"""

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit, generate_uid

from readerstudy.services.synthetic import render_chest, write_dicom

PYDICOM_FILES = Path(os.path.dirname(pydicom.__file__)) / "data" / "test_files"

# Greyscale images in many transfer syntaxes, relabelled as radiographs: all must be imported.
RELABELLED_RADIOGRAPHS = {
    "MR_small_RLE.dcm": "rle.dcm",
    "MR_small_bigendian.dcm": "big-endian.dcm",
    "MR_small_implicit.dcm": "implicit-vr.dcm",
    "MR_small_jp2klossless.dcm": "jpeg2000-lossless.dcm",
    "JPEG2000.dcm": "jpeg2000.dcm",
    "MR_small_jpeg_ls_lossless.dcm": "jpeg-ls-lossless.dcm",
    "JPEGLSNearLossless_08.dcm": "jpeg-ls-near-lossless-8bit.dcm",
    "JPGExtended.dcm": "jpeg-extended-12bit.dcm",
    "image_dfl.dcm": "deflated.dcm",
}
# Files that must be rejected, with the words their reason must contain.
REJECTED = {
    "CT_small.dcm": ("ct.dcm", "not a radiograph (modality CT)"),
    "MR_small.dcm": ("mr.dcm", "not a radiograph (modality MR)"),
    "examples_ybr_color.dcm": ("ultrasound.dcm", "not a radiograph (modality US)"),
    "liver_1frame.dcm": ("segmentation.dcm", "not a radiograph (modality SEG)"),
    "rtdose.dcm": ("rt-dose.dcm", "not a radiograph (modality RTDOSE)"),
    "rtplan.dcm": ("rt-plan.dcm", "no pixel data (RT Plan Storage)"),
    "rtstruct.dcm": ("rt-struct.dcm", "no pixel data (RT Structure Set Storage)"),
    "reportsi.dcm": ("structured-report.dcm", "no pixel data (Basic Text SR Storage)"),
    "ExplVR_LitEndNoMeta.dcm": ("rt-ion-plan-no-meta.dcm", "no pixel data (RT Ion Plan Storage)"),
    "SC_rgb_jpeg_dcmtk.dcm": ("colour-jpeg.dcm", "colour image"),
    "SC_ybr_full_422_uncompressed.dcm": ("colour-ybr.dcm", "colour image (YBR_FULL_422)"),
    "SC_rgb_rle_2frame.dcm": ("two-frames.dcm", "multi-frame image (2 frames)"),
    "no_meta.dcm": ("fragment.dcm", "not a DICOM file"),
}


def build_corpus(folder: Path) -> dict:
    """Write the corpus; returns file name -> "accept" or the words its rejection reason must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for source, target in RELABELLED_RADIOGRAPHS.items():
        _relabel_as_radiograph(PYDICOM_FILES / source, folder / target)
        expected[target] = "accept"
    for source, (target, reason) in REJECTED.items():
        shutil.copy(PYDICOM_FILES / source, folder / target)
        expected[target] = reason
    expected.update(_synthetic_files(folder))
    return expected


def _relabel_as_radiograph(source, target, **attributes):
    ds = pydicom.dcmread(source)
    ds.Modality = "DX"
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[target.name])
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.save_as(target)


def _synthetic_files(folder):
    rng = np.random.default_rng(7)
    pixels = render_chest(rng, 64, 80, {"cardiomegaly"})
    expected = {}
    write_dicom(folder / "monochrome1.dcm", pixels, 7, 1, True, rng)
    expected["monochrome1.dcm"] = "accept"

    ds = _synthetic(pixels, rng, folder / "scratch.dcm", index=2)
    ds.PatientName, ds.PatientBirthDate, ds.InstitutionName = "Doe^Jane", "19700101", "General Hospital"
    ds.save_as(folder / "identified.dcm")
    expected["identified.dcm"] = "accept"  # imported only because the test passes --deidentify

    ds = _synthetic(pixels, rng, folder / "scratch.dcm", index=3)
    ds.save_as(folder / "no-meta-header.dcm", enforce_file_format=False)  # no preamble, no file meta
    expected["no-meta-header.dcm"] = "accept"

    expected["jpeg-baseline-8bit.dcm"] = "accept"
    _jpeg_baseline(pixels, rng, folder)

    ds = _synthetic(pixels, rng, folder / "scratch.dcm", index=5)
    ds.Modality = "OT"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage
    ds.save_as(folder / "secondary-capture.dcm")
    expected["secondary-capture.dcm"] = "accept"

    whole = (folder / "monochrome1.dcm").read_bytes()
    (folder / "truncated.dcm").write_bytes(whole[: len(whole) // 2])
    expected["truncated.dcm"] = "truncated file"

    _relabel_as_radiograph(PYDICOM_FILES / "JPEG-lossy.dcm", folder / "undecodable-jpeg.dcm")
    expected["undecodable-jpeg.dcm"] = "pixel data will not decode"

    (folder / "notes.txt").write_text("Reader study notes: not an image.\n")
    expected["notes.txt"] = "not a DICOM file"
    buffer = io.BytesIO()
    Image.fromarray((pixels >> 4).astype(np.uint8)).save(buffer, format="PNG")
    (folder / "screenshot.png").write_bytes(buffer.getvalue())
    expected["screenshot.png"] = "not a DICOM file"
    (folder / "scratch.dcm").unlink()
    return expected


def _synthetic(pixels, rng, path, index):
    write_dicom(path, pixels, 7, index, False, rng)
    return pydicom.dcmread(path)


def _jpeg_baseline(pixels, rng, folder):
    """An 8-bit greyscale radiograph compressed as JPEG baseline by Pillow."""
    ds = _synthetic(pixels, rng, folder / "scratch.dcm", index=4)
    eight_bit = (pixels >> 4).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(eight_bit).save(buffer, format="JPEG", quality=95)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.WindowCenter, ds.WindowWidth = 128, 256
    del ds.WindowCenterWidthExplanation
    ds.PixelData = encapsulate([buffer.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.LossyImageCompression = "01"
    ds.save_as(folder / "jpeg-baseline-8bit.dcm")
