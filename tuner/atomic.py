"""Writes that nobody sees half done: a file or folder appears complete, or not at all.

Everything is written to a private temporary path beside its destination, given the
usual mode, then renamed onto it — so a reader, a concurrent process or a process killed
mid-write never meets a partial file, and bad input leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path


def umask() -> int:
    """The process umask; temporary files and folders are private, published ones aren't."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` to `path` through a temporary file beside it."""
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


@contextlib.contextmanager
def staged_dir(out: str | Path) -> Iterator[Path]:
    """A temporary folder beside `out`, to fill in the `with` block; published as `out`
    when the block ends without an error, removed when it raises. An existing `out` is
    moved aside, replaced, then deleted — and put back if the replacing rename fails."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        yield tmp
        mask = umask()
        for path in [tmp, *tmp.rglob("*")]:  # mkdtemp made it private
            if not path.is_symlink():
                os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~mask)
        _publish(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _publish(tmp: Path, out: Path) -> None:
    if not out.exists():
        os.rename(tmp, out)
        return
    old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
