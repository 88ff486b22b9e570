"""The driver's own rules, without Ray: how a sweep's end reacts to signals (the trials
are over, the plots are drawn: a first Ctrl-C only says so, a second stops the drawing
but still ends the MLflow parent run) and the budget a sweep was last given."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.sweep.test_bridge import FakeTracker, complete, make_bridge, make_spec
from tuner.sweep import driver
from tuner.sweep.driver import Interrupted, RunOptions


class EndingTracker(FakeTracker):
    tracking_uri = "sqlite:///nowhere.db"

    def end_sweep(self, parent: str, status: str, artifacts: list[Path]) -> None:
        self.calls.append(("end_sweep", (parent, status, [Path(a).name for a in artifacts])))

    def runs_url(self, base: str) -> str:
        return f"{base}/#/experiments/1/runs"


def test_signals_at_the_sweeps_end_say_so_then_stop_at_once(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)
    phase: dict[str, Any] = {"ending": False}
    previous = driver._graceful_signals(bridge, phase)
    try:
        phase["ending"] = True
        signal.raise_signal(signal.SIGINT)  # the first: the sweep is done, drawing
        assert not bridge.interrupted and phase["signalled"] == signal.SIGINT
        with pytest.raises(Interrupted) as stopped:
            signal.raise_signal(signal.SIGTERM)
        assert stopped.value.exit_code == 128 + signal.SIGTERM
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def test_a_stop_while_drawing_ends_the_parent_run_with_the_plots_so_far(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = make_spec(trials=2)
    tracker = EndingTracker()
    bridge = make_bridge(spec, tmp_path, tracker=tracker, parent_run_id="parent")
    complete(bridge, "a", [0.2, 0.4])
    complete(bridge, "b", [0.3, 0.5])

    def drawn_then_stopped(study: Any, directory: Path) -> list[Path]:
        directory.mkdir(parents=True)
        (directory / "optimization_history.png").write_bytes(b"png")
        raise Interrupted(signal.SIGINT)

    monkeypatch.setattr("tuner.study.plots.write_plots", drawn_then_stopped)
    options = RunOptions(results=tmp_path)
    with pytest.raises(Interrupted):
        driver._finish(spec, bridge.study, bridge, tracker, "parent", tmp_path, options, "FINISHED")
    assert tracker.named("end_sweep") == [
        ("parent", "KILLED", ["leaderboard.csv", "optimization_history.png"])
    ]


@pytest.mark.parametrize("name", driver.FULL_DISK_LOGGERS)
def test_rays_traceback_for_a_snapshot_a_full_disk_refused_is_not_printed(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The campaign's full disk: Ray's "Experiment state snapshotting failed" with 50
    lines of stack came before the sweep's one line; any other error still shows."""
    import errno
    import logging

    driver._quiet_full_disk_snapshots()
    logger = logging.getLogger(name)
    for error in (OSError(errno.ENOSPC, "No space left on device"), ValueError("a bug")):
        try:
            raise error
        except Exception:
            logger.error("Experiment state snapshotting failed:", exc_info=True, stack_info=True)
    assert [r.exc_info[1] for r in caplog.records if r.exc_info] == [error]


def test_a_second_signal_swallowed_by_a_finalizer_prints_no_traceback(monkeypatch, capfd) -> None:
    """SIGTERM twice in CI: the second landed while a weakref callback ran, its
    Interrupted was swallowed there and printed as "Exception ignored … Traceback". It is
    dropped quietly (the stop the first signal began goes on); other unraisable errors
    still reach the hook that was there."""
    import gc
    import sys

    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    driver._quiet_swallowed_interrupts()

    class Finalized:
        def __init__(self, error: BaseException) -> None:
            self.error = error

        def __del__(self) -> None:
            raise self.error

    Finalized(Interrupted(signal.SIGTERM))  # (dropped at once: its finalizer raises)
    gc.collect()
    assert "Traceback" not in capfd.readouterr().err
    Finalized(ValueError("a real one"))
    gc.collect()
    assert "ValueError: a real one" in capfd.readouterr().err
