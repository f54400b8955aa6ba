"""Unpacking an uploaded case archive safely (no paths outside the target, no links, bounded size).

Every member is checked before the first is written, so a refused archive is refused with its reason and
never half unpacked.
"""

import os
import zipfile
from pathlib import Path, PurePosixPath

from readerstudy.core.errors import Refused

# Linux file systems take at most 255 bytes per file or folder name (NAME_MAX); a case's folder name is also
# its source id, which has room for 255 characters.
MAX_NAME_BYTES = 255
# A whole member name, kept far below PATH_MAX (4096) once the scratch folder's path is put in front of it.
MAX_PATH_BYTES = 1024


class ArchiveRejected(Refused):
    pass


def extract_zip(archive, target: Path, max_bytes: int) -> Path:
    """Extract `archive` (a path or file object) into `target`; returns the folder holding the cases.

    An archive made by zipping one folder holds that folder alone: its contents are the cases.
    """
    target.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [m for m in bundle.infolist() if not m.is_dir()]
            _check_members(members, max_bytes)
            for member in members:
                destination = target.joinpath(*_parts(member))
                destination.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, open(destination, "wb") as sink:
                    _copy_bounded(source, sink, member.file_size)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as error:
        raise ArchiveRejected(f"not a readable ZIP archive ({error})") from None
    entries = [p for p in target.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return target


def _check_members(members, max_bytes):
    if not members:
        raise ArchiveRejected("the archive is empty")
    if sum(m.file_size for m in members) > max_bytes:
        raise ArchiveRejected(f"the archive unpacks to more than {max_bytes // 1024**2} MiB")
    for member in members:
        path = PurePosixPath(member.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts:
            raise ArchiveRejected(f"{member.filename}: path leaves the archive")
        if (member.external_attr >> 16) & 0o170000 == 0o120000:
            raise ArchiveRejected(f"{member.filename}: symbolic links are not accepted")
        if member.flag_bits & 0x1:
            raise ArchiveRejected(
                f"{member.filename}: the file is encrypted (password-protected); upload an archive without a password"
            )
        _check_name_length(member)
    _check_layout(members)


def _parts(member):
    """The member's path below the target folder, as extraction writes it."""
    return PurePosixPath(member.filename).parts


def _check_name_length(member):
    parts = _parts(member)
    if any(len(os.fsencode(part)) > MAX_NAME_BYTES for part in parts):
        raise ArchiveRejected(
            f"{_shortened(member.filename)}: a file or folder name is longer than {MAX_NAME_BYTES} bytes"
        )
    if len(os.fsencode(member.filename)) > MAX_PATH_BYTES:
        raise ArchiveRejected(f"{_shortened(member.filename)}: the path is longer than {MAX_PATH_BYTES} bytes")


def _check_layout(members):
    """Names that cannot all be written: a file and a folder of one name, or a member that names no file."""
    files, folders = set(), set()
    for member in members:
        parts = _parts(member)
        if not parts:
            raise ArchiveRejected(f"“{member.filename}”: a member without a file name")
        files.add(parts)
        folders.update(parts[:end] for end in range(1, len(parts)))
    both = sorted(files & folders)
    if both:
        raise ArchiveRejected(f"{'/'.join(both[0])}: the archive holds both a file and a folder of this name")


def _shortened(name, keep=60):
    # A name of hundreds of characters would fill the page; its start identifies it.
    return name if len(name) <= keep else name[:keep] + "…"


def _copy_bounded(source, sink, declared_size):
    # The declared size is checked above; a member that inflates beyond it is a zip bomb.
    copied = 0
    while chunk := source.read(1024 * 1024):
        copied += len(chunk)
        if copied > declared_size:
            raise ArchiveRejected("an archive member is larger than it declares")
        sink.write(chunk)
