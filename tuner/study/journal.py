"""A torn Optuna journal cut back to its complete records before anyone writes to it.

Why: Optuna's `JournalFileBackend` reader skips a torn last line (a crash mid-write, a
power cut, a full disk), but `append_logs` writes right after it, gluing the next record
onto the partial one; from then on every read raises. So every open of a journal first
looks for damage and repairs it (`repair`), under a lock no two repairers share and under
Optuna's own writer lock, so that a record a live driver is writing right now is never
taken for a torn one.

What is cut, and why it is safe:
- a torn tail (bytes after the last newline): no reader ever replayed it, so no writer's
  view of the study holds it; the file is truncated back to the last newline.
- a glued line (a torn record with a complete record written after it on the same line,
  what the old bug left): the torn prefix is cut and the record after it kept on its own
  line, with every line after it. The writer that appended it had replayed the journal
  without the torn record, so the journal stays exactly what that writer saw plus what it
  wrote (keeping a record it never saw would shift Optuna's trial ids). A line with no
  complete record in it (zeros left by a power cut) is cut whole.
The cut bytes are kept beside the journal in `<journal>.torn-<UTC time>`, one cut piece a
line, before the journal changes: nothing is lost. A full scan costs one read of the file
plus a byte search per line (Optuna parses every line on load anyway).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tuner.compat.optuna import JOURNAL_RECORD_START
from tuner.errors import StorageFull

RECORD = JOURNAL_RECORD_START  # how every record Optuna writes begins
WRITER_STALE_S = 30.0  # Optuna's own grace period: a writer lock this old is a dead writer's
TORN = ".torn-"
READ_ONLY = (errno.EACCES, errno.EPERM, errno.EROFS)


@dataclass(frozen=True)
class Damage:
    """What a scan found: the journal's bytes as they should be, and the cut pieces."""

    good: bytes
    cuts: list[tuple[int, bytes]]  # (1-based line number, the bytes cut there)
    tail_only: bool  # only a torn tail: a truncation repairs it


@dataclass(frozen=True)
class Repair:
    path: Path
    kept: Path  # where the cut bytes went
    lines: list[int]  # the line numbers cut at
    dropped: int  # bytes cut

    def describe(self) -> str:
        where = ", ".join(map(str, self.lines))
        return (
            f"repaired the torn journal {self.path} (line {where}: {self.dropped} bytes "
            f"of an unfinished write cut, kept in {self.kept.name})"
        )


def _parses(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        return False


def _mend(line: bytes) -> int | None:
    """Where the complete record of a damaged line starts (the torn bytes before it are
    cut), or None if it holds none. The record appended after a torn one is the last
    record start on the line whose rest parses."""
    start = len(line)
    while (start := line.rfind(RECORD, 0, start)) > 0:
        if _parses(line[start:]):
            return start
    return None


def scan(data: bytes) -> Damage | None:
    """The damage in a journal's bytes, or None if every line is a complete record."""
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: b"" when the file ends cleanly
    good: list[bytes] = []
    cuts: list[tuple[int, bytes]] = []
    for number, line in enumerate(lines, start=1):
        whole = line.startswith(RECORD) and line.endswith(b"}") and line.count(RECORD) == 1
        if whole or _parses(line):  # the fast test first: one record, start to end
            good.append(line)
            continue
        start = _mend(line)
        if start is None:
            cuts.append((number, line))
        else:
            cuts.append((number, line[:start]))
            good.append(line[start:])
    if tail:
        cuts.append((len(lines) + 1, tail))
    if not cuts:
        return None
    body = b"".join(line + b"\n" for line in good)
    return Damage(body, cuts, tail_only=len(cuts) == 1 and bool(tail))


@contextlib.contextmanager
def _repair_lock(path: Path) -> Iterator[None]:
    """One repairer at a time (an fcntl lock: the kernel drops it if its holder dies)."""
    with open(f"{path}.repair-lock", "a") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _writer_lock(path: Path) -> Iterator[None]:
    """Optuna's writer lock (the symlink `append_logs` takes), so that no live writer is
    half-way through a record while we judge the tail. A SIGKILL mid-write leaves the
    link behind: one older than WRITER_STALE_S is a dead writer's and is released (an
    append holds it for milliseconds); Optuna's own grace period covers the rest."""
    from optuna.storages.journal import JournalFileSymlinkLock

    from tuner.compat.optuna import LOCK_FILE_SUFFIX

    lock = JournalFileSymlinkLock(str(path))
    with contextlib.suppress(OSError, RuntimeError):
        if time.time() - os.lstat(f"{path}{LOCK_FILE_SUFFIX}").st_mtime > WRITER_STALE_S:
            lock.release()
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, data: bytes) -> None:
    with open(path, "xb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _keep(path: Path, cuts: list[tuple[int, bytes]]) -> Path:
    """The cut bytes, beside the journal, before the journal changes."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    kept = path.with_name(f"{path.name}{TORN}{stamp}")
    for n in range(1, 1000):
        if not kept.exists():
            break
        kept = path.with_name(f"{path.name}{TORN}{stamp}.{n}")
    _write(kept, b"".join(piece + b"\n" for _, piece in cuts))
    return kept


def _apply(path: Path, damage: Damage) -> None:
    if damage.tail_only:  # the complete records stay where they are: live readers agree
        os.truncate(path, len(damage.good))
        with open(path, "rb+") as handle:
            os.fsync(handle.fileno())
        return
    tmp = path.with_name(f"{path.name}.repair-{os.getpid()}")
    try:
        _write(tmp, damage.good)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def repair(path: str | Path) -> Repair | None:
    """Cut a torn journal back to its complete records (see the module docstring); None if
    it is whole. Raises StorageFull when the disk has no room for the cut bytes or the
    rewritten journal (the journal is unchanged then), OSError when it cannot be written."""
    path = Path(path)
    try:
        if scan(path.read_bytes()) is None:  # the common case: no lock, one read
            return None
    except FileNotFoundError:
        return None
    with _repair_lock(path), _writer_lock(path):
        damage = scan(path.read_bytes())  # again: another process may have repaired it
        if damage is None:
            return None
        try:
            kept = _keep(path, damage.cuts)
            _apply(path, damage)  # (a rewrite needs room for a copy; a truncation none)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull(
                    f"no space left to repair the torn journal {path}",
                    hint="free some space and run the command again",
                ) from None
            raise
    dropped = sum(len(piece) for _, piece in damage.cuts)
    return Repair(path, kept, [n for n, _ in damage.cuts], dropped)
