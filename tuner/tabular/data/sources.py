"""Opening source files: existence, emptiness and format detection, shared by all readers."""

from __future__ import annotations

import hashlib
import os
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
    if not os.access(path, os.R_OK):
        raise DataError("cannot read the file (permission denied)", where=path)
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


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
