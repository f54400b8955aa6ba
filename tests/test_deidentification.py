"""De-identification by the PS3.15 basic profile: the check that refuses identified files, and a file with every
attribute of the profile's table, imported with --deidentify, walked against the table afterwards."""

import pydicom
import pytest
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.tag import Tag

from readerstudy.cases.deidentification import RETAINED_CHARACTERISTICS, TABLE, identifying_attributes_present
from readerstudy.cases.ingest import IngestOptions, import_cases
from readerstudy.models import Case, CaseImage
from tests.test_ingest import first_file

pytestmark = pytest.mark.django_db

SEVEN = [
    "AdmissionID",
    "AdmittingDiagnosesDescription",
    "CurrentPatientLocation",
    "IssuerOfAccessionNumberSequence",
    "PatientTelecomInformation",
    "RegionOfResidence",
    "ServiceEpisodeID",
]
REMOVE, EMPTY, REPLACE = "X", "Z", "D"
# PS3.15 E.1: D replaces with a dummy value; Z empties or replaces with a dummy; X removes; U replaces a UID.
CATEGORY_ACTIONS = {
    "D_TAGS": {REPLACE},
    "Z_TAGS": {EMPTY, REPLACE},
    "X_TAGS": {REMOVE},
    "U_TAGS": {REPLACE},
    "Z_D_TAGS": {EMPTY, REPLACE},
    "X_Z_TAGS": {REMOVE, EMPTY, REPLACE},
    "X_D_TAGS": {REMOVE, REPLACE},
    "X_Z_D_TAGS": {REMOVE, EMPTY, REPLACE},
    "X_Z_U_STAR_TAGS": {REMOVE, EMPTY, REPLACE},
}
# A value for each VR that the profile's attributes take (text within each VR's length limit).
VALUES = {
    "PN": "Doe^Jane",
    "LO": "SECRET LONG",
    "SH": "SECRET",
    "LT": "SECRET TEXT",
    "ST": "SECRET TEXT",
    "UT": "SECRET TEXT",
    "UC": "SECRET",
    "CS": "SECRET",
    "AE": "SECRETAE",
    "DA": "19700101",
    "TM": "101010",
    "DT": "19700101101010",
    "AS": "045Y",
    "DS": "1.5",
    "IS": "7",
    "US": 7,
    "SS": 7,
    "UL": 7,
    "SL": 7,
    "FD": 1.5,
    "FL": 1.5,
    "UR": "http://hospital.example/secret",
    "UI": "1.2.826.0.1.3680043.8.498.1",
}


def table_actions():
    """{tag: the actions Table E.1-1 allows} for the single (not repeating-group) attributes."""
    actions = {}
    for category, allowed in CATEGORY_ACTIONS.items():
        for tag in TABLE[category]:
            if len(tag) == 2:
                actions.setdefault(Tag(*tag), set()).update(allowed)
    return actions


def fully_identified(path):
    """A valid synthetic DX file carrying every attribute of the table that has a plain value, an item with a
    name in every sequence the table lists, and the seven that a hand-written list once missed."""
    ds = pydicom.dcmread(path)
    for tag in table_actions():
        if tag.group in (0x0000, 0x0002) or tag in ds and tag in (Tag("SOPClassUID"), Tag("SOPInstanceUID")):
            continue
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            continue
        if vr == "SQ":
            item = Dataset()
            item.PatientName = "Doe^Jane"
            ds.add_new(tag, vr, [item])
        elif vr in VALUES and tag not in ds:
            ds.add_new(tag, vr, VALUES[vr])
    for keyword in ("PatientSex", "PatientAge", "PatientSize", "PatientWeight"):
        setattr(
            ds,
            keyword,
            {"PatientSex": "F", "PatientAge": "045Y", "PatientSize": "1.62", "PatientWeight": "58"}[keyword],
        )
    return ds


def test_the_seven_attributes_are_refused_without_deidentify_and_gone_with_it(synthetic_dir, tmp_path, dicom_store):
    ds = pydicom.dcmread(first_file(synthetic_dir))
    ds.AdmissionID, ds.AdmittingDiagnosesDescription = "ADM-99", "RIGHT PNEUMOTHORAX"
    ds.CurrentPatientLocation, ds.PatientTelecomInformation = "WARD 7", "tel:+44-000"
    ds.RegionOfResidence, ds.ServiceEpisodeID = "NORTH", "EP-5"
    issuer = Dataset()
    issuer.LocalNamespaceEntityID = "HOSPITAL-A"
    ds.IssuerOfAccessionNumberSequence = [issuer]
    (tmp_path / "in" / "case").mkdir(parents=True)
    ds.save_as(tmp_path / "in" / "case" / "image.dcm")

    assert identifying_attributes_present(ds) == SEVEN
    refused = import_cases(tmp_path / "in", IngestOptions("demo"))
    assert refused.rejected == [
        (
            "case/image.dcm",
            f"identifying attributes present ({', '.join(SEVEN)}); import with --deidentify or --allow-identified",
        )
    ]
    assert "PNEUMOTHORAX" not in str(refused.rejected)

    imported = import_cases(tmp_path / "in", IngestOptions("demo", deidentify=True))
    assert len(imported.created) == 1
    stored_bytes = (dicom_store / CaseImage.objects.get().stored_path).read_bytes()
    stored = pydicom.dcmread(dicom_store / CaseImage.objects.get().stored_path)
    assert [keyword for keyword in SEVEN if keyword in stored] == []
    for value in ("ADM-99", "PNEUMOTHORAX", "WARD 7", "tel:+44-000", "NORTH", "EP-5", "HOSPITAL-A"):
        assert value.encode() not in stored_bytes

    # The same file again: the same keyed UIDs, the same stored bytes, recognised as already there.
    again = import_cases(tmp_path / "in", IngestOptions("demo", deidentify=True))
    assert (again.created, [source for source, _ in again.existing]) == ([], ["case"])
    assert Case.objects.count() == CaseImage.objects.count() == 1


def test_a_deidentified_file_keeps_nothing_the_table_removes_or_replaces(synthetic_dir, tmp_path, dicom_store):
    original = fully_identified(first_file(synthetic_dir))
    (tmp_path / "in" / "case").mkdir(parents=True)
    original.save_as(tmp_path / "in" / "case" / "image.dcm")
    report = import_cases(tmp_path / "in", IngestOptions("demo", deidentify=True))
    assert report.rejected == [] and len(report.created) == 1
    stored = pydicom.dcmread(dicom_store / CaseImage.objects.get().stored_path)

    walked = 0
    for tag, allowed in table_actions().items():
        keyword = keyword_for_tag(tag)
        if tag not in original or keyword in RETAINED_CHARACTERISTICS or tag.group in (0x0000, 0x0002):
            continue
        walked += 1
        kept = stored.get(tag)
        if kept is None:
            assert REMOVE in allowed, keyword
        elif kept.is_empty:
            assert EMPTY in allowed or REMOVE in allowed, keyword
        else:
            assert REPLACE in allowed and kept.value != original[tag].value, keyword
    assert walked > 300  # most of the table was in the file
    assert [str(stored.get(keyword)) for keyword in RETAINED_CHARACTERISTICS] == ["F", "045Y", "1.62", "58"]
    assert not any(element.tag.is_private for element in stored.iterall())
    assert not any(element.VR == "PN" and "Doe" in str(element.value) for element in stored.iterall())
    assert stored.PatientIdentityRemoved == "YES"
    assert stored.SOPClassUID == original.SOPClassUID and stored.SOPInstanceUID != original.SOPInstanceUID
