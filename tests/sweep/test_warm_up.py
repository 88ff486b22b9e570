"""tuner.sweep.warm_up: a worker runs the objective's process hooks in the background
as it starts (the end-to-end check is in test_resume's TensorFlow sweep)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tuner.objective_loader import load_objective
from tuner.sweep import trial_runner, warm_up


def _join_warm_up() -> None:
    for thread in threading.enumerate():
        if thread.name == "tuner-warm-up":
            thread.join(timeout=30)


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a new worker: no warm-up started, no objective set up."""
    monkeypatch.setattr(warm_up, "_started", threading.Event())
    monkeypatch.setattr(trial_runner, "_set_up", set())


def test_a_plan_runs_setup_process_then_warm_up_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_process: None
) -> None:
    log = tmp_path / "warm.log"
    monkeypatch.setenv("CHEAP_WARM_LOG", str(log))
    config = {"warm_log": str(log), "dataset": "builtin:breast_cancer"}
    monkeypatch.setenv(warm_up.ENV, warm_up.plan("tests.sweep.cheap:warmed", config, 2, 0.5))
    warm_up.start()
    warm_up.start()  # called again: still one warm-up
    _join_warm_up()
    assert log.read_text().splitlines() == [
        "setup {'cpu': 2.0, 'gpu': 0.5}",
        "warm ['dataset', 'warm_log']",
    ]
    # the first trial in this process does not set the objective up again
    trial_runner.set_up_process(load_objective("tests.sweep.cheap:warmed"), {"cpu": 2, "gpu": 0.5})
    assert len(log.read_text().splitlines()) == 2


def test_no_plan_no_thread(monkeypatch: pytest.MonkeyPatch, fresh_process: None) -> None:
    monkeypatch.delenv(warm_up.ENV, raising=False)
    before = threading.active_count()
    warm_up.start()
    assert threading.active_count() == before
    assert not warm_up._started.is_set()


def test_a_warm_up_that_fails_is_silent(
    monkeypatch: pytest.MonkeyPatch, fresh_process: None
) -> None:
    """A head start only: the first trial meets the same problem and reports it."""
    monkeypatch.setenv(warm_up.ENV, warm_up.plan("no.such.module:fn", {}, 1, 0))
    warm_up.start()
    _join_warm_up()  # ended, without raising in the worker
