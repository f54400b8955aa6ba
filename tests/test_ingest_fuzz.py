"""Acceptance: a 1,000-file batch made by mutating valid files imports every valid file and rejects every other
with a reason, with no traceback, and leaves exactly the rows and stored files of what it imported."""

import random
import struct

import pytest
from django.core.management import CommandError, call_command

from readerstudy.cases.ingest import IngestOptions, import_cases
from readerstudy.models import CaseImage
from tooling.synthetic.cases import make_synthetic_cases

pytestmark = pytest.mark.django_db

VALID = 20
TOTAL = 1_000


def flip_bit(data, start, end, rng):
    damaged = bytearray(data)
    position = rng.randrange(start, min(end, len(data)))
    damaged[position] ^= 1 << rng.randrange(8)
    return bytes(damaged)


def wrong_transfer_syntax(data, rng):
    """The meta header names another encoding than the data's (UIDs of the same length, so nothing shifts)."""
    declared = b"1.2.840.10008.1.2.1\0"  # Explicit VR Little Endian, as the synthetic files are written
    assert declared in data[:400]
    other = rng.choice([b"1.2.840.10008.1.2.2\0", b"1.2.840.10008.1.2.5\0", b"1.2.840.10008.1.2.9\0"])
    return data.replace(declared, other, 1)


def length_past_the_end(data, meta_end, rng):
    """Four bytes somewhere in the body (an element's length, if they fall on one) made to declare far more
    than the file holds."""
    damaged = bytearray(data)
    position = rng.randrange(meta_end, len(data) - 4)
    damaged[position : position + 4] = struct.pack("<I", len(data) * 4)
    return bytes(damaged)


def mutants(originals, rng):
    """980 damaged files, six kinds in turn."""
    for n in range(TOTAL - VALID):
        path = originals[n % VALID]
        data = path.read_bytes()
        meta_end = 132 + struct.unpack("<I", data[140:144])[0] + 12  # preamble, DICM, group length element
        kind = n % 6
        if kind == 0:
            yield "meta-bit-flip", flip_bit(data, 132, meta_end, rng)
        elif kind == 1:
            yield "body-bit-flip", flip_bit(data, meta_end, len(data), rng)
        elif kind == 2:
            yield "truncated", data[: rng.randrange(0, len(data) - 1)]
        elif kind == 3:
            yield "wrong-transfer-syntax", wrong_transfer_syntax(data, rng)
        elif kind == 4:
            yield "length-past-end", length_past_the_end(data, meta_end, rng)
        else:
            yield "empty", b""


def test_every_file_of_a_mutated_batch_gets_a_verdict_and_nothing_half_written(tmp_path, dicom_store, capsys):
    make_synthetic_cases(tmp_path / "valid", count=VALID, seed=3, size=(48, 60))
    originals = sorted((tmp_path / "valid").rglob("*.dcm"))
    batch = tmp_path / "batch"
    batch.mkdir()
    # Originals first (file names sort before the mutants), so a mutant that is still valid DICOM meets an
    # original already imported under its SOP Instance UID.
    for n, path in enumerate(originals):
        (batch / f"a-{n:03d}.dcm").write_bytes(path.read_bytes())
    kinds = {}
    for n, (kind, data) in enumerate(mutants(originals, random.Random(5))):
        name = f"m-{n:04d}-{kind}.dcm"
        (batch / name).write_bytes(data)
        kinds[name] = kind
    assert len(list(batch.iterdir())) == TOTAL

    with pytest.raises(CommandError):
        call_command("import_cases", str(batch), "--case-set", "fuzz")
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err

    report = import_cases(batch, IngestOptions("fuzz"))  # again: the same verdicts, nothing added
    created_before = CaseImage.objects.count()
    verdicts = {source: "existing" for source, _ in report.existing}
    verdicts |= {name.split("/")[0]: f"rejected: {reason}" for name, reason in report.rejected}
    assert len(verdicts) == TOTAL and all(verdict.strip() for verdict in verdicts.values())
    assert [f"a-{n:03d}.dcm" for n in range(VALID)] == sorted(
        name for name, verdict in verdicts.items() if name.startswith("a-") and verdict == "existing"
    )
    for name, kind in kinds.items():
        if kind in ("empty", "truncated", "meta-bit-flip", "wrong-transfer-syntax"):
            assert verdicts[name].startswith("rejected: ") or verdicts[name] == "existing", name
    assert all(verdicts[name].startswith("rejected: ") for name, kind in kinds.items() if kind == "empty")

    # Rows and stored files match: one stored file per imported image, nothing from a rejected file.
    stored = sorted(str(p.relative_to(dicom_store)) for p in dicom_store.rglob("*.dcm"))
    assert stored == sorted(CaseImage.objects.values_list("stored_path", flat=True))
    assert created_before == CaseImage.objects.count() >= VALID
    assert not list(dicom_store.rglob(".incoming-*"))
