"""The two Ray Tune classes over the bridge (`tuner.sweep.ray_adapters`): the searcher's
and the scheduler's decisions, called the way Ray's controller calls them, on an
in-memory Optuna study and plain result dicts — Ray itself is never started (importing
ray.tune does not start it), the way Syne Tune unit-tests its schedulers.

Covered: suggest → a config, `None` (wait: a running trial may still need a re-run) or
FINISHED; on_trial_complete → the study told, a full disk turned into a resumable stop;
on_trial_result → the pruner's STOP/CONTINUE, a failing trial's last report never
stopped, an inner scheduler (ASHA) deciding instead and its stops recorded PRUNED; and
a trial whose worker process died (`on_trial_error` reads Ray's pickled error):
re-run under the same number with the same config up to budget.max_retries, then
failed with "(after N re-runs)".

`import ray.tune` takes about a second, so these tests live apart from the instant
bridge tests (test_bridge.py, whose helpers they share).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import optuna
import pytest
from ray import cloudpickle
from ray.exceptions import ActorDiedError, RayActorError, RayTaskError
from ray.tune.schedulers import ASHAScheduler, TrialScheduler
from ray.tune.search import Searcher

from tests.sweep.test_bridge import (
    RAY_TEXT,
    FakeProgress,
    FakeTracker,
    make_bridge,
    make_spec,
    run_epochs,
    trial,
)
from tuner.study import records
from tuner.sweep.bridge import Bridge, Stop
from tuner.sweep.ray_adapters import PrunerScheduler, StudySearcher, reported
from tuner.sweep.trial_runner import EPOCH, FAILED, REASON

State = optuna.trial.TrialState
STOP, CONTINUE = TrialScheduler.STOP, TrialScheduler.CONTINUE


def ray_trial(trial_id: str, error_file: Path | None = None) -> Any:
    """What the adapters read of Ray's Trial: its id and its pickled error's path."""
    return SimpleNamespace(trial_id=trial_id, pickled_error_file=str(error_file or "/nowhere"))


@dataclass
class FakeInner:
    """An inner Ray scheduler that answers `decision` and records what it is told."""

    decision: str = CONTINUE
    calls: list[tuple[str, str]] = field(default_factory=list)

    def on_trial_add(self, controller: Any, trial: Any) -> None:
        self.calls.append(("add", trial.trial_id))

    def on_trial_result(self, controller: Any, trial: Any, result: dict[str, Any]) -> str:
        self.calls.append(("result", trial.trial_id))
        return self.decision

    def on_trial_complete(self, controller: Any, trial: Any, result: dict[str, Any]) -> None:
        self.calls.append(("complete", trial.trial_id))

    def on_trial_remove(self, controller: Any, trial: Any) -> None:
        self.calls.append(("remove", trial.trial_id))

    def on_trial_error(self, controller: Any, trial: Any) -> None:
        self.calls.append(("error", trial.trial_id))


def adapters(bridge: Bridge, inner: Any | None = None) -> tuple[StudySearcher, PrunerScheduler]:
    return StudySearcher(bridge), PrunerScheduler(bridge, inner)


def die(
    searcher: StudySearcher,
    scheduler: PrunerScheduler,
    trial_id: str,
    tmp_path: Path,
    error: BaseException | None = None,
) -> None:
    """Ray's order when a trial's worker dies: the scheduler's on_trial_error (the error
    pickled in the trial's folder), then the searcher's on_trial_complete(error=True)."""
    path = tmp_path / f"{trial_id}.error.pkl"
    path.write_bytes(
        cloudpickle.dumps(error if error is not None else RayActorError(error_msg=RAY_TEXT))
    )
    scheduler.on_trial_error(None, ray_trial(trial_id, path))
    searcher.on_trial_complete(trial_id, None, error=True)


# ----------------------------------------------------------------------------- the searcher


def test_the_searcher_takes_the_studys_metric_and_goal(tmp_path: Path) -> None:
    searcher = StudySearcher(make_bridge(make_spec(goal="minimize"), tmp_path))

    assert (searcher.metric, searcher.mode) == ("score", "min")
    assert searcher.set_search_properties("other", "max", {}) is True
    assert (searcher.metric, searcher.mode) == ("score", "min")


def test_suggest_gives_the_bridges_config(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)
    searcher, _ = adapters(bridge)

    config = searcher.suggest("ray-1")

    assert isinstance(config, dict) and config["number"] == 0
    assert "ray-1" in bridge.running


def test_suggest_is_finished_when_the_budget_is_spent_and_nothing_runs(
    tmp_path: Path,
) -> None:
    bridge = make_bridge(make_spec(trials=1, retries=0), tmp_path)
    searcher, _ = adapters(bridge)
    searcher.suggest("ray-1")
    assert searcher.suggest("ray-2") is None  # (Ray could still drop the running one)
    run_epochs(bridge, "ray-1", [0.5])
    searcher.on_trial_complete("ray-1", {EPOCH: 1, "score": 0.5})

    assert searcher.suggest("ray-3") == Searcher.FINISHED


def test_suggest_waits_while_a_running_trial_may_still_be_rerun(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=1, retries=1), tmp_path)
    searcher, _ = adapters(bridge)
    searcher.suggest("ray-1")

    assert searcher.suggest("ray-2") is None  # Ray asks again later
    run_epochs(bridge, "ray-1", [0.5])
    searcher.on_trial_complete("ray-1", {EPOCH: 1, "score": 0.5})

    assert searcher.suggest("ray-3") == Searcher.FINISHED


def test_suggest_is_finished_once_the_sweep_is_stopping(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=3, retries=1), tmp_path)
    searcher, _ = adapters(bridge)
    searcher.suggest("ray-1")

    bridge.stop(Stop.SIGNAL, "Ctrl-C")

    assert searcher.suggest("ray-2") == Searcher.FINISHED


def test_the_searcher_keeps_no_state_of_its_own(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)
    searcher, _ = adapters(bridge)
    searcher.suggest("ray-1")

    searcher.save(str(tmp_path / "snapshot"))
    searcher.restore(str(tmp_path / "snapshot"))
    searcher.on_trial_result("ray-1", {EPOCH: 1, "score": 0.5})  # the scheduler records it

    assert not (tmp_path / "snapshot").exists()
    assert trial(bridge.study, 0).intermediate_values == {}


def test_on_trial_complete_tells_the_study(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)
    searcher, scheduler = adapters(bridge)
    searcher.suggest("ray-1")
    scheduler.on_trial_result(None, ray_trial("ray-1"), {EPOCH: 1, "score": 0.4})

    searcher.on_trial_complete("ray-1", {EPOCH: 1, "score": 0.4})

    frozen = trial(bridge.study, 0)
    assert frozen.state == State.COMPLETE and frozen.value == 0.4


class FullDiskTracker(FakeTracker):
    """MLflow's store on a full disk: ending a trial's run raises."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    def end_trial(self, run_id: str, state: str, value: float | None, reason: str | None) -> None:
        raise self.error


def test_a_full_disk_while_telling_stops_the_sweep_resumably(tmp_path: Path) -> None:
    error = OSError(errno.ENOSPC, "No space left on device")
    bridge = make_bridge(make_spec(), tmp_path, tracker=FullDiskTracker(error))
    searcher, _ = adapters(bridge)
    searcher.suggest("ray-1")

    searcher.on_trial_complete("ray-1", None, error=True)  # does not raise into Ray

    assert bridge.halt.full is error
    assert bridge.halt.kind is Stop.DISK_FULL and bridge.interrupted


def test_any_other_tracker_error_while_telling_stops_the_sweep_resumably(tmp_path: Path) -> None:
    """Not raised inside Ray's callback (which failed the running trials for good): kept,
    and raised by the driver once the sweep has stopped (a bug keeps its traceback)."""
    bridge = make_bridge(make_spec(), tmp_path, tracker=FullDiskTracker(ValueError("a bug")))
    searcher, _ = adapters(bridge)
    searcher.suggest("ray-1")

    searcher.on_trial_complete("ray-1", None, error=True)
    assert bridge.halt.kind is Stop.TRACKING and bridge.interrupted
    assert isinstance(bridge.halt.tracking, ValueError)


# ----------------------------------------------------------------------------- the scheduler


def test_the_scheduler_stops_a_trial_the_pruner_prunes(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(pruner="{type: threshold, lower: 0.5}"), tmp_path)
    searcher, scheduler = adapters(bridge)
    searcher.suggest("ray-1")
    ray_1 = ray_trial("ray-1")

    assert scheduler.on_trial_result(None, ray_1, {EPOCH: 1, "score": 0.9}) == CONTINUE
    assert scheduler.on_trial_result(None, ray_1, {EPOCH: 2, "score": 0.2}) == STOP
    searcher.on_trial_complete("ray-1", {EPOCH: 2, "score": 0.2})

    assert trial(bridge.study, 0).state == State.PRUNED


def test_a_failing_trials_last_report_is_never_stopped(tmp_path: Path) -> None:
    inner = FakeInner(decision=STOP)
    bridge = make_bridge(make_spec(pruner="{type: threshold, lower: 0.5}"), tmp_path)
    searcher, scheduler = adapters(bridge, inner)
    searcher.suggest("ray-1")
    failure = {FAILED: 1, REASON: "RuntimeError: boom"}

    assert scheduler.on_trial_result(None, ray_trial("ray-1"), failure) == CONTINUE
    searcher.on_trial_complete("ray-1", failure)

    assert inner.calls == []  # the trial is ending on its own
    frozen = trial(bridge.study, 0)
    assert frozen.state == State.FAIL
    assert frozen.user_attrs[records.TRIAL_REASON] == "RuntimeError: boom"


def test_an_inner_schedulers_stop_is_recorded_as_pruned(tmp_path: Path) -> None:
    inner = FakeInner()
    bridge = make_bridge(make_spec(), tmp_path)
    searcher, scheduler = adapters(bridge, inner)
    searcher.suggest("ray-1")
    ray_1 = ray_trial("ray-1")

    assert scheduler.on_trial_result(None, ray_1, {EPOCH: 1, "score": 0.9}) == CONTINUE
    inner.decision = STOP
    assert scheduler.on_trial_result(None, ray_1, {EPOCH: 2, "score": 0.8}) == STOP
    searcher.on_trial_complete("ray-1", {EPOCH: 2, "score": 0.8})

    frozen = trial(bridge.study, 0)
    assert frozen.state == State.PRUNED and frozen.intermediate_values == {1: 0.9, 2: 0.8}
    assert frozen.user_attrs[records.TRIAL_REASON] == "pruned after epoch 2"


def test_the_pruners_stop_is_not_put_to_the_inner_scheduler(tmp_path: Path) -> None:
    inner = FakeInner(decision=CONTINUE)
    bridge = make_bridge(make_spec(pruner="{type: threshold, lower: 0.5}"), tmp_path)
    searcher, scheduler = adapters(bridge, inner)
    searcher.suggest("ray-1")

    assert scheduler.on_trial_result(None, ray_trial("ray-1"), {EPOCH: 1, "score": 0.1}) == STOP
    assert inner.calls == []


def test_a_pause_from_the_inner_scheduler_passes_through_without_pruning(
    tmp_path: Path,
) -> None:
    inner = FakeInner(decision=TrialScheduler.PAUSE)
    bridge = make_bridge(make_spec(), tmp_path)
    searcher, scheduler = adapters(bridge, inner)
    searcher.suggest("ray-1")

    assert scheduler.on_trial_result(None, ray_trial("ray-1"), {EPOCH: 1, "score": 0.5}) == (
        TrialScheduler.PAUSE
    )
    assert not bridge.running["ray-1"].pruned


def test_the_trial_events_are_passed_to_the_inner_scheduler(tmp_path: Path) -> None:
    inner = FakeInner()
    _, scheduler = adapters(make_bridge(make_spec(), tmp_path), inner)
    ray_1 = ray_trial("ray-1")

    scheduler.on_trial_add(None, ray_1)
    scheduler.on_trial_complete(None, ray_1, {})
    scheduler.on_trial_remove(None, ray_1)
    scheduler.on_trial_error(None, ray_1)

    assert inner.calls == [
        ("add", "ray-1"),
        ("complete", "ray-1"),
        ("remove", "ray-1"),
        ("error", "ray-1"),
    ]
    assert scheduler.set_search_properties("m", "max") is True


def test_without_an_inner_scheduler_the_trial_events_are_no_ops(tmp_path: Path) -> None:
    _, scheduler = adapters(make_bridge(make_spec(), tmp_path))
    ray_1 = ray_trial("ray-1")

    scheduler.on_trial_add(None, ray_1)
    scheduler.on_trial_complete(None, ray_1, {})
    scheduler.on_trial_remove(None, ray_1)
    scheduler.on_trial_error(None, ray_1)  # unknown to the bridge: nothing to say


def test_asha_stops_the_worse_trials_and_they_are_recorded_pruned(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=3, epochs=4), tmp_path)
    asha = ASHAScheduler(
        time_attr="epoch", metric="score", mode="max", max_t=4, grace_period=1, reduction_factor=2
    )
    searcher, scheduler = adapters(bridge, asha)
    decisions = []
    for ray_id, score in (("best", 0.9), ("good", 0.8), ("bad", 0.1)):
        searcher.suggest(ray_id)
        scheduler.on_trial_add(None, ray_trial(ray_id))
        decisions.append(
            scheduler.on_trial_result(None, ray_trial(ray_id), {EPOCH: 1, "score": score})
        )
    searcher.on_trial_complete("bad", {EPOCH: 1, "score": 0.1})

    assert decisions[0] == CONTINUE and decisions[2] == STOP
    assert trial(bridge.study, 2).state == State.PRUNED


# ----------------------------------------------------------------------------- dead workers


def test_a_trial_whose_worker_died_runs_again_with_its_number_and_config(
    tmp_path: Path,
) -> None:
    progress = FakeProgress()
    bridge = make_bridge(make_spec(trials=1, retries=1), tmp_path, progress=progress)
    searcher, scheduler = adapters(bridge)
    first = searcher.suggest("ray-1")
    run_epochs(bridge, "ray-1", [0.5, 0.6])

    die(searcher, scheduler, "ray-1", tmp_path)

    frozen = trial(bridge.study, 0)
    assert frozen.state == State.RUNNING and frozen.user_attrs[records.TRIAL_RETRIES] == 1
    assert progress.named("trial_finished")[-1] == (
        0,
        "RUNNING",
        None,
        "the worker process died (pid 812, killed or crashed; Ray: SYSTEM_ERROR, Worker "
        "unexpectedly exits with a connection error code 2. End of file); re-running it "
        "(1 of 1)",
    )
    again = searcher.suggest("ray-2")  # the budget is spent, the re-run is not
    assert isinstance(again, dict) and isinstance(first, dict)
    assert (again["number"], again["config"]) == (0, first["config"])
    assert bridge.counts.asked == 1
    # it resumes from its checkpoint: the epochs the study has are not reported again
    run_epochs(bridge, "ray-2", [0.5, 0.6, 0.7])
    assert bridge.counts.epochs == 3
    searcher.on_trial_complete("ray-2", {EPOCH: 3, "score": 0.7})
    frozen = trial(bridge.study, 0)
    assert frozen.state == State.COMPLETE and frozen.value == 0.7
    assert frozen.intermediate_values == {1: 0.5, 2: 0.6, 3: 0.7}


@pytest.mark.parametrize(("retries", "suffix"), [(1, "(after 1 re-run)"), (2, "(after 2 re-runs)")])
def test_a_trial_whose_worker_keeps_dying_fails_after_its_reruns(
    tmp_path: Path, retries: int, suffix: str
) -> None:
    bridge = make_bridge(make_spec(trials=1, retries=retries), tmp_path)
    searcher, scheduler = adapters(bridge)
    for attempt in range(retries + 1):
        config = searcher.suggest(f"ray-{attempt}")
        assert isinstance(config, dict) and config["number"] == 0
        die(searcher, scheduler, f"ray-{attempt}", tmp_path)

    frozen = trial(bridge.study, 0)
    assert frozen.state == State.FAIL
    assert frozen.user_attrs[records.TRIAL_REASON].endswith(suffix)
    assert frozen.user_attrs[records.TRIAL_REASON].startswith("the worker process died (pid 812")
    assert frozen.user_attrs[records.TRIAL_RETRIES] == retries
    assert searcher.suggest("ray-last") == Searcher.FINISHED


def test_with_no_reruns_allowed_a_dead_worker_fails_its_trial_at_once(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=1, retries=0), tmp_path)
    searcher, scheduler = adapters(bridge)
    searcher.suggest("ray-1")
    run_epochs(bridge, "ray-1", [0.5])

    die(searcher, scheduler, "ray-1", tmp_path, ActorDiedError())

    frozen = trial(bridge.study, 0)
    assert frozen.state == State.FAIL
    # Ray's text names no pid here: the one the trial reported is used
    assert frozen.user_attrs[records.TRIAL_REASON] == (
        "the worker process died (pid 4321, killed or crashed)"
    )


@pytest.mark.parametrize(
    "error",
    [RayTaskError("trainable", "Traceback ...", ValueError("boom")), None],
    ids=["task-error", "unreadable"],
)
def test_an_error_that_is_not_a_dead_worker_fails_the_trial_without_a_rerun(
    tmp_path: Path, error: BaseException | None
) -> None:
    bridge = make_bridge(make_spec(trials=1, retries=1), tmp_path)
    searcher, scheduler = adapters(bridge)
    searcher.suggest("ray-1")

    if error is None:  # the pickled error cannot be read: just "the trial errored"
        scheduler.on_trial_error(None, ray_trial("ray-1", tmp_path / "missing.pkl"))
        searcher.on_trial_complete("ray-1", None, error=True)
    else:
        die(searcher, scheduler, "ray-1", tmp_path, error)

    frozen = trial(bridge.study, 0)
    assert frozen.state == State.FAIL
    assert frozen.user_attrs[records.TRIAL_REASON] == "the trial errored"
    assert bridge.retry == []


def test_a_worker_that_dies_after_a_signal_leaves_its_trial_resumable(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=1, retries=1), tmp_path)
    searcher, scheduler = adapters(bridge)
    searcher.suggest("ray-1")
    bridge.stop(Stop.SIGNAL, "Ctrl-C")  # the process group's Ctrl-C reaches the worker too

    die(searcher, scheduler, "ray-1", tmp_path)

    assert trial(bridge.study, 0).state == State.RUNNING
    assert bridge.retry == []


def test_a_worker_that_dies_after_the_time_ran_out_fails_its_trial_without_a_rerun(
    tmp_path: Path,
) -> None:
    bridge = make_bridge(make_spec(trials=1, retries=1), tmp_path)
    searcher, scheduler = adapters(bridge)
    searcher.suggest("ray-1")
    bridge.stop(Stop.TIME_BUDGET, "the sweep's time budget ran out")

    die(searcher, scheduler, "ray-1", tmp_path)

    frozen = trial(bridge.study, 0)
    assert frozen.state == State.FAIL
    assert frozen.user_attrs[records.TRIAL_REASON].startswith("the worker process died (pid 812")
    assert bridge.retry == []


def test_a_rerun_still_queued_when_the_user_stops_stays_resumable(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=2, retries=1), tmp_path)
    searcher, scheduler = adapters(bridge)
    searcher.suggest("ray-1")
    die(searcher, scheduler, "ray-1", tmp_path)
    assert [entry.number for entry in bridge.retry] == [0]

    bridge.stop(Stop.SIGNAL, "Ctrl-C")
    bridge.close()

    assert trial(bridge.study, 0).state == State.RUNNING
    assert bridge.retry == [] and bridge.running == {}


def test_a_rerun_still_queued_when_the_sweep_ends_fails_with_the_death(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=2, retries=1), tmp_path)
    searcher, scheduler = adapters(bridge)
    searcher.suggest("ray-1")
    die(searcher, scheduler, "ray-1", tmp_path)

    bridge.close()

    assert bridge.halt.kind is Stop.ENDED
    frozen = trial(bridge.study, 0)
    assert frozen.state == State.FAIL
    assert frozen.user_attrs[records.TRIAL_REASON].startswith("the worker process died (pid 812")


def test_a_rerun_that_never_started_is_not_reported_as_a_rerun(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=2, retries=1), tmp_path)
    searcher, scheduler = adapters(bridge)
    searcher.suggest("ray-1")
    die(searcher, scheduler, "ray-1", tmp_path)

    bridge.close()

    assert "re-run" not in trial(bridge.study, 0).user_attrs[records.TRIAL_REASON]


def test_the_watch_hands_the_bridge_a_trial_ray_ended_without_a_word(tmp_path: Path) -> None:
    """Ray 2.60 sets a trial ERROR when it cannot reset a reused worker for it, calling
    neither the scheduler nor the searcher: `TrialWatch` finds it at the next step."""
    from tuner.sweep.ray_adapters import TrialWatch

    bridge = make_bridge(make_spec(trials=2, retries=0), tmp_path)
    searcher, scheduler = adapters(bridge)
    watch = TrialWatch(scheduler)
    first, second = ray_trial("ray-1"), ray_trial("ray-2")
    for ray in (first, second):
        assert isinstance(searcher.suggest(ray.trial_id), dict)
        scheduler.on_trial_add(None, ray)
        ray.status = "RUNNING"

    watch.on_step_begin(1, [first, second])
    assert set(bridge.running) == {"ray-1", "ray-2"}

    first.status = "ERROR"  # dropped: no on_trial_error, no on_trial_complete
    scheduler.on_trial_complete(None, second, {})  # (a normal end: told first)
    second.status = "TERMINATED"
    watch.on_step_begin(2, [first, second])

    assert "ray-1" not in bridge.running and [e.number for e in bridge.retry] == [0]
    assert scheduler.added == {}
    again = searcher.suggest("ray-3")
    assert isinstance(again, dict) and again["number"] == 0


def test_an_epochs_result_reaches_the_bridge_without_rays_own_keys(tmp_path: Path) -> None:
    """Ray's keys go by Ray's own list of them (tuner.compat.ray.result_keys), not by a
    list kept here: what the bridge records is what the trial reported."""
    tracker = FakeTracker()
    bridge = make_bridge(make_spec(), tmp_path, tracker=tracker)
    searcher, scheduler = adapters(bridge)
    searcher.suggest("ray-1")
    ray_bookkeeping = {
        "training_iteration": 1,
        "time_this_iter_s": 0.1,
        "time_total_s": 0.1,
        "timestamp": 123,
        "time_since_restore": 0.1,
        "iterations_since_restore": 1,
        "pid": 4321,
        "done": False,
        "trial_id": "ray-1",
        "config/x": 0.5,
    }

    scheduler.on_trial_result(None, ray_trial("ray-1"), {EPOCH: 1, "score": 0.5, **ray_bookkeeping})

    assert reported({EPOCH: 1, "score": 0.5, **ray_bookkeeping}) == {EPOCH: 1, "score": 0.5}
    assert tracker.named("log_epoch") == [("run-0-1", 1, {"score": 0.5})]
