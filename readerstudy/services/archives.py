"""Unpacking an uploaded case archive safely (no paths outside the target, no links, bounded size)."""

import zipfile
from pathlib import Path, PurePosixPath


class ArchiveRejected(Exception):
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
                destination = target.joinpath(*PurePosixPath(member.filename).parts)
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


def _copy_bounded(source, sink, declared_size):
    # The declared size is checked above; a member that inflates beyond it is a zip bomb.
    copied = 0
    while chunk := source.read(1024 * 1024):
        copied += len(chunk)
        if copied > declared_size:
            raise ArchiveRejected("an archive member is larger than it declares")
        sink.write(chunk)
