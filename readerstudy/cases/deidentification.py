"""De-identification by the DICOM PS3.15 Basic Application Level Confidentiality Profile (no database here).

The profile's attribute table (PS3.15 Table E.1-1) and its actions come from dicom-anonymizer, a maintained
library that ships the table; this module only chooses the options:
- the Retain Patient Characteristics Option: sex, age, size and weight stay (they describe the study
  population and a reader judges a chest film with them);
- IssuerOfAccessionNumberSequence, which the table does not list, goes too, with every private tag;
- UIDs are replaced by a keyed hash of the original (the library's replacement is random), with a secret per
  installation, so re-importing the same file gives the same stored file and is recognised as a duplicate;
- the table is applied to every nested sequence item too.

identifying_attributes_present() is the check that refuses identified files without --deidentify: the
table's rows that identify a person, a visit or an institution (names, IDs, dates, addresses, telephone
numbers, accession and admission numbers, locations, diagnoses, other free text about the patient) and every
person name, but not UIDs and not study and series descriptions. It names attributes, never their values.
"""

import hashlib
import hmac

import pydicom
from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector
from dicomanonymizer.simpledicomanonymizer import anonymize_dataset, initialize_actions, keep
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

TABLE_VERSION = "dicomfields_2026c"  # dicom-anonymizer's copy of Table E.1-1 (the 2026c edition)
TABLE = dicom_anonymization_database_selector(TABLE_VERSION)
RETAINED_CHARACTERISTICS = ("PatientSex", "PatientAge", "PatientSize", "PatientWeight")
ALSO_REMOVED = ("IssuerOfAccessionNumberSequence",)
NOT_ABOUT_THE_PATIENT = ("StudyDescription", "SeriesDescription")
DEIDENTIFICATION_METHOD = "PS3.15 basic profile; patient characteristics kept; UIDs hashed"  # LO: ≤ 64


def _tag(keyword):
    tag = pydicom.datadict.tag_for_keyword(keyword)
    return (tag >> 16, tag & 0xFFFF)


UID_TAGS = frozenset(TABLE["U_TAGS"])
# X/Z/U*: sequences that reference other instances by UID; removing them is one of the actions allowed.
UID_SEQUENCE_TAGS = frozenset(TABLE["X_Z_U_STAR_TAGS"])
IDENTIFYING_TAGS = frozenset(
    tag
    for tag in TABLE["ALL_TAGS"]
    if len(tag) == 2
    and tag not in UID_TAGS | UID_SEQUENCE_TAGS
    and tag not in {_tag(keyword) for keyword in RETAINED_CHARACTERISTICS + NOT_ABOUT_THE_PATIENT}
) | {_tag(keyword) for keyword in ALSO_REMOVED}


def keyed_uid(uid, key: bytes) -> str:
    """A UID under the 2.25 root (PS3.5 B.2) from the first 128 bits of an HMAC of the original: the same UID
    and key always give the same result, and nobody without the key can tell which UID it came from."""
    digest = hmac.new(key, str(uid).encode(), hashlib.sha256).digest()[:16]
    return f"2.25.{int.from_bytes(digest, 'big')}"


def _replace_uid(key):
    def replace_uid(dataset, tag):
        element = dataset.get(tag)
        if element is None or element.is_empty:
            return
        if element.VR == "SQ":  # not a UID where the table expects one: nothing to hash, so it goes
            del dataset[tag]
        elif isinstance(element.value, MultiValue):
            element.value = [keyed_uid(value, key) for value in element.value]
        else:
            element.value = keyed_uid(element.value, key)

    return replace_uid


def _remove(dataset, tag):
    """X: remove. (The library's X leaves a dummy date in a date attribute; the profile removes it.)"""
    if tag in dataset:
        del dataset[tag]


def _rules(key):
    rules = initialize_actions(TABLE_VERSION)
    rules.update({tag: _remove for tag in TABLE["X_TAGS"]})
    rules.update({tag: _replace_uid(key) for tag in UID_TAGS})
    rules.update({tag: _remove for tag in UID_SEQUENCE_TAGS})
    rules.update({_tag(keyword): keep for keyword in RETAINED_CHARACTERISTICS})
    rules.update({_tag(keyword): _remove for keyword in ALSO_REMOVED})
    return rules


def deidentify(dataset: Dataset, key: bytes) -> None:
    """Apply the profile in place, to every nested item too, and record it in the dataset."""
    rules = _rules(key)
    _anonymize_tree(dataset, rules)
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = DEIDENTIFICATION_METHOD


def _anonymize_tree(dataset, rules):
    anonymize_dataset(dataset, extra_anonymization_rules=rules, delete_private_tags=True, base_rules_gen=lambda: {})
    for element in list(dataset):
        if element.VR == "SQ":
            for item in element.value:
                _anonymize_tree(item, rules)


def is_identifying(element):
    # Every person name is someone's: observers, creators and physicians the table names by role too.
    return (element.tag.group, element.tag.element) in IDENTIFYING_TAGS or element.VR == "PN"


def identifying_attributes_present(dataset) -> list[str]:
    """Keywords of identifying attributes that hold a value, nested ones too (the names, never the values)."""
    found = {
        element.keyword or str(element.tag)
        for element in dataset.iterall()
        if is_identifying(element) and not element.is_empty
    }
    return sorted(found)
