"""tuner.sweep.events: what the engine announces, seen by a recording listener — the
bridge decides and writes the study, then tells each listener, in order, with plain
data; a listener overrides only the hooks it needs (the rest are no-ops)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.sweep.test_bridge import make_bridge, make_spec, run_epochs
from tuner.sweep.events import Ended, Listener, Started
from tuner.sweep.stop import Halt, Stop


class Recorder(Listener):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def trial_started(self, event: Started) -> None:
        self.events.append(("started", (event.number, dict(event.params), event.resumed)))

    def epoch_recorded(self, number: int, epoch: int, metrics: Any, value: float | None) -> None:
        self.events.append(("epoch", (number, epoch, dict(metrics), value)))

    def trial_pruned(self, number: int, epoch: int) -> None:
        self.events.append(("pruned", (number, epoch)))

    def trial_finished(self, event: Ended) -> None:
        self.events.append(("finished", (event.number, event.state, event.value, event.reason)))

    def sweep_stopping(self, halt: Halt) -> None:
        self.events.append(("stopping", (halt.kind, halt.why)))


class Quiet(Listener):
    """Overrides nothing: every event is a no-op."""


def test_a_sweeps_events_reach_each_listener_in_order(tmp_path: Path) -> None:
    recorder = Recorder()
    spec = make_spec(trials=3, pruner="{type: threshold, lower: 0.5}")
    bridge = make_bridge(spec, tmp_path, listeners=[Quiet(), recorder])

    first = bridge.ask("ray-1")
    assert first is not None
    run_epochs(bridge, "ray-1", [0.8, 0.9])
    bridge.finish("ray-1")
    bridge.ask("ray-2")
    assert run_epochs(bridge, "ray-2", [0.2]) == [True]
    bridge.finish("ray-2")
    bridge.ask("ray-3")
    bridge.stop(Stop.SIGNAL, "interrupted (Ctrl-C)")
    bridge.finish("ray-3")

    x = first["config"]["x"]
    names = [name for name, _ in recorder.events]
    assert names == [
        "started",
        "epoch",
        "epoch",
        "finished",
        "started",
        "epoch",
        "pruned",
        "finished",
        "started",
        "stopping",
        "finished",
    ]
    assert recorder.events[0] == ("started", (0, {"x": x}, False))
    assert recorder.events[1] == ("epoch", (0, 1, {"score": 0.8}, 0.8))
    assert recorder.events[3] == ("finished", (0, "COMPLETE", 0.9, None))
    assert recorder.events[6] == ("pruned", (1, 1))
    assert recorder.events[7] == ("finished", (1, "PRUNED", None, "pruned after epoch 1"))
    assert recorder.events[9] == ("stopping", (Stop.SIGNAL, "interrupted (Ctrl-C)"))
    assert recorder.events[10] == ("finished", (2, "RUNNING", None, "interrupted (Ctrl-C)"))


def test_a_failure_is_announced_as_the_trials_end_with_its_reason(tmp_path: Path) -> None:
    recorder = Recorder()
    bridge = make_bridge(make_spec(), tmp_path, listeners=[recorder])
    bridge.ask("ray-1")

    bridge.failed("ray-1", "RuntimeError: boom")
    bridge.finish("ray-1")

    assert recorder.events[-1] == ("finished", (0, "FAIL", None, "RuntimeError: boom"))
