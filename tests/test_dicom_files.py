"""The DICOM layer of case ingest on a corpus of real-world and built files (no database)."""

import io

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian

from readerstudy.cases.deidentification import deidentify, is_identifying
from readerstudy.cases.dicom_files import RejectedFile, inspect_file, normalised_bytes, sha256_hex
from tests.dicom_corpus import EXPECTED_WARNINGS, PATIENT_NAME, PYDICOM_FILES, build_corpus, chest_like_image

# Lossless encodings of MR_small.dcm (relabelled): they must decode to its very pixels.
MR_SMALL_ENCODINGS = [
    "rle.dcm",
    "implicit-vr-cr.dcm",
    "jpeg-ls-lossless.dcm",
    "jpeg2000-lossless.dcm",
    "big-endian.dcm",
    "no-meta-big-endian.dcm",
]
# Attributes whose values, wherever else they turn up, would identify the patient or the visit.
# (Not InstitutionName: in MR_small it is "TOSHIBA", which its Manufacturer, "TOSHIBA_MEC", rightly keeps.)
PATIENT_AND_VISIT = [
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "AccessionNumber",
    "StudyID",
    "StudyDate",
    "StudyTime",
    "OperatorsName",
    "NameOfPhysiciansReadingStudy",
]
# Lossless encodings of chest_like_image(), built by the corpus.
SYNTHETIC_ENCODINGS = [
    "explicit-little-endian.dcm",
    "no-meta-implicit-vr.dcm",
    "jpeg-lossless-sv1.dcm",
    "jpeg-lossless-predictor-7.dcm",
    "identified.dcm",
    "secondary-capture.dcm",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    return folder, build_corpus(folder)


@pytest.fixture(scope="module")
def accepted(corpus):
    folder, expected = corpus
    return {name: inspect_file(folder / name) for name, outcome in expected.items() if outcome == "accept"}


def outcome_of(path):
    try:
        inspect_file(path)
    except RejectedFile as rejection:
        return str(rejection)
    return "accept"


def matches(got, want):
    return got == "accept" if want == "accept" else got != "accept" and want in got


def test_every_corpus_file_gets_its_expected_outcome(corpus):
    folder, expected = corpus
    got = {name: outcome_of(folder / name) for name in expected}  # any other exception fails the test
    assert {name: got[name] for name, want in expected.items() if not matches(got[name], want)} == {}
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)


def test_the_corpus_covers_every_encoding_and_outcome(corpus, accepted):
    _, expected = corpus
    syntaxes = {pydicom.uid.UID(inspected.transfer_syntax_uid).name for inspected in accepted.values()}
    assert len(syntaxes) == 13, syntaxes  # explicit/implicit LE, big endian, deflate, RLE, 4 JPEG, 2 JPEG-LS, 2 J2K
    assert {i.photometric_interpretation for i in accepted.values()} == {"MONOCHROME1", "MONOCHROME2"}
    assert {i.pixels.dtype.kind for i in accepted.values()} == {"u", "i"}
    assert {i.pixels.dtype.itemsize for i in accepted.values()} == {1, 2}
    reasons = {want.split(" (")[0] for want in expected.values() if want != "accept"}
    assert reasons == {
        "not a DICOM file",
        "truncated file",
        "no pixel data",
        "not a radiograph",
        "not a chest radiograph",
        "multi-frame image",
        "colour image",
        "bits stored 32 outside 8–16",
        "pixel data will not decode",
    }


def test_secondary_captures_are_accepted_with_a_warning_and_radiographs_without(accepted):
    for name, inspected in accepted.items():
        if name in EXPECTED_WARNINGS:
            assert any(EXPECTED_WARNINGS[name] in warning for warning in inspected.warnings), name
        else:
            assert inspected.warnings == [], name


def test_burned_in_annotation_is_a_warning(corpus, tmp_path):
    folder, _ = corpus
    ds = pydicom.dcmread(folder / "explicit-little-endian.dcm")
    ds.BurnedInAnnotation = "YES"
    ds.save_as(tmp_path / "annotated.dcm")
    warnings = inspect_file(tmp_path / "annotated.dcm").warnings
    assert warnings == ["burned-in annotation: the pixels may show patient data"]


def test_the_attributes_the_model_and_viewer_need_are_read(accepted):
    inspected = accepted["explicit-little-endian.dcm"]
    assert (inspected.modality, inspected.rows, inspected.columns, inspected.bits_stored) == ("DX", 80, 64, 12)
    assert (inspected.view_position, inspected.photometric_interpretation) == ("PA", "MONOCHROME2")
    assert inspected.pixel_spacing == (0.5, 0.5)  # from Imager Pixel Spacing: there is no Pixel Spacing
    assert (inspected.window_center, inspected.window_width) == (2048.0, 4096.0)
    assert inspected.transfer_syntax_uid == ExplicitVRLittleEndian
    assert accepted["implicit-vr-cr.dcm"].modality == "CR"
    assert accepted["jpeg-ls-near-lossless-8bit-no-modality.dcm"].modality == "OT"
    assert accepted["no-meta-implicit-vr.dcm"].transfer_syntax_uid == pydicom.uid.ImplicitVRLittleEndian
    assert accepted["no-meta-big-endian.dcm"].transfer_syntax_uid == pydicom.uid.ExplicitVRBigEndian


def test_normalised_copies_are_explicit_little_endian_with_the_same_pixels(accepted):
    for name, inspected in accepted.items():
        data = normalised_bytes(inspected)
        stored = pydicom.dcmread(io.BytesIO(data))
        assert data[:128] == bytes(128) and data[128:132] == b"DICM", name
        meta = stored.file_meta
        assert meta.TransferSyntaxUID == ExplicitVRLittleEndian, name
        assert (meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID) == (
            inspected.dataset.SOPClassUID,
            inspected.sop_instance_uid,
        ), name
        assert meta.ImplementationClassUID and meta.ImplementationVersionName == "READERSTUDY_1", name
        assert not stored["PixelData"].is_undefined_length, name
        assert len(stored.PixelData) == inspected.rows * inspected.columns * stored.BitsAllocated // 8, name
        assert stored.BitsAllocated in (8, 16) and stored.BitsStored == inspected.bits_stored, name
        for keyword in ("PhotometricInterpretation", "PixelRepresentation", "SOPInstanceUID"):
            assert stored[keyword].value == inspected.dataset[keyword].value, (name, keyword)
        assert stored.pixel_array.dtype.kind == inspected.pixels.dtype.kind, name
        assert np.array_equal(stored.pixel_array, inspected.pixels), name


def test_lossless_encodings_decode_to_the_pixels_of_their_source(accepted):
    mr_small = pydicom.dcmread(PYDICOM_FILES / "MR_small.dcm").pixel_array
    for name in MR_SMALL_ENCODINGS:
        assert np.array_equal(accepted[name].pixels, mr_small), name
    for name in SYNTHETIC_ENCODINGS:
        assert np.array_equal(accepted[name].pixels, chest_like_image()), name
    assert np.array_equal(accepted["monochrome1.dcm"].pixels, 4095 - chest_like_image())  # stored, not inverted


def test_a_lossy_original_is_marked_lossy_in_the_copy(accepted):
    assert "LossyImageCompression" not in accepted["jpeg-ls-near-lossless-8bit-no-modality.dcm"].dataset
    for name in ("jpeg-ls-near-lossless-8bit-no-modality.dcm", "jpeg-baseline-8bit.dcm", "jpeg-extended-12bit.dcm"):
        assert pydicom.dcmread(io.BytesIO(normalised_bytes(accepted[name]))).LossyImageCompression == "01", name
    stored = pydicom.dcmread(io.BytesIO(normalised_bytes(accepted["jpeg-lossless-sv1.dcm"])))
    assert "LossyImageCompression" not in stored


def test_normalising_is_deterministic_and_idempotent(accepted, tmp_path):
    for name, inspected in accepted.items():
        once = normalised_bytes(inspected)
        assert normalised_bytes(inspected) == once, name
        (tmp_path / name).write_bytes(once)
        assert normalised_bytes(inspect_file(tmp_path / name)) == once, name


def test_sha256_hex_is_the_hex_digest():
    assert sha256_hex(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_normalising_leaves_the_inspected_dataset_as_it_was(accepted):
    inspected = accepted["jpeg-ls-lossless.dcm"]
    normalised_bytes(inspected)
    assert inspected.dataset.file_meta.TransferSyntaxUID == pydicom.uid.JPEGLSLossless
    assert inspected.dataset["PixelData"].is_undefined_length


def test_big_endian_binary_values_are_byte_swapped(corpus, accepted):
    folder, _ = corpus
    original = pydicom.dcmread(folder / "big-endian.dcm")[0x60003000].value
    stored = pydicom.dcmread(io.BytesIO(normalised_bytes(accepted["big-endian.dcm"])))[0x60003000].value
    assert np.array_equal(np.frombuffer(stored, "<u2"), np.frombuffer(original, ">u2"))


KEY = b"test-deidentification-key"


def test_identifying_attributes_are_found_by_name_and_removed_or_replaced(corpus):
    folder, _ = corpus
    inspected = inspect_file(folder / "identified.dcm")
    assert inspected.identifying == [
        "AccessionNumber",
        "InstitutionName",
        "PatientBirthDate",
        "PatientID",
        "PatientName",
        "ReferringPhysicianIdentificationSequence",
        "StudyDate",
    ]

    ds = inspected.dataset
    uid = str(ds.SOPInstanceUID)
    deidentify(ds, KEY)
    assert "ReferringPhysicianIdentificationSequence" not in ds  # the table removes it, items and all
    assert not any(element.tag.is_private for element in ds.iterall())
    assert ds.PatientIdentityRemoved == "YES" and str(ds.SOPInstanceUID) != uid
    stored = normalised_bytes(inspected)
    for value in (PATIENT_NAME, "MRN-0042", "19700101", "ACC-77", "General Hospital", uid):
        assert value.encode() not in stored


def test_deidentifying_real_world_files_leaves_no_identifying_value(accepted, corpus):
    folder, _ = corpus
    for name in ("jpeg-extended-12bit.dcm", "implicit-vr-cr.dcm", "deflated-secondary-capture.dcm"):
        inspected = inspect_file(folder / name)
        assert "PatientName" in inspected.identifying, name
        values = {str(inspected.dataset[k].value) for k in PATIENT_AND_VISIT if k in inspected.identifying}
        deidentify(inspected.dataset, KEY)
        stored = pydicom.dcmread(io.BytesIO(normalised_bytes(inspected)))
        assert np.array_equal(stored.pixel_array, accepted[name].pixels), name
        kept = [str(element.value) for element in stored.iterall() if element.VR not in ("OB", "OW", "SQ")]
        assert not any(len(value) > 3 and value in text for value in values for text in kept), name


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom, reading the damaged files directly, warns
def test_rejection_reasons_name_no_patient_data(corpus):
    folder, expected = corpus
    for name, want in expected.items():
        if want == "accept" or not name.endswith(".dcm"):
            continue
        reason = outcome_of(folder / name)
        try:
            ds = pydicom.dcmread(folder / name, force=True)
            values = [str(element.value) for element in ds if is_identifying(element)]
        except Exception:  # pydicom cannot read it either: nothing to leak
            continue
        assert not any(len(value) > 3 and value in reason for value in values), (name, reason)


@pytest.mark.parametrize(
    "name",
    [
        "explicit-little-endian.dcm",
        "no-meta-implicit-vr.dcm",
        "jpeg-lossless-sv1.dcm",
        "rle.dcm",
        "big-endian.dcm",
        "deflated-secondary-capture.dcm",
    ],
)
def test_cut_or_corrupted_files_only_ever_raise_rejected_file(corpus, tmp_path, name):
    whole = (corpus[0] / name).read_bytes()
    rng = np.random.default_rng(11)
    variants = [whole[:cut] for cut in np.linspace(0, len(whole) - 1, 25, dtype=int)]
    for position in rng.integers(0, len(whole), 25):
        damaged = bytearray(whole)
        damaged[position : position + 4] = rng.bytes(4)
        variants.append(bytes(damaged))
    for data in variants:
        (tmp_path / "damaged.dcm").write_bytes(data)
        outcome_of(tmp_path / "damaged.dcm")  # an exception other than RejectedFile fails the test


def test_files_cut_inside_the_pixel_data_are_rejected_as_truncated(corpus, tmp_path):
    whole = (corpus[0] / "explicit-little-endian.dcm").read_bytes()
    for cut in range(len(whole) - 80 * 64 * 2 + 1, len(whole), 997):
        (tmp_path / "cut.dcm").write_bytes(whole[:cut])
        assert outcome_of(tmp_path / "cut.dcm") == "truncated file", cut
