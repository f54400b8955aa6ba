"""The DICOM file a reader receives: the stored copy with Study, Series and SOP Instance UIDs of its own.

A reader who compared headers across arms or sessions would otherwise recognise the same case. Each
assignment's file carries UIDs derived from the assignment (a keyed hash with the study's secret; SOP Class
and Transfer Syntax stay, the pixel data is unchanged) and a neutral file name. It is written the first time
the assignment's image is asked for (when the case opens, or when the case before it prefetches it), sent
by nginx in production like any stored file, and deleted once the read is submitted, so the folder holds at
most a few files per active reader.
"""

import io
import shutil

import pydicom

from readerstudy.cases.deidentification import keyed_uid
from readerstudy.core import dicom_store

SERVED_FOLDER = "served"
PER_ASSIGNMENT_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")


def relative_path(assignment, position):
    return f"{SERVED_FOLDER}/{assignment.public_id}/{position}.dcm"


def download_name(assignment, position):
    return f"{assignment.public_id}-{position}.dcm"


def served_file(assignment, position, image):
    """The relative path (in the DICOM store) of the assignment's copy of `image`, written if missing."""
    relative = relative_path(assignment, position)
    target = dicom_store.absolute_path(relative)
    if not target.exists():
        buffer = io.BytesIO()
        _with_assignment_uids(assignment, image).save_as(buffer, enforce_file_format=True)
        dicom_store.write_atomically(target, buffer.getvalue())
    return relative


def _with_assignment_uids(assignment, image):
    dataset = pydicom.dcmread(dicom_store.absolute_path(image.stored_path))
    key = assignment.study.image_key.encode()
    for keyword in PER_ASSIGNMENT_UIDS:
        if keyword in dataset:
            original = dataset.data_element(keyword).value
            setattr(dataset, keyword, keyed_uid(f"{assignment.public_id}:{original}", key))
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    return dataset


def discard(assignment):
    """The assignment's files go once its read is submitted (or the assignment revoked)."""
    shutil.rmtree(dicom_store.absolute_path(f"{SERVED_FOLDER}/{assignment.public_id}"), ignore_errors=True)
