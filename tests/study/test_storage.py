"""The study's storage: a torn Optuna journal (a crash mid-write, a full disk, the glued
line the old bug left) is repaired on open, the cut bytes kept beside it; full-disk errors
are told apart from others. Real Optuna journals throughout."""

from __future__ import annotations

import errno
import multiprocessing
import os
import sqlite3
import time
from pathlib import Path

import optuna
import pytest

from tuner.errors import DataError, StorageFull
from tuner.study import journal, storage

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _raw(path: Path) -> optuna.storages.JournalStorage:
    """Optuna's journal storage as it is, without our repair (what the old code opened)."""
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    trial.report(x, 1)
    return x


def _journal(tmp_path: Path, trials: int = 3) -> Path:
    path = tmp_path / "s" / storage.JOURNAL
    path.parent.mkdir()
    study = optuna.create_study(study_name="s", storage=_raw(path), direction="maximize")
    study.optimize(_objective, n_trials=trials)
    return path


def _tear(path: Path) -> bytes:
    """Cut the last record in half (what SIGKILL mid-write or ENOSPC leaves); the cut."""
    data = path.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    cut = start + (len(data) - start) // 2
    path.write_bytes(data[:cut])
    return data[cut:]


def _load(path: Path, write: bool = True) -> optuna.Study:
    return optuna.load_study(study_name="s", storage=storage.open_storage(str(path), write))


def _torn_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}{journal.TORN}*"))


def test_the_trap_optuna_appends_after_a_torn_tail(tmp_path: Path) -> None:
    """Why the repair exists: unrepaired, the next append glues onto the torn record and
    every later read fails (if Optuna fixes this, the repair is still harmless)."""
    path = _journal(tmp_path)
    _tear(path)
    study = optuna.load_study(study_name="s", storage=_raw(path))  # reads: tail skipped
    for _ in range(2):  # its own glued record is unreadable, then so is the journal
        with pytest.raises((AttributeError, ValueError)):
            study.optimize(_objective, n_trials=1)
    with pytest.raises(ValueError):  # JSONDecodeError
        optuna.load_study(study_name="s", storage=_raw(path))


def test_a_torn_tail_is_cut_back_and_kept_beside(tmp_path: Path, capsys) -> None:
    path = _journal(tmp_path)
    whole = path.read_bytes()
    _tear(path)
    torn = path.read_bytes()
    kept_tail = torn[torn.rfind(b"\n") + 1 :]

    study = _load(path)
    assert "repaired the torn journal" in capsys.readouterr().err
    assert path.read_bytes() == torn[: torn.rfind(b"\n") + 1]  # back to the last record
    (kept,) = _torn_files(path)
    assert kept.read_bytes() == kept_tail + b"\n"
    # the last record (trial 2's end) was lost, nothing else; and writing works again
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "COMPLETE", "RUNNING"]
    study.optimize(_objective, n_trials=2)
    reread = optuna.load_study(study_name="s", storage=_raw(path))
    assert len(reread.trials) == 5 and len(whole) < path.stat().st_size


def test_a_glued_line_left_by_the_old_bug_is_recovered(tmp_path: Path) -> None:
    """A torn record with records appended after it (old code): the torn prefix is cut,
    what the later writer appended is kept, so the study is what that writer saw."""
    path = _journal(tmp_path)
    _tear(path)
    before = optuna.load_study(study_name="s", storage=_raw(path))
    seen = [(t.number, t.state.name) for t in before.trials]  # the old resume's view
    for _ in range(2):  # glues a record, then fails reading it back (the old bug)
        with pytest.raises((AttributeError, ValueError)):
            before.optimize(_objective, n_trials=1)
    with pytest.raises(ValueError):
        optuna.load_study(study_name="s", storage=_raw(path))

    study = _load(path)
    trials = study.trials
    assert [(t.number, t.state.name) for t in trials[: len(seen)]] == seen
    # the records the old writer appended survived: its trials, created but never run
    assert [t.state.name for t in trials[len(seen) :]] == ["RUNNING", "RUNNING"]
    (kept,) = _torn_files(path)
    assert kept.read_bytes().startswith(journal.RECORD) and journal.scan(path.read_bytes()) is None
    study.optimize(_objective, n_trials=1)  # and the journal takes writes again
    assert len(optuna.load_study(study_name="s", storage=_raw(path)).trials) == len(trials) + 1


def test_a_line_of_zeros_is_cut_whole(tmp_path: Path) -> None:
    """A power cut can leave a block of NULs where a record was going to be."""
    path = _journal(tmp_path, trials=2)
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([*lines[:3], b"\0" * 40, *lines[3:]]))
    damage = journal.scan(path.read_bytes())
    assert damage is not None and damage.cuts == [(4, b"\0" * 40)] and not damage.tail_only
    assert len(_load(path).trials) == 2
    assert path.read_bytes() == b"\n".join(lines)


def test_a_whole_journal_is_left_alone(tmp_path: Path) -> None:
    path = _journal(tmp_path)
    before = path.read_bytes(), path.stat().st_mtime_ns
    assert journal.repair(path) is None and journal.scan(before[0]) is None
    _load(path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before and not _torn_files(path)


def _repair_in_process(path: str) -> None:
    journal.repair(path)


def test_two_processes_never_repair_at_once(tmp_path: Path) -> None:
    path = _journal(tmp_path)
    _tear(path)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_repair_in_process, args=(str(path),)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert len(_torn_files(path)) == 1 and journal.scan(path.read_bytes()) is None


def test_a_dead_writers_lock_does_not_hold_the_repair(tmp_path: Path) -> None:
    """SIGKILL mid-append leaves Optuna's writer lock (a symlink) behind: a stale one is
    released at once instead of after Optuna's 30 s grace period."""
    path = _journal(tmp_path)
    _tear(path)
    link = Path(f"{path}.lock")
    link.symlink_to(path)
    old = time.time() - 2 * journal.WRITER_STALE_S
    os.utime(link, (old, old), follow_symlinks=False)
    start = time.monotonic()
    assert journal.repair(path) is not None
    assert time.monotonic() - start < 5 and not link.is_symlink()


def test_no_room_for_the_cut_bytes_changes_nothing(tmp_path: Path, monkeypatch) -> None:
    path = _journal(tmp_path)
    _tear(path)
    torn = path.read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal, "_write", full)
    with pytest.raises(StorageFull, match="no space left to repair"):
        storage.open_storage(str(path))
    assert path.read_bytes() == torn
    # a read-only verb still reads it (Optuna skips a torn tail) ...
    assert len(_load(path, write=False).trials) == 3
    # ... but not a glued line it cannot repair: one line naming the file and line
    lines = torn.split(b"\n")
    path.write_bytes(b"\n".join([*lines[:2], lines[2][:30] + lines[3], *lines[4:]]))
    with pytest.raises(DataError, match=r"study.journal: line 3: a torn record"):
        _load(path, write=False)


def test_disk_full_is_recognised_through_wrappers() -> None:
    from sqlalchemy.exc import OperationalError

    def raised(outer: type[Exception], inner: BaseException) -> BaseException:
        try:
            try:
                raise inner
            except BaseException as exc:
                raise outer("wrapped") from exc
        except BaseException as exc:
            return exc

    assert storage.disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert storage.disk_full(raised(RuntimeError, OSError(errno.EDQUOT, "Disk quota exceeded")))
    sqlite = OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))
    assert storage.disk_full(raised(RuntimeError, sqlite))
    assert not storage.disk_full(raised(RuntimeError, OSError(errno.EACCES, "denied")))

    @storage.stop_on_full_disk
    def sweep() -> None:
        raise raised(RuntimeError, OSError(errno.ENOSPC, "No space left on device"))

    with pytest.raises(StorageFull) as info:
        sweep()
    assert info.value.exit_code == 1 and "\n" not in info.value.format()


# ---------------------------------------------------------------- the trial storage


def test_a_trial_storage_inside_the_results_folder_is_kept_relative(tmp_path: Path) -> None:
    results = tmp_path / "results"
    assert storage.record_trial_storage(results, results) == "."
    assert storage.record_trial_storage(results / "shared" / "x", results) == "shared/x"
    assert storage.record_trial_storage(tmp_path / "shared", results) == str(tmp_path / "shared")


def test_a_relative_trial_storage_is_in_the_results_folder_where_it_now_is(
    tmp_path: Path,
) -> None:
    moved = tmp_path / "moved"
    assert storage.resolve_trial_storage(None, moved, "s") == (moved, False)
    assert storage.resolve_trial_storage(".", moved, "s") == (moved, False)
    assert storage.resolve_trial_storage("shared/x", moved, "s") == (moved / "shared/x", False)


def test_an_absolute_trial_storage_elsewhere_is_kept_while_it_exists(tmp_path: Path) -> None:
    """--trial-storage on a cluster's shared filesystem: used wherever the results are."""
    shared, results = tmp_path / "shared", tmp_path / "results"
    (shared / "s" / "trials").mkdir(parents=True)
    assert storage.resolve_trial_storage(str(shared), results, "s") == (shared, False)
    inside = results / "deep"
    inside.mkdir(parents=True)
    assert storage.resolve_trial_storage(str(inside), results, "s") == (inside, False)


def test_an_earlier_versions_absolute_results_folder_is_taken_as_moved(tmp_path: Path) -> None:
    """Earlier versions kept the results folder absolute. Copied (`cp -a tiny roomy`), the
    folder it names still exists — with the sweep's journal: it is where the sweep was, and
    the copy writes there nothing. Moved (`mv`), it is gone and the trials are here."""
    tiny, roomy = tmp_path / "tiny", tmp_path / "roomy"
    for folder in (tiny, roomy):
        (folder / "s" / "trials").mkdir(parents=True)
        (folder / "s" / storage.JOURNAL).write_text("")
    assert storage.resolve_trial_storage(str(tiny), roomy, "s") == (roomy, False)

    gone = tmp_path / "gone"
    assert storage.resolve_trial_storage(str(gone), roomy, "s") == (roomy, False)


def test_a_trial_storage_that_is_gone_falls_back_to_the_results_folder(tmp_path: Path) -> None:
    """Not reachable here (a shared folder not mounted) and no trial folders in the results
    folder: the unfinished trials start over there, and the driver says so."""
    results = tmp_path / "results"
    assert storage.resolve_trial_storage(str(tmp_path / "nfs"), results, "s") == (results, True)


def test_trial_root_reads_the_studys_record(tmp_path: Path) -> None:
    from tuner.study import records

    study = optuna.create_study(study_name="s")
    results = tmp_path / "results"
    assert storage.trial_root(study, results) == results
    records.set_trial_storage(study, "shared")
    assert storage.trial_root(study, results) == results / "shared"
