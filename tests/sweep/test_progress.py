"""tuner.sweep.progress: the live progress of `tune run` (plain lines, a redrawn terminal
line, quiet), driven by events and a fake clock."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.study.studies import make_study
from tuner.sweep.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def study(tmp_path: Path) -> Any:
    return make_study(tmp_path / "results")


def feed(progress: Progress, clock: Clock) -> None:
    progress.trial_started(0, {"optimizer": "adam", "learning_rate": 0.01})
    progress.trial_started(1, {"optimizer": "sgd", "learning_rate": 0.1})
    for epoch, value in enumerate([0.8, 0.9], start=1):
        clock.now += 5
        progress.epoch(0, epoch, value)
        progress.epoch(1, epoch, value - 0.3)
    clock.now += 2
    progress.trial_finished(
        0, "COMPLETE", 0.9, best=(0.9, 0, {"optimizer": "adam", "learning_rate": 0.01})
    )
    progress.trial_finished(1, "PRUNED", None, reason="pruned at epoch 2")
    progress.trial_started(2, {"optimizer": "adam", "learning_rate": 0.001})
    clock.now += 60
    progress.epoch(2, 1, 0.95)
    progress.trial_finished(2, "FAIL", None, reason="ValueError: loss\ndiverged")
    progress.close()


def test_progress_plain_lines() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress(20, "val_auc", stream=stream, clock=clock)
    assert not progress.interactive  # a StringIO is no terminal
    feed(progress, clock)
    assert stream.getvalue().splitlines() == [
        "trial 0 COMPLETE val_auc=0.9000 (best 0.9000 #0) "
        "[1/20 done, 1 running, 12s elapsed, ~3m48s left]",
        "trial 1 PRUNED at epoch 2 val_auc=0.6000: pruned at epoch 2 (best 0.9000 #0) "
        "[2/20 done (1 pruned), 0 running, 12s elapsed]",
        "trial 2 FAIL after 1 epoch: ValueError: loss diverged (best 0.9000 #0) "
        "[3/20 done (1 pruned, 1 failed), 0 running, 1m12s elapsed]",
    ]


def test_progress_quiet() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress(20, "val_auc", stream=stream, quiet=True, clock=clock)
    feed(progress, clock)
    assert stream.getvalue() == ""
    assert progress.counts == {"complete": 1, "pruned": 1, "failed": 1}


def test_progress_terminal_redraws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    stream, clock = io.StringIO(), Clock()
    progress = Progress(20, "loss", stream=stream, interactive=True, clock=clock)
    feed(progress, clock)
    out = stream.getvalue()
    assert out.endswith("\n") and "\r" in out and "\x1b[K" in out
    # one status line redrawn in place; a failure is kept above it
    assert out.count("\n") == 2
    assert "trial 2 FAIL after 1 epoch: ValueError: loss diverged" in out
    last = out.rstrip("\n").rsplit("\r", 1)[-1]
    assert last.startswith("trials 3/20 done (1 pruned, 1 failed) · 0 running · 1m12s elapsed")
    assert "best loss=0.9000 #0 (optimizer=adam learning_rate=0.01)" in last
    assert progress._ticker is not None and not progress._ticker.is_alive()


def test_progress_terminal_fits_the_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    stream, clock = io.StringIO(), Clock()
    progress = Progress(20, "loss", stream=stream, interactive=True, clock=clock)
    feed(progress, clock)
    drawn = [d for d in stream.getvalue().replace("\n", "\r").split("\r") if d]
    status = [d.removesuffix("\x1b[K") for d in drawn if d.startswith("trials ")]
    assert status and all(len(d) <= 59 for d in status)  # a status line never wraps
    assert status[-1].endswith("…")


def test_progress_throttles_redraws() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress(5, "val_auc", stream=stream, interactive=True, clock=clock)
    progress.trial_started(0, {})
    for epoch in range(1, 50):  # no time passes: at most one draw
        progress.epoch(0, epoch, 0.5)
    assert stream.getvalue().count("\r") == 1
    progress.close()


def test_progress_shows_the_best_it_is_told_from_many_threads() -> None:
    """The bridge decides which trial is best (by the study's metric) and says so; the
    display keeps what it was told last, whatever the order of the threads."""
    stream = io.StringIO()
    progress = Progress(None, "loss", stream=stream)

    def worker(base: int) -> None:
        for i in range(base, base + 25):
            progress.trial_started(i, {"x": i})
            progress.epoch(i, 1, float(i))
            best = (0.0, 0, {"x": 0}) if i == 0 else None
            progress.trial_finished(i, "COMPLETE", float(i), best=best)

    threads = [threading.Thread(target=worker, args=(k * 25,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    progress.close()
    assert progress.counts["complete"] == 100
    assert progress.best is not None and progress.best[:2] == (0.0, 0)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 100 and all(line.startswith("trial ") for line in lines)
    assert "/" not in lines[-1].split("[")[1].split()[0]  # no budget: "100 done"


def test_progress_load(study: Any) -> None:
    progress = Progress(10, "val_auc", stream=io.StringIO())
    progress.load(study)
    assert progress.counts == {"complete": 3, "pruned": 2, "failed": 1}
    assert progress.best is not None and progress.best[1] == 1
