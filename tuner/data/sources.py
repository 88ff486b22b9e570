"""Opening source files: existence, emptiness and format detection, shared by all readers."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from tuner.errors import DataError

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".data": "csv",
    ".test": "csv",
    ".libsvm": "libsvm",
    ".svm": "libsvm",
    ".svmlight": "libsvm",
}


def check_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError("no such file", where=path)
    if path.is_dir():
        raise DataError("is a directory, expected a file", where=path)
    if path.stat().st_size == 0:
        raise DataError("the file is empty", where=path)
    return path


def detect_format(path: Path, given: str | None) -> str:
    if given:
        return given
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"cannot tell the format from the extension '{path.suffix}'",
            where=path,
            hint="pass --format csv or --format libsvm",
        )
    return fmt


def umask() -> int:
    """The process umask; temporary files and folders are private, published ones aren't."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write a file so that a reader (or a process killed mid-write) never sees it half
    written: a private temporary file beside it, given the usual mode, renamed onto it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
