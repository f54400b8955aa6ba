"""Malformed input from a browser or a hand-made request gets a 4xx that says why, never a 500, and leaves
nothing half-written: case archives, reading-API bodies and the study page's choices."""

import io
import json
import struct
import uuid
import zipfile

import pytest
from django.urls import reverse

from readerstudy.api import parsers
from readerstudy.models import Arm, Case, CaseImage, ImportBatch, Read, ReadingSession, TimingEvent
from tests.factories import CaseFactory, CaseSetFactory, StudyFactory
from tests.reading_setup import open_study_with_assignments
from tests.test_ingest_upload import upload

pytestmark = pytest.mark.django_db


# --- case archives ------------------------------------------------------------------------------------------


def zip_of(*names):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, b"DICM")
    return buffer.getvalue()


def encrypted(data):
    """The archive with its members flagged as encrypted (general-purpose bit 0) in the local and the central
    headers, as a password-protecting zip tool writes them; zipfile then refuses to read them without one."""
    patched = bytearray(data)
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = patched.find(signature)
        while start != -1:
            flags = struct.unpack_from("<H", patched, start + flags_at)[0]
            struct.pack_into("<H", patched, start + flags_at, flags | 0x1)
            start = patched.find(signature, start + 4)
    return bytes(patched)


def test_the_encrypted_archive_of_these_tests_is_one_zipfile_cannot_read():
    with zipfile.ZipFile(io.BytesIO(encrypted(zip_of("case/frontal.dcm")))) as archive:
        with pytest.raises(RuntimeError, match="is encrypted, password required"):
            archive.read("case/frontal.dcm")


LONG_NAME = "a" * 300 + ".dcm"


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        (zip_of("a", "a/b.dcm"), "a: the archive holds both a file and a folder of this name"),
        (zip_of("a/b.dcm", "a"), "a: the archive holds both a file and a folder of this name"),
        (zip_of("case/frontal.dcm", LONG_NAME), "a" * 60 + "…: a file or folder name is longer than 255 bytes"),
        (zip_of("a/" * 600 + "b.dcm"), "a/" * 30 + "…: the path is longer than 1024 bytes"),
        (
            encrypted(zip_of("case/frontal.dcm")),
            "case/frontal.dcm: the file is encrypted (password-protected); upload an archive without a password",
        ),
        (zip_of("."), "“.”: a member without a file name"),
    ],
    ids=["file-then-folder", "folder-then-file", "long-name", "long-path", "encrypted", "no-name"],
)
def test_an_archive_that_cannot_be_unpacked_is_refused_with_its_reason_and_nothing_is_kept(
    client, admin_user, dicom_store, settings, tmp_path, archive, message
):
    settings.DATA_DIR = tmp_path  # the scratch folder of the upload is made here
    client.force_login(admin_user)
    response = upload(client, archive)
    assert response.status_code == 400
    assert response.context["problems"] == [message]
    assert message in response.content.decode()
    assert (Case.objects.count(), CaseImage.objects.count(), ImportBatch.objects.count()) == (0, 0, 0)
    assert list(tmp_path.iterdir()) == []  # the scratch folder is gone
    assert not dicom_store.exists()


# --- reading-API bodies -------------------------------------------------------------------------------------


@pytest.fixture
def assignment(reader, client):
    _, assignments = open_study_with_assignments(CaseSetFactory(cases=[CaseFactory()]), reader, arms=[Arm.UNAIDED])
    client.force_login(reader)
    return assignments[Arm.UNAIDED]


def events_url(assignment):
    return reverse("api-events", args=[assignment.public_id])


DEEP = 50_000


@pytest.mark.parametrize(
    "body", ["[" * DEEP + "]" * DEEP, '{"a":' * DEEP + "1" + "}" * DEEP], ids=["arrays", "objects"]
)
def test_a_body_nested_50000_levels_deep_is_a_400_and_stores_nothing(client, assignment, body):
    response = client.post(events_url(assignment), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - nested deeper than 32 levels"}
    assert TimingEvent.objects.count() == 0


def test_a_recursion_error_while_parsing_is_a_400_too(client, assignment, monkeypatch):
    monkeypatch.setattr(parsers, "MAX_DEPTH", 10 * DEEP)  # past the scan, into json's own recursion
    response = client.post(events_url(assignment), "[" * DEEP + "]" * DEEP, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - nested too deep"}


def test_brackets_and_escaped_quotes_inside_text_are_text_not_nesting(client, assignment):
    text = 'He wrote \\"[[[ and {{{' + "[" * 100
    body = json.dumps({"report_findings": text, "report_impression": "]" * 100})
    response = client.put(reverse("api-draft", args=[assignment.public_id]), body, content_type="application/json")
    assert response.status_code == 200
    assert Read.objects.get(assignment=assignment).report_findings == text


@pytest.mark.parametrize(
    ("text", "deeper"),
    [
        ('[[["[[[[{{{{"]]]', False),
        ('[[["\\"[["]]]', False),
        ('[[["\\\\"[]]]]', True),  # an escaped backslash ends the string: the bracket after it counts
        ('"[[[[', False),  # an unterminated string runs to the end
    ],
)
def test_the_depth_scan_skips_strings_and_their_escapes(text, deeper):
    assert parsers.nested_deeper_than(text, 3) is deeper


def test_the_workstations_deepest_body_is_well_inside_the_limit(client, assignment):
    event = {
        "uuid": str(uuid.uuid4()),
        "page_load_id": str(uuid.uuid4()),
        "type": "input",
        "client_ms": 1.0,
        "payload": {"a": {"b": {"c": [[1]]}}},
    }
    response = client.post(events_url(assignment), {"events": [event]}, content_type="application/json")
    assert response.status_code == 200
    assert TimingEvent.objects.get().payload == {"a": {"b": {"c": [[1]]}}}


# --- the study page's choices -------------------------------------------------------------------------------


@pytest.fixture
def draft(coordinator):
    return StudyFactory(case_set=CaseSetFactory(cases=[CaseFactory()]), team=[coordinator])


@pytest.mark.parametrize(
    ("readers", "message"),
    [
        (["abc"], "There is no reader “abc”: choose readers from the list."),
        (["999999"], "There is no reader “999999”: choose readers from the list."),
    ],
)
@pytest.mark.parametrize("create", [False, True], ids=["preview", "create"])
def test_readers_that_are_not_on_the_list_are_a_400_with_the_reason(
    client, coordinator, reader, draft, readers, message, create
):
    client.force_login(coordinator)
    data = {"readers": [reader.pk, *readers], **({"create": "1"} if create else {})}
    response = client.post(reverse("study-add-readers", args=[draft.pk]), data)
    assert response.status_code == 400
    assert [str(m) for m in response.context["messages"]] == [message]
    assert message in response.content.decode()
    assert not draft.assignments.exists() and not ReadingSession.objects.exists()


@pytest.fixture
def free_form():
    return StudyFactory(case_set=CaseSetFactory(cases=[CaseFactory()]), is_free_form=True)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("reader", "abc", "There is no reader “abc”: choose a reader from the list."),
        ("reader", "", "Choose a reader."),
        ("case_set", "abc", "There is no case set “abc”: choose a case set from the list."),
    ],
)
def test_a_reader_or_case_set_not_on_the_list_is_a_400_with_the_reason(
    client, admin_user, reader, free_form, field, value, message
):
    client.force_login(admin_user)
    data = {"reader": reader.pk, "case_set": free_form.case_set.pk, "arm": "UNAIDED", field: value}
    response = client.post(reverse("study-assign-case-set", args=[free_form.pk]), data)
    assert response.status_code == 400
    assert [str(m) for m in response.context["messages"]] == [message]
    assert message in response.content.decode()
    assert not ReadingSession.objects.exists()
