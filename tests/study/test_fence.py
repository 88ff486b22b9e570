"""The journal's fence (`tuner.study.fence`): a driver whose lock another driver took
between its check and its write has the write refused, on a real journal file shared by
two Optuna storages (two drivers): a trial, an epoch, a heartbeat and a release are all
refused and leave the journal as the taker left it; the driver's own writes, and any
write while the fence is unarmed (before the lock, read-only verbs), pass.

The multi-process version (a driver SIGSTOPped at any point, then taken over) is
test_a_stopped_driver_keeps_its_lock_and_one_taken_over_stops_without_writing in
tests/sweep/test_resume.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import optuna
import pytest

from tuner.errors import LockLost
from tuner.study import fence, records, storage
from tuner.study.lock import SweepLock
from tuner.study.records import LOCK

optuna.logging.set_verbosity(optuna.logging.WARNING)
pytestmark = pytest.mark.timeout(60)
TAKER = {"host": "elsewhere", "pid": 4242, "since": 1.0, "heartbeat": 1.0}


def _open(journal: Path) -> optuna.Study:
    url = f"journal:{journal}"
    return optuna.create_study(
        study_name="s", storage=storage.open_storage(url), load_if_exists=True
    )


def _lines(journal: Path) -> int:
    return len(journal.read_bytes().splitlines())


@pytest.fixture
def held(tmp_path: Path) -> Any:
    """A driver's study with its lock held (heartbeat thread off), another driver's view
    of the same journal, and the journal's path."""
    journal = tmp_path / "study.journal"
    mine = _open(journal)
    lock = SweepLock(mine, heartbeat_s=3600)
    lock.acquire()
    yield mine, lock, _open(journal), journal
    lock.release()


def test_own_writes_pass_and_a_taken_lock_refuses_the_next_write(held: Any) -> None:
    mine, lock, other, journal = held
    trial = mine.ask()
    trial.report(0.5, 1)
    records.write_lock(mine, {**lock.me, "heartbeat": time.time()})  # its own heartbeat
    records.write_lock(other, TAKER)  # the other driver takes the sweep over
    before = _lines(journal)
    with pytest.raises(LockLost, match=r"taken over \(host elsewhere, pid 4242\)"):
        mine.ask()  # checked nothing first: the fence alone refuses it
    with pytest.raises(LockLost):
        trial.report(0.6, 2)
    assert _lines(journal) == before
    assert lock.lost is not None and not lock.holds()
    assert [t.number for t in other.get_trials()] == [0]
    assert records.read_lock(other) == TAKER


def test_a_release_after_the_takeover_writes_nothing(held: Any) -> None:
    _, lock, other, journal = held
    records.write_lock(other, TAKER)
    before = journal.read_bytes()
    lock.release()  # (it reads the lock first; the fence would refuse it anyway)
    assert journal.read_bytes() == before
    assert records.read_lock(_open(journal)) == TAKER


def test_the_heartbeat_thread_reports_a_takeover_its_beat_was_refused_for(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "study.journal"
    mine, other = _open(journal), _open(journal)
    told: list[str] = []
    lock = SweepLock(mine, heartbeat_s=0.02, on_lost=told.append)
    lock.acquire()
    try:
        records.write_lock(other, TAKER)
        deadline = time.monotonic() + 5
        while not told and time.monotonic() < deadline:
            time.sleep(0.01)
        assert told and "taken over (host elsewhere, pid 4242)" in told[0]
        assert records.read_lock(_open(journal)) == TAKER  # no beat overwrote it
    finally:
        lock.release()


def test_an_unarmed_fence_is_optunas_writer_lock(tmp_path: Path) -> None:
    journal = tmp_path / "study.journal"
    study, other = _open(journal), _open(journal)
    records.write_lock(other, TAKER)
    study.ask()  # nobody's lock was taken here: a plain append
    assert len(_open(journal).get_trials()) == 1
    assert fence.arm(optuna.create_study(), lambda held: None) is None  # in memory: none


def test_a_torn_tail_from_a_crashed_writer_is_not_read_as_a_record(tmp_path: Path) -> None:
    journal = tmp_path / "study.journal"
    study = _open(journal)
    armed = fence.arm(study, lambda held: pytest.fail(f"read a torn record: {held}"))
    assert armed is not None
    with open(journal, "ab") as out:  # a writer killed mid-record, taking the sweep over
        out.write(b'{"op_code":2,"worker_id":"x","study_id":0,"user_attr":{"' + LOCK.encode())
    armed.acquire()
    armed.release()
