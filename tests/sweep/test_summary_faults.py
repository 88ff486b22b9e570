"""The summary `tune status`/`best`/`ls` answer from (tuner/study/summary.py) agrees with
the journal after a driver is SIGKILLed at each kill point (TUNER_FAULT, tuner/faults.py):
either it is current and says what the replayed journal says, or the journal moved on
and the readers replay it. One sweep, killed and resumed in turn (cheap objective, no
TensorFlow), as tests/sweep/test_resume.py does."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.sweep.test_resume import SPACE, _tune

pytestmark = pytest.mark.slow


def _timeless(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k != "elapsed_s"}


def _agrees(results: Path) -> bool:
    """Whether the summary kept was current; either way, what the readers answer is what
    the replayed journal says."""
    from tuner.study import summary
    from tuner.study.best import best_table
    from tuner.study.records import SweepRecord
    from tuner.study.status import find_sweep, sweep_status, sweep_summary
    from tuner.study.summary import load_status, ls_rows, summary_table

    kept = summary.read(results, "slow")  # before anything reads (and rewrites) it
    study = find_sweep(results, "slow")
    trials, concurrency = SweepRecord.of(study).budget()
    truth = {
        "status": sweep_status(study, trials, concurrency=concurrency, top=summary.KEEP_TOP),
        "ls": sweep_summary(study),
        "best": best_table(study, results, summary.KEEP_TOP),
    }
    if kept is not None:
        assert _timeless(kept["status"]) == _timeless(truth["status"])
        assert kept["ls"] == truth["ls"] and kept["best"] == truth["best"]
    assert _timeless(load_status(results, "slow")) == _timeless(truth["status"])
    assert ls_rows(results) == [truth["ls"]]
    assert summary_table(results, "slow", summary.KEEP_TOP) == truth["best"]
    return kept is not None


@pytest.mark.timeout(420)
def test_the_summary_agrees_with_the_journal_after_a_sigkill_at_each_kill_point(
    tmp_path: Path,
) -> None:
    space = write(tmp_path / "slow.yaml", SPACE.format(trials=6, sleep=0.1))
    results = tmp_path / "results"
    # (verb, kill point, whether the summary is current then: the first trial told writes
    # one, just before `trial_end`; the sweep's end writes one before its plots)
    steps = [
        (("run", space), "trial_end:1", True),
        (("resume", "slow"), "summary:1", False),  # killed writing it: the old one stands
        (("resume", "slow"), "epoch:3", None),
        (("resume", "slow"), "plot", True),
    ]
    for args, fault, current in steps:
        done = _tune(*args, "--results", results, "-q", fault=fault)
        assert done.returncode == -signal.SIGKILL, (fault, done.stderr[-2000:])
        fresh = _agrees(results)
        assert current is None or fresh == current, fault
    done = _tune("resume", "slow", "--results", results, "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    assert _agrees(results)
