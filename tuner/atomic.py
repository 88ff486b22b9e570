"""Writes that nobody sees half done: a file or folder appears complete, or not at all.

Everything is written to a private temporary path beside its destination, given the
usual mode, then renamed onto it — so a reader, a concurrent process or a process killed
mid-write never meets a partial file, and bad input leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path


def umask() -> int:
    """The process umask; temporary files and folders are private, published ones aren't."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def staged_file(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` for a writer that wants a file name (pandas'
    to_csv, say); renamed onto `path` when the block ends without an error, removed
    otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` to `path` through a temporary file beside it."""
    with staged_file(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def writable_folder(path: str | Path, what: str) -> Path:
    """Make sure files can be written in folder `path` (created with its parents if
    missing), before anything is: a results folder or export target on a read-only file
    system (which stops root too, unlike permissions) or that is a file is one
    ConfigError naming the option, not a traceback from deep inside a sweep."""
    from tuner.errors import ConfigError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what} {path}: not a folder", hint="it is a file; give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(
            f"{what} {path}: cannot write there: {exc.strerror or exc}",
            hint="give a folder on a writable file system",
        ) from None
    return path


STAGING = "staging"  # .NAME.staging-HOST-PID-xxxxxxxx: the folder being filled
REPLACED = "old"  # .NAME.old-HOST-PID-xxxxxxxx: the folder being replaced, until deleted


def _tag(out: Path, kind: str) -> str:
    """The name prefix that says whose temporary folder this is: target, host and pid."""
    return f".{out.name}.{kind}-{socket.gethostname()}-{os.getpid()}-"


def _owner_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale(out: str | Path) -> list[Path]:
    """Remove the temporary folders beside `out` that a killed process left (SIGKILL and
    power loss run no clean-up): those for the same target, made on this host, whose
    owning pid is gone. A live process's folder, or one from another host sharing the
    file system, is never touched. A replaced folder whose replacement never arrived
    (killed between the two renames of `_publish`) is put back as `out`.
    Returns what was removed or restored."""
    out = Path(out)
    if not out.parent.is_dir():
        return []
    pattern = re.compile(
        rf"\.{re.escape(out.name)}\.({STAGING}|{REPLACED})-"
        rf"{re.escape(socket.gethostname())}-(\d+)-[^-]+"
    )
    found = []
    for path in out.parent.iterdir():
        match = pattern.fullmatch(path.name)
        if not match or int(match[2]) == os.getpid() or _owner_alive(int(match[2])):
            continue
        if match[1] == REPLACED and not out.exists():
            os.rename(path, out)
        else:
            shutil.rmtree(path, ignore_errors=True)
        found.append(path)
    return found


@contextlib.contextmanager
def staged_dir(out: str | Path) -> Iterator[Path]:
    """A temporary folder beside `out`, to fill in the `with` block; published as `out`
    when the block ends without an error, removed when it raises. An existing `out` is
    moved aside, replaced, then deleted — and put back if the replacing rename fails.
    The temporary folders' names carry the host and pid of their owner, so that the next
    staging for the same target removes those of a killed process (`remove_stale`)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out)
    tmp = Path(tempfile.mkdtemp(prefix=_tag(out, STAGING), dir=out.parent))
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
    old = out.parent / f"{_tag(out, REPLACED)}{uuid.uuid4().hex[:8]}"
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
