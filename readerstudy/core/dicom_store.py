"""The content-addressed store of normalised DICOM files under DATA_DIR (what the viewer loads)."""

import os
import tempfile
from pathlib import Path

from django.conf import settings


def store_root() -> Path:
    return Path(settings.DICOM_STORE_DIR)


def relative_path_for(sha256: str) -> str:
    # Two levels of fan-out keep directories small with hundreds of thousands of images.
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}.dcm"


def absolute_path(relative_path: str) -> Path:
    return store_root() / relative_path


def put(data: bytes, sha256: str) -> tuple[str, bool]:
    """Write `data` under its hash; returns (relative path, whether this call created the file).

    The file appears atomically (temp file + rename), so a crash never leaves a partial image behind.
    """
    relative = relative_path_for(sha256)
    target = absolute_path(relative)
    if target.exists():
        return relative, False
    write_atomically(target, data)
    return relative, True


def write_atomically(target: Path, data: bytes) -> None:
    """Temp file and rename, so no reader ever sees half a file. Files 0640 and folders 0750: readable by
    nginx's workers, which send the files under X-Accel-Redirect, through the group (README: Production)."""
    _make_folders(target.parent)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, 0o640)  # mkstemp makes 0600
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _make_folders(folder: Path) -> None:
    """`mkdir -p` with 0750 at every level (Path.mkdir gives the parents it makes the default mode). The umask
    still applies: a chmod would also clear the setgid bit a folder inherits from /data/dicom."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        each.mkdir(mode=0o750, exist_ok=True)


def remove(relative_path: str) -> None:
    absolute_path(relative_path).unlink(missing_ok=True)
