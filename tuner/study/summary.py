"""A sweep's answers to `tune status`, `tune best` and `tune ls`, kept beside its study
(`<results>/<name>/summary.json`), so that reading a sweep does not replay its journal:
at 2,000 trials the replay was two thirds of a 2.5 s `tune status`, growing with the
sweep (issue 30).

The journal stays the truth; the summary is a cache of what was read from it. Each
summary names the journal it was built from, that file's size and a digest of its bytes
just before that size, taken *before* the study was read: the summary holds at least
what the journal held then. Records appended since make it stale — unless all of them
are the sweep lock's (its heartbeat every few seconds, its release: tuner/study/lock.py),
which no answer reads; a journal cut shorter or rewritten (a repaired tail) makes it
stale too. A reader then replays the journal as before, and writes the summary again for
the next one. It is written whole through a temporary file and a rename
(tuner/atomic.py), so a process killed while writing it leaves the old one or the new.

The driver keeps it up to date as trials finish (`SummaryListener` in
tuner/sweep/listeners.py, throttled: building it reads every trial) and at the sweep's
end. Only a sweep in its own journal has one (with --storage the database answers).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.study import storage

if TYPE_CHECKING:
    import optuna

SUMMARY = "summary.json"
VERSION = 1
KEEP_TOP = 10  # leaderboard rows kept: `tune status`'s default, `tune best --top` up to it
DIGESTED = 4096  # the journal's bytes before the marked size that are digested
LOCK_TAIL = 1 << 20  # lock records read past the mark (~5 hours of heartbeats)


def path(results: Path, name: str) -> Path:
    return storage.sweep_dir(results, name) / SUMMARY


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def journal_mark(results: Path, name: str) -> dict[str, Any] | None:
    """What identifies the journal's content now: its path, its size and the digest of
    its last DIGESTED bytes (None when there is no journal)."""
    journal = storage.sweep_dir(results, name) / storage.JOURNAL
    try:
        with journal.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - DIGESTED))
            last = f.read(size - max(0, size - DIGESTED))
    except OSError:
        return None
    return {"path": str(journal.absolute()), "size": size, "digest": _digest(last)}


def _lock_only(records: bytes) -> bool:
    """Whether journal records hold nothing but the sweep lock's attribute (complete
    lines of Optuna's journal: a study user attribute set)."""
    from tuner.compat.optuna import SET_STUDY_USER_ATTR
    from tuner.study.records import LOCK

    for line in records.splitlines():
        try:
            op = json.loads(line)
        except ValueError:
            return False
        if not isinstance(op, dict) or op.get("op_code") != SET_STUDY_USER_ATTR:
            return False
        if list(op.get("user_attr") or ()) != [LOCK]:
            return False
    return records.endswith(b"\n") or not records


def _current(recorded: Any, results: Path, name: str) -> bool:
    """Whether the journal is the one `recorded` marks, with nothing but the lock's
    records appended since (at most LOCK_TAIL bytes of them: more is read as stale)."""
    if not isinstance(recorded, dict):
        return False
    journal = storage.sweep_dir(results, name) / storage.JOURNAL
    if recorded.get("path") != str(journal.absolute()):
        return False
    size = recorded.get("size")
    if not isinstance(size, int):
        return False
    try:
        with journal.open("rb") as f:
            end = f.seek(0, os.SEEK_END)
            if not size <= end <= size + LOCK_TAIL:
                return False
            f.seek(max(0, size - DIGESTED))
            last = f.read(size - max(0, size - DIGESTED))
            since = f.read(end - size)
    except OSError:
        return False
    return _digest(last) == recorded.get("digest") and _lock_only(since)


def build(study: optuna.Study, results: Path, name: str) -> dict[str, Any] | None:
    """The summary of the sweep whose study is `study` (its journal under `results` as
    `name`): status with the top KEEP_TOP rows, the `tune ls` row, the best table. None
    without a journal."""
    from tuner.study.best import best_table
    from tuner.study.records import SweepRecord
    from tuner.study.status import sweep_status, sweep_summary

    mark = journal_mark(results, name)  # before the study is read: it covers at least this
    if mark is None:
        return None
    trials, concurrency = SweepRecord.of(study).budget()
    return {
        "version": VERSION,
        "journal": mark,
        "status": sweep_status(study, trials, concurrency=concurrency, top=KEEP_TOP),
        "ls": sweep_summary(study),
        "best": best_table(study, results, KEEP_TOP),
    }


def write(results: Path, name: str, summary: dict[str, Any] | None) -> bool:
    """Keep `summary` beside the journal; False when it cannot be written (a read-only
    results folder, a full disk: the readers replay the journal then)."""
    from tuner import faults
    from tuner.atomic import staged_file

    if summary is None:
        return False
    try:
        with staged_file(path(results, name)) as tmp:
            tmp.write_text(json.dumps(summary, separators=(",", ":")))
            faults.point("summary")  # (the kill tests': killed here, the old one stands)
    except OSError:
        return False
    return True


def refresh(study: optuna.Study, results: Path, name: str) -> bool:
    """Build the summary from the study and keep it (False if it could not be)."""
    return write(results, name, build(study, results, name))


def read(results: Path, name: str) -> dict[str, Any] | None:
    """The sweep's summary when it is current: its journal is the one it was built from,
    unchanged since. None when missing, unreadable or stale."""
    try:
        found = json.loads(path(results, name).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict) or found.get("version") != VERSION:
        return None
    if not _current(found.get("journal"), results, name):
        return None
    return found


def status_of(summary: dict[str, Any], top: int, now: datetime | None = None) -> dict[str, Any]:
    """`tune status` from a current summary, `top` ≤ KEEP_TOP rows. A sweep with trials
    left RUNNING (its driver runs, or died) is timed to now, as `sweep_status` does."""
    status = dict(summary["status"])
    status["top"] = status["top"][: max(top, 0)]
    started = status.get("started")
    if status["counts"].get("running") and started:
        now = now or datetime.now()
        status["elapsed_s"] = (now - datetime.fromisoformat(started)).total_seconds()
    return status


def best_of(summary: dict[str, Any], top: int) -> dict[str, Any]:
    """`tune best --json` from a current summary, `top` ≤ KEEP_TOP trials."""
    table = dict(summary["best"])
    table["trials"] = table["trials"][:top]
    return table


def summary_table(results: Path, name: str, k: int) -> dict[str, Any] | None:
    """`tune best`'s table from the sweep's current summary, without replaying its
    journal; None when it has none current, or `k` is past what it keeps."""
    if k > KEEP_TOP:
        return None
    found = read(results, name)
    return best_of(found, k) if found is not None else None


def load_status(
    results: Path, name: str | None, url: str | None = None, *, top: int = 10
) -> dict[str, Any]:
    """`tune status [NAME]`: the status of a sweep found under `results` or at `url` —
    from its summary when that is current (this module), else from its study,
    the summary then written again for the next read."""
    import optuna

    from tuner.study.records import SweepRecord
    from tuner.study.status import find_sweep, resolve_name, sweep_status

    name = resolve_name(results, name, url)
    if url is None and top <= KEEP_TOP:
        found = read(results, name)
        if found is not None:
            return status_of(found, top)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = find_sweep(results, name, url)
    if url is None:
        built = build(study, results, name)
        write(results, name, built)
        if built is not None and top <= KEEP_TOP:
            return status_of(built, top)
    trials, concurrency = SweepRecord.of(study).budget()
    return sweep_status(study, trials, concurrency=concurrency, top=top)


def ls_rows(results: Path) -> list[dict[str, Any]]:
    """`tune ls`: a summary of every sweep under `results` (a study that cannot be read
    is listed with its error): each from its current summary (this module),
    else from its study, the summary then written again."""
    import optuna

    from tuner.study.status import find_sweep

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []
    for name in storage.list_sweeps(results):
        try:
            found = read(results, name)
            if found is None:
                found = build(find_sweep(results, name), results, name)
                write(results, name, found)
            assert found is not None  # (the sweep's journal was just read)
            rows.append(found["ls"])
        except Exception as exc:
            rows.append({"name": name, "error": f"{type(exc).__name__}: {exc}"})
    return rows
