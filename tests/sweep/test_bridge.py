"""The sweep's driver-side record (`tuner.sweep.bridge.Bridge`) as pure logic: an
in-memory Optuna study, plain result dicts as Ray would pass them, and recording fakes
for the MLflow tracker and the progress display — no Ray, no MLflow, no TensorFlow.

Until now these rules were only exercised inside real Ray sweeps (tests/sweep/test_sweep.py,
test_resume.py, minutes each); here each is one fast test, the way Optuna tests its
pruners: the trial budget, re-asking the trials a dead driver left RUNNING with their
config, epochs as intermediate values (a resumed trial's replayed epochs not reported
twice), pruning decisions, how `finish` tells COMPLETE / FAIL / PRUNED or leaves a trial
RUNNING, the precedence of the reasons a sweep stops, the derived counts, the best value
seeded from the study on resume, and Ray's worker-death text.

Trials whose worker died (`worker_died` needs Ray's exception class) are tested with
the Ray adapters, in test_ray_adapters.py, so that this file imports no Ray at all.

The helpers here (`make_spec`, `make_study`, `make_bridge`, the fakes) are shared with
test_ray_adapters.py.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import optuna
import pytest

from tuner.search.distributions import make_pruner, make_sampler
from tuner.space.load import parse_spec
from tuner.space.model import SweepSpec
from tuner.study import records
from tuner.sweep.bridge import Bridge, Counts, Stop, died_reason
from tuner.sweep.listeners import ProgressListener, TrackerListener
from tuner.sweep.trial_runner import EPOCH, NODE, PID

optuna.logging.set_verbosity(optuna.logging.WARNING)
State = optuna.trial.TrialState

SPACE = """\
name: unit
objective: tests.sweep.cheap:train
metric: {{name: score, goal: {goal}}}
{score}budget: {{trials: {trials}, max_epochs: {epochs}, max_retries: {retries}{budget}}}
concurrency: {concurrency}
sampler: {{type: random, seed: 1}}
pruner: {pruner}
params:
  x: {{float: [0.0, 1.0]}}
"""


def make_spec(
    *,
    trials: int = 3,
    epochs: int = 3,
    retries: int = 1,
    pruner: str = "{type: none}",
    goal: str = "maximize",
    budget: str = "",
    concurrency: int = 8,
    score: str | None = None,
    constraints: str = "",
) -> SweepSpec:
    """A small space file's spec (objective not loaded: nothing runs it here); `score`
    the space file's `score:` (None: not given, the best epoch's), `constraints` YAML
    lines of its own."""
    text = SPACE.format(
        score=(f"score: {score}\n" if score else "") + constraints,
        trials=trials,
        epochs=epochs,
        retries=retries,
        pruner=pruner,
        goal=goal,
        budget=budget,
        concurrency=concurrency,
    )
    return parse_spec(text, "space.yaml", check_objective=False)


def make_study(spec: SweepSpec) -> optuna.Study:
    """An in-memory study with the spec's sampler and pruner, as the driver makes it."""
    return optuna.create_study(
        study_name=spec.name,
        direction=spec.metric.direction,
        sampler=make_sampler(spec),
        pruner=make_pruner(spec),
    )


def reopen(study: optuna.Study, spec: SweepSpec) -> optuna.Study:
    """The same study as a new driver process opens it: same storage, a fresh sampler."""
    return optuna.load_study(
        study_name=study.study_name,
        storage=study._storage,
        sampler=make_sampler(spec),
        pruner=make_pruner(spec),
    )


@dataclass
class FakeTracker:
    """Records the tracker calls the bridge makes (the MLflow side, faked)."""

    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    started: int = 0
    statuses: dict[int, str] = field(default_factory=dict)  # MLflow's, as the sweep starts

    def start_trial(
        self, parent_run_id: str | None, number: int, config: dict[str, Any], tags: dict[str, str]
    ) -> str:
        self.started += 1
        self.calls.append(("start_trial", (parent_run_id, number, config, tags)))
        return f"run-{number}-{self.started}"

    def log_epoch(self, run_id: str, epoch: int, metrics: dict[str, float]) -> None:
        self.calls.append(("log_epoch", (run_id, epoch, metrics)))

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        self.calls.append(("set_tags", (run_id, tags)))

    def end_trial(self, run_id: str, state: str, value: float | None, reason: str | None) -> None:
        self.calls.append(("end_trial", (run_id, state, value, reason)))

    def log_best(self, parent_run_id: str | None, value: float, finished: int) -> None:
        self.calls.append(("log_best", (parent_run_id, value, finished)))

    def run_id(self, handle: str) -> str:
        """The handle's MLflow id (the writer process's tracker resolves them late)."""
        self.calls.append(("run_id", (handle,)))
        return f"mlflow-{handle}"

    def trial_statuses(self, parent_run_id: str | None) -> dict[int, str]:
        return dict(self.statuses)

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [args for called, args in self.calls if called == name]


@dataclass
class FakeProgress:
    """Records what the live progress display is told."""

    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    bests: list[tuple[float, int, dict[str, Any]] | None] = field(default_factory=list)

    def trial_started(self, number: int, params: dict[str, Any]) -> None:
        self.calls.append(("trial_started", (number, params)))

    def epoch(self, number: int, epoch: int, value: float) -> None:
        self.calls.append(("epoch", (number, epoch, value)))

    def trial_finished(
        self,
        number: int,
        state: str,
        value: float | None,
        reason: str | None,
        *,
        best: tuple[float, int, dict[str, Any]] | None = None,
        front: dict[str, Any] | None = None,
    ) -> None:
        self.calls.append(("trial_finished", (number, state, value, reason)))
        self.bests.append(best)
        assert front is None  # (one metric: no front)

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [args for called, args in self.calls if called == name]


def make_bridge(
    spec: SweepSpec,
    results: Path,
    study: optuna.Study | None = None,
    *,
    tracker: FakeTracker | None = None,
    progress: FakeProgress | None = None,
    parent_run_id: str | None = None,
    **kwargs: Any,
) -> Bridge:
    """A bridge as the driver makes it: the fake tracker and progress display, when
    given, listening through the real listeners (tuner/sweep/listeners.py)."""
    bridge = Bridge(spec, study if study is not None else make_study(spec), results, **kwargs)
    if tracker is not None:
        bridge.listeners.append(
            TrackerListener(cast(Any, tracker), parent_run_id, bridge.tracking_failed)
        )
    if progress is not None:
        bridge.listeners.append(ProgressListener(cast(Any, progress)))
    return bridge


def run_epochs(bridge: Bridge, ray_id: str, values: list[float], start: int = 1) -> list[bool]:
    """Report `values` as consecutive epochs from `start`; the pruning decisions."""
    return [
        bridge.record(ray_id, {EPOCH: epoch, "score": value, PID: 4321, NODE: "node-a"})
        for epoch, value in enumerate(values, start)
    ]


def complete(bridge: Bridge, ray_id: str, values: list[float]) -> int:
    """Ask, report `values`, finish: one trial COMPLETE (its best value, unless
    `score: last`); its number."""
    config = bridge.ask(ray_id)
    assert config is not None
    run_epochs(bridge, ray_id, values)
    bridge.finish(ray_id)
    return int(config["number"])


def trial(study: optuna.Study, number: int) -> optuna.trial.FrozenTrial:
    return study.get_trials(deepcopy=False)[number]


# ----------------------------------------------------------------------------- asking


def test_ask_returns_the_ray_config_of_a_new_trial_and_records_it(tmp_path: Path) -> None:
    spec = make_spec()
    tracker, progress = FakeTracker(), FakeProgress()
    bridge = make_bridge(spec, tmp_path, tracker=tracker, parent_run_id="parent", progress=progress)

    config = bridge.ask("ray-1")

    assert config is not None
    assert set(config) == {
        "number",
        "objective",
        "config",
        "trial_dir",
        "cpu",
        "gpu",
        "resume_epoch",
        "objective_folder",
        "scored_by",
    }
    # the objective is told the metric whose best epoch scores the trial (it keeps that
    # epoch's weights as its model)
    assert config["scored_by"] == {"name": "score", "goal": "maximize"}
    assert config["number"] == 0 and config["resume_epoch"] == 0  # (a new trial)
    assert config["objective_folder"] == str(Path.cwd())  # the space file's ("space.yaml")
    assert config["objective"] == "tests.sweep.cheap:train"
    assert config["config"]["epochs"] == 3 and 0.0 <= config["config"]["x"] <= 1.0
    assert config["trial_dir"] == str(tmp_path / "unit" / "trials" / "0")
    assert config["gpu"] == 0
    frozen = trial(bridge.study, 0)
    assert frozen.state == State.RUNNING
    assert frozen.user_attrs[records.TRIAL_CONFIG] == config["config"]
    assert frozen.user_attrs[records.TRIAL_RAY_ID] == "ray-1"
    # (the run's MLflow id is recorded when the trial ends: the tracker may create it late)
    assert records.TRIAL_RUN_ID not in frozen.user_attrs
    assert tracker.named("start_trial") == [
        ("parent", 0, config["config"], {"ray_trial_id": "ray-1"})
    ]
    assert progress.named("trial_started") == [(0, {"x": config["config"]["x"]})]
    assert bridge.counts.asked == 1


def test_ask_gives_the_trial_budget_and_then_none(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=2), tmp_path)

    numbers = [bridge.ask(f"ray-{i}") for i in range(2)]

    assert [c["number"] for c in numbers if c is not None] == [0, 1]
    assert bridge.budget_left() == 0
    assert bridge.ask("ray-2") is None
    assert bridge.ask("ray-3") is None  # Ray polls while trials run: still nothing
    assert len(bridge.study.trials) == 2 and bridge.counts.asked == 2


def test_the_budget_counts_the_trials_earlier_runs_asked(tmp_path: Path) -> None:
    spec = make_spec(trials=3)
    earlier = make_bridge(spec, tmp_path)
    complete(earlier, "a", [0.5])
    complete(earlier, "b", [0.6])

    bridge = make_bridge(spec, tmp_path, study=reopen(earlier.study, spec))

    assert (bridge.counts.asked, bridge.counts.before) == (2, 2)
    assert bridge.ask("c") is not None
    assert bridge.ask("d") is None


def test_ask_gives_nothing_once_the_sweep_is_stopping(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=5), tmp_path)
    bridge.stop(Stop.TIME_BUDGET, "the sweep's time budget ran out")

    assert bridge.ask("ray-1") is None
    assert bridge.study.trials == []


def test_a_stale_running_trial_is_asked_again_first_with_its_config(tmp_path: Path) -> None:
    spec = make_spec(trials=2)
    dead = make_bridge(spec, tmp_path)  # a driver that was killed mid-trial
    first = dead.ask("ray-old")
    assert first is not None
    run_epochs(dead, "ray-old", [0.2, 0.3])

    study = reopen(dead.study, spec)
    bridge = make_bridge(spec, tmp_path, study=study)
    again = bridge.ask("ray-new")

    assert again is not None
    assert again["number"] == 0 and again["config"] == first["config"]
    assert again["resume_epoch"] == 2  # the objective is told where its record stands
    assert bridge.resumed == [0]
    assert bridge.counts.asked == 1  # counted toward the budget when first asked
    assert len(study.trials) == 1
    assert trial(study, 0).user_attrs[records.TRIAL_RAY_ID] == "ray-new"
    fresh = bridge.ask("ray-next")
    assert fresh is not None and fresh["number"] == 1
    assert bridge.ask("ray-last") is None


def test_a_stale_trial_whose_config_was_torn_is_drawn_again_keeping_its_params(
    tmp_path: Path,
) -> None:
    spec = make_spec()
    study = make_study(spec)
    torn = study.ask()  # asked and sampled, but its config record never made it
    x = torn.suggest_float("x", 0.0, 1.0)

    bridge = make_bridge(spec, tmp_path, study=study)
    config = bridge.ask("ray-1")

    assert config is not None and config["number"] == 0
    assert config["config"] == {"epochs": 3, "x": x}
    assert trial(study, 0).user_attrs[records.TRIAL_CONFIG] == {"epochs": 3, "x": x}


def test_a_seeded_sweep_draws_the_same_configs_when_it_is_resumed(tmp_path: Path) -> None:
    spec = make_spec(trials=4)
    straight = make_bridge(spec, tmp_path)
    expected = [straight.ask(f"s{i}") for i in range(4)]

    first = make_bridge(spec, tmp_path)
    complete(first, "a", [0.5])
    complete(first, "b", [0.5])
    second = make_bridge(spec, tmp_path, study=reopen(first.study, spec))
    drawn = [second.ask("c"), second.ask("d")]

    assert [c["number"] for c in drawn if c] == [2, 3]
    resumed = [trial(first.study, n).params["x"] for n in range(4)]
    assert resumed == [c["config"]["x"] for c in expected if c]


# ----------------------------------------------------------------------------- results


def test_each_epoch_is_reported_to_the_study_and_logged_with_the_objectives_metrics(
    tmp_path: Path,
) -> None:
    tracker, progress = FakeTracker(), FakeProgress()
    bridge = make_bridge(make_spec(), tmp_path, tracker=tracker, progress=progress)
    bridge.ask("ray-1")
    not_metrics = {
        "tuner_other": 1.0,  # tuner's own keys (its wire format: tuner_*)
        "flag": True,  # a bool is no metric
        "note": "text",
    }  # (Ray's own keys never get here: see tests/sweep/test_ray_adapters.py)

    for epoch, score in ((1, 0.25), (2, 0.5)):
        result = {EPOCH: epoch, "score": score, "loss": 1 - score, PID: 99, NODE: "n1"}
        assert bridge.record("ray-1", {**result, **not_metrics}) is False

    assert trial(bridge.study, 0).intermediate_values == {1: 0.25, 2: 0.5}
    assert bridge.counts.epochs == 2
    assert tracker.named("log_epoch") == [
        ("run-0-1", 1, {"score": 0.25, "loss": 0.75}),
        ("run-0-1", 2, {"score": 0.5, "loss": 0.5}),
    ]
    assert tracker.named("set_tags") == [("run-0-1", {"ray_node_id": "n1", "pid": "99"})]
    attrs = trial(bridge.study, 0).user_attrs
    assert (attrs[records.TRIAL_NODE_ID], attrs[records.TRIAL_PID]) == ("n1", 99)
    assert progress.named("epoch") == [(0, 1, 0.25), (0, 2, 0.5)]


def test_a_result_without_an_epoch_counts_as_the_next_epoch(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)
    bridge.ask("ray-1")

    bridge.record("ray-1", {"score": 0.1})
    bridge.record("ray-1", {"score": 0.2})

    assert trial(bridge.study, 0).intermediate_values == {1: 0.1, 2: 0.2}


def test_a_non_finite_value_is_not_reported_and_a_trial_with_no_value_fails(
    tmp_path: Path,
) -> None:
    bridge = make_bridge(make_spec(), tmp_path)
    bridge.ask("ray-1")

    for epoch, value in enumerate((math.nan, math.inf), 1):
        assert bridge.record("ray-1", {EPOCH: epoch, "score": value}) is False
    bridge.record("ray-1", {EPOCH: 3, "loss": 0.5})  # the metric missing altogether
    bridge.finish("ray-1")

    frozen = trial(bridge.study, 0)
    assert frozen.intermediate_values == {}
    assert frozen.state == State.FAIL
    assert frozen.user_attrs[records.TRIAL_REASON] == "it never reported score"


def test_a_trial_whose_metric_was_only_nan_fails_saying_it_was_undefined(
    tmp_path: Path,
) -> None:
    """An AUC over a validation split of one class is NaN (no longer Keras's 0.0): the
    trial has no value, and its reason says why rather than "never reported"."""
    bridge = make_bridge(make_spec(), tmp_path)
    bridge.ask("ray-1")
    for epoch in (1, 2):
        assert bridge.record("ray-1", {EPOCH: epoch, "score": math.nan, "loss": 0.5}) is False
    bridge.finish("ray-1")

    frozen = trial(bridge.study, 0)
    assert frozen.state == State.FAIL and frozen.intermediate_values == {}
    assert frozen.user_attrs[records.TRIAL_REASON] == (
        "score was NaN (undefined), so the trial has no value (an AUC over a validation "
        "split of one class is undefined; see the trial's log)"
    )


def test_replayed_epochs_of_a_resumed_trial_are_not_reported_again(tmp_path: Path) -> None:
    spec = make_spec(pruner="{type: threshold, lower: 0.5}")
    dead = make_bridge(spec, tmp_path)
    dead.ask("ray-old")
    run_epochs(dead, "ray-old", [0.6, 0.7])
    tracker = FakeTracker()
    bridge = make_bridge(spec, tmp_path, study=reopen(dead.study, spec), tracker=tracker)
    bridge.ask("ray-new")

    # the objective resumes from its checkpoint and re-reports epochs 1 and 2 first (as
    # recorded: 0.7 is below no threshold here, but a replay is never a new decision)
    assert run_epochs(bridge, "ray-new", [0.6, 0.7]) == [False, False]
    assert bridge.counts.epochs == 0
    assert run_epochs(bridge, "ray-new", [0.8], start=3) == [False]

    assert trial(bridge.study, 0).intermediate_values == {1: 0.6, 2: 0.7, 3: 0.8}
    assert bridge.counts.epochs == 1
    # MLflow is given the study's record of the resumed trial first (what a killed driver's
    # writer may have lost), then what the objective re-reports (the tracker skips repeats)
    assert [epoch for _, epoch, _ in tracker.named("log_epoch")] == [1, 2, 1, 2, 3]
    assert tracker.named("log_epoch")[:2] == [
        ("run-0-1", 1, {"score": 0.6}),
        ("run-0-1", 2, {"score": 0.7}),
    ]


def test_a_resumed_trial_whose_objective_started_over_is_never_stitched(
    tmp_path: Path,
) -> None:
    """An objective without a checkpoint, its driver killed after epoch 2: the re-run
    reports epoch 1 again with another value. Its record is not glued from two runs: the
    trial is stopped and failed saying why, and its config starts over as a new trial
    that is not counted against the budget (as Optuna's RetryFailedTrialCallback does)."""
    spec = make_spec(trials=2, epochs=3)
    dead = make_bridge(spec, tmp_path)
    first = dead.ask("ray-old")
    assert first is not None
    run_epochs(dead, "ray-old", [0.81, 0.86])

    tracker, progress = FakeTracker(), FakeProgress()
    bridge = make_bridge(
        spec, tmp_path, study=reopen(dead.study, spec), tracker=tracker, progress=progress
    )
    assert bridge.ask("ray-new") is not None
    assert run_epochs(bridge, "ray-new", [0.80]) == [True]  # stopped at once
    bridge.finish("ray-new")

    old = trial(bridge.study, 0)
    assert old.state == State.FAIL
    assert old.intermediate_values == {1: 0.81, 2: 0.86}  # the first run's, untouched
    assert "its objective started over" in old.user_attrs[records.TRIAL_REASON]
    assert [args[1] for args in tracker.named("end_trial")] == ["FAIL"]
    # its run holds the first run's epochs (the study's record), nothing of the new run
    assert tracker.named("log_epoch") == [
        ("run-0-1", 1, {"score": 0.81}),
        ("run-0-1", 2, {"score": 0.86}),
    ]
    assert [(n, s) for n, s, _, _ in progress.named("trial_finished")] == [(0, "FAIL")]

    again = bridge.ask("ray-again")
    assert again is not None and again["number"] == 1
    assert again["config"] == first["config"]
    assert records.restart_of(trial(bridge.study, 1)) == 0
    assert bridge.counts.asked == 1 and bridge.budget_left() == 1
    assert run_epochs(bridge, "ray-again", [0.80, 0.85, 0.9]) == [False] * 3
    bridge.finish("ray-again")
    assert trial(bridge.study, 1).intermediate_values == {1: 0.80, 2: 0.85, 3: 0.9}
    assert bridge.counts.restarted == 1 and bridge.counts.failed == 1

    # a later driver counts the budget the same way
    later = make_bridge(spec, tmp_path, study=reopen(bridge.study, spec))
    assert later.counts.asked == 1 and later.budget_left() == 1


def test_a_resume_writes_the_finished_trials_mlflow_lacks_or_has_running(
    tmp_path: Path,
) -> None:
    """The study is the truth: a trial that ended while MLflow's writes failed (its run
    missing, or left RUNNING) is written on the next start, from the study's record."""
    spec = make_spec(trials=4)
    dead = make_bridge(spec, tmp_path)
    for ray_id in ("a", "b", "c"):
        complete(dead, ray_id, [0.2, 0.4])
    tracker = FakeTracker(statuses={0: "FINISHED", 1: "RUNNING"})  # 2: no run at all
    bridge = make_bridge(spec, tmp_path, study=reopen(dead.study, spec), tracker=tracker)

    assert bridge.catch_up() == 2
    assert [args[1] for args in tracker.named("start_trial")] == [1, 2]
    assert tracker.named("log_epoch") == [
        ("run-1-1", 1, {"score": 0.2}),
        ("run-1-1", 2, {"score": 0.4}),
        ("run-2-2", 1, {"score": 0.2}),
        ("run-2-2", 2, {"score": 0.4}),
    ]
    assert tracker.named("end_trial") == [
        ("run-1-1", "COMPLETE", 0.4, None),
        ("run-2-2", "COMPLETE", 0.4, None),
    ]
    assert bridge.catch_up() == 0  # once


def test_a_restart_enqueued_before_a_kill_is_asked_by_the_next_driver(tmp_path: Path) -> None:
    spec = make_spec(trials=1, epochs=2)
    dead = make_bridge(spec, tmp_path)
    dead.ask("ray-old")
    run_epochs(dead, "ray-old", [0.5])
    bridge = make_bridge(spec, tmp_path, study=reopen(dead.study, spec))
    bridge.ask("ray-new")
    assert run_epochs(bridge, "ray-new", [0.4]) == [True]
    bridge.finish("ray-new")  # ... and the driver is killed here

    later = make_bridge(spec, tmp_path, study=reopen(bridge.study, spec))
    assert later.budget_left() == 0 and later.restarts == 1
    config = later.ask("ray-later")
    assert config is not None and config["number"] == 1
    assert later.ask("ray-more") is None


def test_a_result_for_a_trial_the_bridge_does_not_run_is_ignored(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)

    assert bridge.record("unknown", {EPOCH: 1, "score": 0.5}) is False
    bridge.failed("unknown", "boom")
    bridge.finish("unknown", error=True)
    bridge.mark_pruned("unknown")

    assert bridge.study.trials == [] and bridge.counts == Counts()


# ----------------------------------------------------------------------------- pruning


def test_the_pruner_is_asked_after_each_new_epoch(tmp_path: Path) -> None:
    progress = FakeProgress()
    bridge = make_bridge(
        make_spec(pruner="{type: threshold, lower: 0.5}"), tmp_path, progress=progress
    )
    bridge.ask("ray-1")

    assert run_epochs(bridge, "ray-1", [0.7, 0.3]) == [False, True]
    bridge.finish("ray-1")

    frozen = trial(bridge.study, 0)
    assert frozen.state == State.PRUNED
    assert frozen.intermediate_values == {1: 0.7, 2: 0.3}
    assert frozen.user_attrs[records.TRIAL_REASON] == "pruned after epoch 2"
    assert bridge.counts.by_state == {"PRUNED": 1}
    assert progress.named("trial_finished") == [(0, "PRUNED", None, "pruned after epoch 2")]


def test_the_median_pruner_prunes_a_trial_below_the_finished_trials_median(
    tmp_path: Path,
) -> None:
    bridge = make_bridge(make_spec(trials=3, pruner="{type: median, startup_trials: 1}"), tmp_path)
    bridge.ask("first")
    assert run_epochs(bridge, "first", [0.8, 0.9, 0.9]) == [False, False, False]  # no history
    bridge.finish("first")

    bridge.ask("better")
    bridge.ask("worse")

    assert run_epochs(bridge, "better", [0.85]) == [False]
    assert run_epochs(bridge, "worse", [0.1]) == [True]


def test_no_value_no_pruning_decision(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(pruner="{type: threshold, lower: 0.5}"), tmp_path)
    bridge.ask("ray-1")

    assert bridge.record("ray-1", {EPOCH: 1, "loss": 0.9}) is False


def test_a_trial_marked_pruned_by_another_scheduler_is_told_pruned(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)
    bridge.ask("ray-1")
    run_epochs(bridge, "ray-1", [0.4])

    bridge.mark_pruned("ray-1")
    bridge.finish("ray-1")

    frozen = trial(bridge.study, 0)
    assert frozen.state == State.PRUNED
    assert frozen.user_attrs[records.TRIAL_REASON] == "pruned after epoch 1"


# ----------------------------------------------------------------------------- telling


def test_finish_tells_complete_with_the_best_epochs_value(tmp_path: Path) -> None:
    tracker, progress = FakeTracker(), FakeProgress()
    bridge = make_bridge(make_spec(), tmp_path, tracker=tracker, progress=progress)

    complete(bridge, "ray-1", [0.5, 0.7, 0.6])

    frozen = trial(bridge.study, 0)
    assert frozen.state == State.COMPLETE and frozen.value == 0.7  # the best, not the last
    assert frozen.user_attrs[records.TRIAL_VALUE_EPOCH] == 2
    assert frozen.intermediate_values == {1: 0.5, 2: 0.7, 3: 0.6}  # (every epoch, as reported)
    assert records.TRIAL_REASON not in frozen.user_attrs
    assert tracker.named("set_tags")[-1] == ("run-0-1", {"value_epoch": "2"})
    assert tracker.named("end_trial") == [("run-0-1", "COMPLETE", 0.7, None)]
    # the run's MLflow id, known to the tracker by now, is in the study before the tell
    assert frozen.user_attrs[records.TRIAL_RUN_ID] == "mlflow-run-0-1"
    assert progress.named("trial_finished") == [(0, "COMPLETE", 0.7, None)]
    assert bridge.counts.by_state == {"COMPLETE": 1} and bridge.counts.finished == 1
    assert bridge.running == {}
    # the bridge is the one judge of the best: it tells the display, which keeps it
    assert progress.bests == [(0.7, 0, dict(frozen.params))]


def test_score_last_tells_the_last_reported_value(tmp_path: Path) -> None:
    tracker = FakeTracker()
    bridge = make_bridge(make_spec(score="last"), tmp_path, tracker=tracker)
    assert bridge.ask("ray-1")["scored_by"] is None  # type: ignore[index]  # (its last epoch)
    run_epochs(bridge, "ray-1", [0.5, 0.7, 0.6])
    bridge.finish("ray-1")

    frozen = trial(bridge.study, 0)
    assert frozen.value == 0.6 and frozen.user_attrs[records.TRIAL_VALUE_EPOCH] == 3
    assert tracker.named("end_trial") == [("run-0-1", "COMPLETE", 0.6, None)]


# The same trials under both scores: (goal, each epoch's value (NaN: undefined), the value
# told under `score: best`, its epoch, the value told under `score: last`, its epoch)
SCORED = [
    ("maximize", [0.5, 0.7, 0.6], 0.7, 2, 0.6, 3),
    ("maximize", [0.5, 0.6, 0.7], 0.7, 3, 0.7, 3),  # the last is the best: the same
    ("maximize", [0.7, 0.6, 0.7], 0.7, 1, 0.7, 3),  # a tie: the earliest (the checkpoint's)
    ("minimize", [0.5, 0.3, 0.4], 0.3, 2, 0.4, 3),
    ("minimize", [0.5, 0.4, 0.3], 0.3, 3, 0.3, 3),
    ("maximize", [0.6, math.nan, 0.5], 0.6, 1, 0.5, 3),  # a NaN epoch never counts
    ("minimize", [0.6, 0.2, math.nan], 0.2, 2, 0.2, 2),  # the last with a value
    ("maximize", [math.nan, math.inf, 0.1], 0.1, 3, 0.1, 3),
]


@pytest.mark.parametrize(("goal", "values", "best", "best_at", "last", "last_at"), SCORED)
def test_the_best_epochs_value_is_never_worse_than_the_last_epochs(
    tmp_path: Path,
    goal: str,
    values: list[float],
    best: float,
    best_at: int,
    last: float,
    last_at: int,
) -> None:
    """The target: with the same trials, `score: best` tells each trial a value at least
    as good as `score: last` does (≥ maximizing, ≤ minimizing), and the same one when the
    last epoch is the best; the pruner saw every epoch alike."""
    told = {}
    for score in ("best", "last"):
        bridge = make_bridge(make_spec(goal=goal, score=score), tmp_path / score)
        complete(bridge, "ray-1", values)
        frozen = trial(bridge.study, 0)
        assert frozen.intermediate_values == {
            e: v for e, v in enumerate(values, 1) if math.isfinite(v)
        }
        told[score] = (frozen.value, frozen.user_attrs[records.TRIAL_VALUE_EPOCH])
    assert told == {"best": (best, best_at), "last": (last, last_at)}
    metric = make_spec(goal=goal).metric
    assert not metric.better(last, best)  # never worse
    if best_at == last_at:
        assert best == last


@pytest.mark.parametrize("goal", ["maximize", "minimize"])
def test_best_epoch_scoring_is_never_worse_on_random_trials(tmp_path: Path, goal: str) -> None:
    """The same 40 random trials (some epochs NaN) told under both scores: each trial's
    best-epoch value is at least as good as its last-epoch value, and the same one
    exactly when its last scored epoch is its best; the best trial too."""
    import random

    draw = random.Random(27)
    trials = [
        [math.nan if draw.random() < 0.15 else draw.random() for _ in range(draw.randint(1, 6))]
        for _ in range(40)
    ]
    trials = [t for t in trials if any(math.isfinite(v) for v in t)]
    told: dict[str, list[tuple[float, int]]] = {}
    for score in ("best", "last"):
        spec = make_spec(trials=len(trials), epochs=6, goal=goal, score=score)
        bridge = make_bridge(spec, tmp_path / score)
        for i, values in enumerate(trials):
            complete(bridge, f"ray-{i}", values)
        told[score] = [
            (t.value, t.user_attrs[records.TRIAL_VALUE_EPOCH])
            for t in bridge.study.get_trials(deepcopy=False)
        ]
    metric = make_spec(goal=goal).metric
    for (best, best_at), (last, last_at) in zip(told["best"], told["last"], strict=True):
        assert not metric.better(last, best)  # never worse
        if best_at == last_at:  # its last scored epoch is its best: the same value
            assert best == last
    top = {score: min((v for v, _ in values), key=metric.key) for score, values in told.items()}
    assert not metric.better(top["last"], top["best"])


def test_a_resumed_trial_is_scored_by_its_best_epoch_of_both_runs(tmp_path: Path) -> None:
    """Its best epoch came before the kill: the re-run replays epochs 1-2 (a replay is not
    recorded again) and goes on worse; the best of all the study has of it is told. An
    objective that does not replay is scored the same from the study's record."""
    spec = make_spec(epochs=4)
    dead = make_bridge(spec, tmp_path)
    dead.ask("ray-old")
    run_epochs(dead, "ray-old", [0.6, 0.9])
    tracker = FakeTracker()
    bridge = make_bridge(spec, tmp_path, study=reopen(dead.study, spec), tracker=tracker)
    assert bridge.ask("ray-new")["resume_epoch"] == 2  # type: ignore[index]
    run_epochs(bridge, "ray-new", [0.6, 0.9, 0.7, 0.8])  # replays 1-2, then 3-4
    bridge.finish("ray-new")
    frozen = trial(bridge.study, 0)
    assert frozen.intermediate_values == {1: 0.6, 2: 0.9, 3: 0.7, 4: 0.8}
    assert frozen.value == 0.9 and frozen.user_attrs[records.TRIAL_VALUE_EPOCH] == 2
    assert tracker.named("end_trial") == [("run-0-1", "COMPLETE", 0.9, None)]

    dead = make_bridge(spec, tmp_path / "quiet")
    dead.ask("ray-old")
    run_epochs(dead, "ray-old", [0.6, 0.9])
    bridge = make_bridge(spec, tmp_path / "quiet", study=reopen(dead.study, spec))
    bridge.ask("ray-new")
    run_epochs(bridge, "ray-new", [0.7, 0.8], start=3)  # (no replay)
    bridge.finish("ray-new")
    assert trial(bridge.study, 0).value == 0.9


def test_the_time_budget_scores_a_stopped_trial_by_its_best_epoch(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=1, epochs=5, goal="minimize"), tmp_path)
    bridge.ask("ray-1")
    run_epochs(bridge, "ray-1", [0.5, 0.2, 0.4])
    bridge.stop(Stop.TIME_BUDGET, "the sweep's time budget ran out")
    bridge.finish("ray-1")
    frozen = trial(bridge.study, 0)
    assert frozen.state == State.COMPLETE and frozen.value == 0.2
    assert frozen.user_attrs[records.TRIAL_VALUE_EPOCH] == 2
    assert frozen.user_attrs[records.TRIAL_REASON] == (
        "stopped by the sweep's time budget after epoch 3 of 5"
    )


def test_constraints_are_read_at_the_epoch_the_trial_is_scored_by(tmp_path: Path) -> None:
    """The exported model is the scored epoch's: a bound on another metric holds or not
    at that epoch, not at the last."""
    spec = make_spec(constraints="constraints: [{metric: size, max: 10}]\n")
    bridge = make_bridge(spec, tmp_path)
    bridge.ask("ray-1")
    for epoch, (value, size) in enumerate([(0.5, 20.0), (0.9, 5.0), (0.6, 20.0)], 1):
        bridge.record("ray-1", {EPOCH: epoch, "score": value, "size": size})
    bridge.finish("ray-1")
    frozen = trial(bridge.study, 0)
    assert frozen.value == 0.9 and records.feasible(frozen)


def test_finish_fails_a_trial_with_the_reason_it_reported(tmp_path: Path) -> None:
    tracker = FakeTracker()
    bridge = make_bridge(make_spec(trials=2), tmp_path, tracker=tracker)
    failure = "RuntimeError: planned failure at epoch 2 (x=0.3)"

    bridge.ask("reported")  # the trial's failure, then its end
    run_epochs(bridge, "reported", [0.5])
    bridge.failed("reported", failure)
    bridge.finish("reported")
    bridge.ask("errored")  # ... or its end as Ray's error
    bridge.failed("errored", failure)
    bridge.finish("errored", error=True)

    for number in (0, 1):
        frozen = trial(bridge.study, number)
        assert frozen.state == State.FAIL
        assert frozen.user_attrs[records.TRIAL_REASON] == failure
    assert tracker.named("end_trial")[0] == ("run-0-1", "FAIL", None, failure)
    assert bridge.counts.failed == 2


def test_an_error_without_a_reason_fails_the_trial_as_errored(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)
    bridge.ask("ray-1")
    run_epochs(bridge, "ray-1", [0.9])

    bridge.finish("ray-1", error=True)

    frozen = trial(bridge.study, 0)
    assert frozen.state == State.FAIL
    assert frozen.user_attrs[records.TRIAL_REASON] == "the trial errored"


@pytest.mark.parametrize("kind", [Stop.SIGNAL, Stop.SIGNAL_TWICE, Stop.LOCK_LOST, Stop.DISK_FULL])
def test_an_interrupted_trial_is_left_running_for_the_next_run(tmp_path: Path, kind: Stop) -> None:
    tracker, progress = FakeTracker(), FakeProgress()
    bridge = make_bridge(make_spec(), tmp_path, tracker=tracker, progress=progress)
    bridge.ask("ray-1")
    run_epochs(bridge, "ray-1", [0.5])

    bridge.stop(kind, "interrupted by the user")
    assert bridge.interrupted
    bridge.finish("ray-1")

    assert trial(bridge.study, 0).state == State.RUNNING
    assert tracker.named("end_trial") == [
        ("run-0-1", "INTERRUPTED", None, "interrupted: interrupted by the user")
    ]
    assert progress.named("trial_finished") == [(0, "RUNNING", None, "interrupted by the user")]
    assert bridge.counts.by_state == {} and bridge.running == {}


def test_a_stop_that_is_not_resumable_fails_unfinished_trials_and_completes_finished_ones(
    tmp_path: Path,
) -> None:
    bridge = make_bridge(make_spec(trials=2, epochs=3), tmp_path)
    bridge.ask("short")
    bridge.ask("whole")
    run_epochs(bridge, "short", [0.5])
    run_epochs(bridge, "whole", [0.5, 0.6, 0.7])

    bridge.stop(Stop.MAX_FAILURES, "2 trials failed (budget.max_failures)")
    assert not bridge.interrupted
    bridge.finish("short")
    bridge.finish("whole")

    short, whole = trial(bridge.study, 0), trial(bridge.study, 1)
    assert short.state == State.FAIL
    assert short.user_attrs[records.TRIAL_REASON] == (
        "interrupted after epoch 1: 2 trials failed (budget.max_failures)"
    )
    assert whole.state == State.COMPLETE and whole.value == 0.7


def test_the_time_budget_keeps_a_stopped_trial_at_its_last_epoch_or_resumable(
    tmp_path: Path,
) -> None:
    """The sweep's own time budget is no failure of the trials it stops: one that reported
    an epoch is COMPLETE with that epoch's value (it can be the best), one that reported
    nothing stays RUNNING for `tune resume`."""
    tracker, progress = FakeTracker(), FakeProgress()
    bridge = make_bridge(
        make_spec(trials=3, epochs=3), tmp_path, tracker=tracker, progress=progress
    )
    bridge.ask("short")
    bridge.ask("none")
    run_epochs(bridge, "short", [0.5, 0.9])

    bridge.stop(Stop.TIME_BUDGET, "the sweep's time budget ran out")
    bridge.finish("short")
    bridge.finish("none")

    short, unscored = trial(bridge.study, 0), trial(bridge.study, 1)
    assert short.state == State.COMPLETE and short.value == 0.9
    assert short.user_attrs[records.TRIAL_REASON] == (
        "stopped by the sweep's time budget after epoch 2 of 3"
    )
    assert unscored.state == State.RUNNING
    assert bridge.counts.by_state == {"COMPLETE": 1}
    ended = {args[0]: args[1:] for args in tracker.named("end_trial")}
    assert ended["run-0-1"][:2] == ("COMPLETE", 0.9)
    assert ended["run-1-2"][0] == "INTERRUPTED"
    assert bridge.study.best_trial.number == 0


def test_close_fails_the_trials_ray_never_ended(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=2), tmp_path)
    bridge.ask("ray-1")
    run_epochs(bridge, "ray-1", [0.5, 0.6])

    bridge.close()

    assert bridge.halt.kind is Stop.ENDED
    frozen = trial(bridge.study, 0)
    assert frozen.state == State.FAIL
    assert frozen.user_attrs[records.TRIAL_REASON] == (
        "interrupted after epoch 2: the sweep ended while they ran"
    )
    assert bridge.running == {}


def test_close_after_a_signal_leaves_the_running_trials_resumable(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=2), tmp_path)
    bridge.ask("ray-1")
    bridge.stop(Stop.SIGNAL, "Ctrl-C", signum=2)

    bridge.close()

    assert bridge.halt.kind is Stop.SIGNAL
    assert trial(bridge.study, 0).state == State.RUNNING


def test_close_with_nothing_running_does_not_stop_the_sweep(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=1), tmp_path)
    complete(bridge, "ray-1", [0.5])

    bridge.close()

    assert bridge.halt is None and bridge.stopping is None


def test_a_trial_that_reports_a_full_disk_stops_the_sweep_and_stays_resumable(
    tmp_path: Path,
) -> None:
    bridge = make_bridge(make_spec(trials=3), tmp_path)
    bridge.ask("ray-1")
    run_epochs(bridge, "ray-1", [0.5])

    bridge.failed("ray-1", "OSError: [Errno 28] No space left on device: 'ckpt'")
    bridge.finish("ray-1")

    assert bridge.halt is not None and bridge.halt.kind is Stop.DISK_FULL and bridge.interrupted
    full = bridge.halt.full
    assert isinstance(full, OSError) and "No space left" in str(full)
    assert trial(bridge.study, 0).state == State.RUNNING  # not the trial's fault
    assert bridge.ask("ray-2") is None


def test_too_many_failures_counts_the_trials_failed(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=4, budget=", max_failures: 2"), tmp_path)
    unlimited = make_bridge(make_spec(trials=4), tmp_path)

    for ray_id in ("a", "b"):
        assert not bridge.too_many_failures()
        for b in (bridge, unlimited):
            b.ask(ray_id)
            b.failed(ray_id, "boom")
            b.finish(ray_id)

    assert bridge.too_many_failures()
    assert not unlimited.too_many_failures()


# ----------------------------------------------------------------------------- the best value


def test_a_new_best_is_logged_only_when_it_beats_the_best_so_far(tmp_path: Path) -> None:
    tracker = FakeTracker()
    bridge = make_bridge(make_spec(trials=3), tmp_path, tracker=tracker, parent_run_id="p")

    for ray_id, value in (("a", 0.5), ("b", 0.4), ("c", 0.7)):
        complete(bridge, ray_id, [value])

    assert tracker.named("log_best") == [("p", 0.5, 1), ("p", 0.7, 3)]


def test_a_smaller_value_is_the_better_one_when_minimizing(tmp_path: Path) -> None:
    tracker = FakeTracker()
    spec = make_spec(trials=3, goal="minimize")
    bridge = make_bridge(spec, tmp_path, tracker=tracker, parent_run_id="p")

    for ray_id, value in (("a", 0.5), ("b", 0.7), ("c", 0.2)):
        complete(bridge, ray_id, [value])

    assert tracker.named("log_best") == [("p", 0.5, 1), ("p", 0.2, 3)]


def test_a_resumed_bridge_starts_from_the_studys_best(tmp_path: Path) -> None:
    spec = make_spec(trials=4)
    earlier = make_bridge(spec, tmp_path)
    complete(earlier, "a", [0.9])
    tracker = FakeTracker()
    bridge = make_bridge(
        spec, tmp_path, study=reopen(earlier.study, spec), tracker=tracker, parent_run_id="p"
    )

    complete(bridge, "b", [0.5])  # worse than the earlier run's best: no new best
    assert tracker.named("log_best") == []
    complete(bridge, "c", [0.95])

    assert tracker.named("log_best") == [("p", 0.95, 3)]  # finished counts the earlier run's


def test_a_failed_or_pruned_trial_never_logs_a_best(tmp_path: Path) -> None:
    tracker = FakeTracker()
    bridge = make_bridge(make_spec(trials=2), tmp_path, tracker=tracker, parent_run_id="p")
    bridge.ask("pruned")
    run_epochs(bridge, "pruned", [0.9])
    bridge.mark_pruned("pruned")
    bridge.finish("pruned")
    bridge.ask("failed")
    run_epochs(bridge, "failed", [0.9])
    bridge.finish("failed", error=True)

    assert tracker.named("log_best") == []


# ----------------------------------------------------------------------------- stopping


def test_the_first_stop_reason_stands(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)

    assert bridge.stop(Stop.TIME_BUDGET, "time") is True
    assert bridge.stop(Stop.MAX_FAILURES, "failures") is False
    assert bridge.stop(Stop.ENDED, "ended") is False

    assert (bridge.halt.kind, bridge.stopping) == (Stop.TIME_BUDGET, "time")
    assert not bridge.interrupted


def test_a_resumable_stop_replaces_a_time_budget_stop(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)
    bridge.stop(Stop.TIME_BUDGET, "time")

    assert bridge.stop(Stop.SIGNAL, "Ctrl-C", signum=15) is True

    assert (bridge.halt.kind, bridge.stopping, bridge.halt.signal) == (Stop.SIGNAL, "Ctrl-C", 15)
    assert bridge.interrupted


def test_a_resumable_stop_is_not_replaced_by_any_other(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)
    bridge.stop(Stop.SIGNAL, "Ctrl-C", signum=2)

    assert bridge.stop(Stop.DISK_FULL, "disk", signum=None) is False
    assert bridge.stop(Stop.ENDED, "ended") is False
    assert bridge.stop(Stop.SIGNAL, "again", signum=1) is False

    assert (bridge.halt.kind, bridge.stopping, bridge.halt.signal) == (Stop.SIGNAL, "Ctrl-C", 2)


def test_a_second_signal_hurries_the_end_even_when_the_reason_stands(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)
    bridge.stop(Stop.SIGNAL, "Ctrl-C")
    assert not bridge.halt.hurry

    assert bridge.stop(Stop.SIGNAL_TWICE, "Ctrl-C twice") is False

    assert bridge.halt.hurry and bridge.halt.kind is Stop.SIGNAL


def test_a_second_signal_alone_stops_resumably_and_hurries(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)

    assert bridge.stop(Stop.SIGNAL_TWICE, "twice", signum=15) is True

    assert bridge.halt.hurry and bridge.interrupted and bridge.halt.signal == 15


def test_the_default_signal_is_sigint_until_a_stop_names_one(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)
    bridge.stop(Stop.SIGNAL, "hang-up")

    assert bridge.halt.signal == 2


def test_losing_the_lock_overrides_any_stop(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)
    bridge.stop(Stop.SIGNAL, "Ctrl-C")

    bridge.lose("taken over by host b")
    bridge.lose("a later message")

    assert bridge.halt.kind is Stop.LOCK_LOST and bridge.interrupted
    assert bridge.lost == "taken over by host b"  # the first reason is kept
    assert bridge.stopping == "a later message"


def test_a_full_disk_stops_resumably_and_keeps_the_first_error(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)
    first, second = OSError(28, "first"), OSError(28, "second")

    bridge.stop_on_full_disk(first)
    bridge.stop_on_full_disk(second)

    assert bridge.halt.full is first
    assert bridge.halt.kind is Stop.DISK_FULL and bridge.stopping == "no space left on the disk"


def test_only_the_user_the_lock_the_disk_and_mlflow_stop_resumably() -> None:
    assert {kind for kind in Stop if kind.resumable} == {
        Stop.SIGNAL,
        Stop.SIGNAL_TWICE,
        Stop.LOCK_LOST,
        Stop.DISK_FULL,
        Stop.TRACKING,
    }


@dataclass
class BrokenTracker(FakeTracker):
    """A tracker whose writes fail from the `fail_at`-th call on (the writer gone)."""

    fail_at: int = 3

    def log_epoch(self, run_id: str, epoch: int, metrics: dict[str, float]) -> None:
        super().log_epoch(run_id, epoch, metrics)
        if len(self.calls) >= self.fail_at:
            raise RuntimeError("the MLflow writer process ended unexpectedly (exit code -9)")


def test_a_failing_tracker_stops_the_sweep_resumably_and_writes_nothing_more(
    tmp_path: Path,
) -> None:
    """MLflow is a cache of the study: its failure is not the trials' — they stay RUNNING
    for `tune resume`, which writes their runs again (the study's epochs replayed)."""
    tracker = BrokenTracker()
    bridge = make_bridge(make_spec(trials=2), tmp_path, tracker=tracker)
    bridge.ask("ray-1")
    run_epochs(bridge, "ray-1", [0.5, 0.6])  # the second epoch's write fails

    assert bridge.halt.kind is Stop.TRACKING and bridge.interrupted
    assert isinstance(bridge.halt.tracking, RuntimeError)
    assert trial(bridge.study, 0).intermediate_values == {1: 0.5, 2: 0.6}  # the study has all
    calls = len(tracker.calls)
    bridge.finish("ray-1")
    assert trial(bridge.study, 0).state == State.RUNNING
    assert len(tracker.calls) == calls  # nothing more sent to the broken tracker
    assert bridge.ask("ray-2") is None

    tracker = FakeTracker()
    later = make_bridge(make_spec(trials=2), tmp_path, study=bridge.study, tracker=tracker)
    assert later.ask("ray-3") is not None
    assert tracker.named("log_epoch") == [
        ("run-0-1", 1, {"score": 0.5}),
        ("run-0-1", 2, {"score": 0.6}),
    ]


# ----------------------------------------------------------------------------- the lock


@dataclass
class FakeLock:
    """A SweepLock that can be lost at will (the real one: tests/study/test_lock.py)."""

    held: bool = True
    heartbeat_s: float = 5.0
    lost: str | None = None
    on_lost: Any = None
    reads: list[float] = field(default_factory=list)

    def holds(self, within: float = 0.0) -> bool:
        self.reads.append(within)
        if not self.held:
            self.lost = self.lost or "taken over by host b, pid 7"
        return self.held


def test_the_bridge_listens_to_its_lock(tmp_path: Path) -> None:
    lock = FakeLock()
    bridge = make_bridge(make_spec(), tmp_path, lock=lock)

    lock.on_lost("taken over")

    assert bridge.lost == "taken over" and bridge.halt.kind is Stop.LOCK_LOST


def test_a_bridge_whose_lock_was_taken_writes_nothing_more(tmp_path: Path) -> None:
    lock = FakeLock()
    tracker = FakeTracker()
    bridge = make_bridge(make_spec(trials=3), tmp_path, lock=lock, tracker=tracker)
    bridge.ask("ray-1")
    run_epochs(bridge, "ray-1", [0.5])
    calls = len(tracker.calls)

    lock.held = False
    assert bridge.record("ray-1", {EPOCH: 2, "score": 0.9}) is False
    bridge.finish("ray-1")
    assert bridge.ask("ray-2") is None

    assert bridge.lost == "taken over by host b, pid 7"
    assert bridge.halt.kind is Stop.LOCK_LOST
    frozen = trial(bridge.study, 0)
    assert frozen.state == State.RUNNING and frozen.intermediate_values == {1: 0.5}
    assert len(bridge.study.trials) == 1 and len(tracker.calls) == calls


def test_recording_trusts_a_lock_read_within_one_heartbeat(tmp_path: Path) -> None:
    lock = FakeLock(heartbeat_s=3.0)
    bridge = make_bridge(make_spec(), tmp_path, lock=lock)
    bridge.ask("ray-1")

    run_epochs(bridge, "ray-1", [0.5])

    assert lock.reads == [0.0, 3.0]  # ask reads it now; an epoch may trust a recent read


# ----------------------------------------------------------------------------- counts and the rest


def test_counts_derive_failed_and_finished() -> None:
    counts = Counts(asked=9, before=2, epochs=30, by_state={"COMPLETE": 3, "FAIL": 1, "PRUNED": 2})

    assert counts.failed == 1
    assert counts.finished == 8
    assert (Counts().failed, Counts().finished) == (0, 0)


def test_the_counts_follow_what_the_bridge_told(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=3, pruner="{type: threshold, lower: 0.5}"), tmp_path)
    complete(bridge, "done", [0.6, 0.7])
    bridge.ask("pruned")
    run_epochs(bridge, "pruned", [0.1])
    bridge.finish("pruned")
    bridge.ask("failed")
    bridge.finish("failed", error=True)

    assert bridge.counts.by_state == {"COMPLETE": 1, "PRUNED": 1, "FAIL": 1}
    assert (bridge.counts.asked, bridge.counts.epochs, bridge.counts.finished) == (3, 3, 3)


@pytest.mark.parametrize("retries", [0, 1])
def test_waiting_while_a_running_trial_may_still_need_to_run_again(
    tmp_path: Path, retries: int
) -> None:
    """Its worker may die (a re-run), or Ray drop it before it starts (started again,
    with or without re-runs allowed): the searcher must not finish while a trial runs."""
    bridge = make_bridge(make_spec(trials=1, retries=retries), tmp_path)
    assert not bridge.waiting()  # nothing runs

    bridge.ask("ray-1")

    assert bridge.waiting()
    bridge.stop(Stop.TIME_BUDGET, "time")
    assert not bridge.waiting()


def test_no_more_trials_are_asked_than_the_sweep_runs_at_once(tmp_path: Path) -> None:
    """The bridge keeps the sweep's concurrency, not Ray's ConcurrencyLimiter (which would
    keep a slot for ever for a trial Ray drops without telling the searcher)."""
    bridge = make_bridge(make_spec(trials=5, concurrency=2), tmp_path)
    assert bridge.ask("ray-1") is not None
    assert bridge.ask("ray-2") is not None
    assert bridge.ask("ray-3") is None
    bridge.dropped("ray-2", "Ray ended it")  # (then queued to start again)
    again = bridge.ask("ray-4")
    assert again is not None and again["number"] == 1
    assert bridge.ask("ray-5") is None


def test_a_trial_ray_dropped_before_it_started_runs_again_without_using_a_retry(
    tmp_path: Path,
) -> None:
    progress = FakeProgress()
    bridge = make_bridge(make_spec(trials=1, retries=0), tmp_path, progress=progress)
    bridge.ask("ray-1")
    bridge.dropped("ray-1", "Ray ended it (ERROR) without a result")

    assert bridge.running == {} and trial(bridge.study, 0).state == State.RUNNING
    assert progress.named("trial_finished") == [
        (0, "RUNNING", None, "Ray ended it (ERROR) without a result; starting it again")
    ]
    config = bridge.ask("ray-2")
    assert config is not None and config["number"] == 0
    complete_epochs = run_epochs(bridge, "ray-2", [0.5, 0.6, 0.7])
    assert complete_epochs == [False, False, False]
    bridge.finish("ray-2")
    frozen = trial(bridge.study, 0)
    assert frozen.state == State.COMPLETE and records.TRIAL_RETRIES not in frozen.user_attrs


def test_a_trial_ray_keeps_dropping_fails_saying_why(tmp_path: Path) -> None:
    from tuner.sweep.bridge import DROPPED_STARTS

    bridge = make_bridge(make_spec(trials=1, retries=0), tmp_path)
    for attempt in range(DROPPED_STARTS + 1):
        assert bridge.ask(f"ray-{attempt}") is not None
        bridge.dropped(f"ray-{attempt}", "Ray ended it (ERROR) without a result")
    frozen = trial(bridge.study, 0)
    assert frozen.state == State.FAIL
    assert frozen.user_attrs[records.TRIAL_REASON] == "Ray ended it (ERROR) without a result"
    assert bridge.ask("ray-last") is None


def test_a_stopping_sweep_leaves_the_trials_ray_ended_to_close(tmp_path: Path) -> None:
    """Ray ends every running trial without a word when the sweep stops: `close` settles
    them (resumable or failed), not `dropped`."""
    bridge = make_bridge(make_spec(trials=2), tmp_path)
    bridge.ask("ray-1")
    bridge.stop(Stop.SIGNAL, "interrupted (Ctrl-C)")
    bridge.dropped("ray-1", "Ray ended it")
    assert "ray-1" in bridge.running and not bridge.retry


def test_all_done_once_the_budget_is_spent_and_nothing_runs(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=1), tmp_path)
    assert not bridge.all_done()

    bridge.ask("ray-1")
    assert not bridge.all_done()
    bridge.finish("ray-1", error=True)

    assert bridge.all_done()


def test_the_trial_folder_is_under_the_studys_trial_storage(tmp_path: Path) -> None:
    spec = make_spec()
    study = make_study(spec)
    elsewhere = tmp_path / "shared"
    elsewhere.mkdir()
    records.set_trial_storage(study, str(elsewhere))

    config = make_bridge(spec, tmp_path / "results", study=study).ask("ray-1")

    assert config is not None and config["trial_dir"] == str(elsewhere / "unit" / "trials" / "0")


def test_a_bridge_pickles_as_an_empty_shell(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(), tmp_path)
    bridge.ask("ray-1")

    copy = pickle.loads(pickle.dumps(bridge))

    assert isinstance(copy, Bridge) and copy.__dict__ == {}


# ----------------------------------------------------------------------------- died_reason

RAY_TEXT = (
    "The actor died unexpectedly before finishing this task.\n"
    "\tclass_name: ImplicitFunc\n\tactor_id: 3a2b\n\tpid: 812\n\tname: trial_3\n"
    "\tnamespace: 1c9e\n\tip: 10.0.0.5\n"
    "The actor is dead because its worker process has died. Worker exit type: SYSTEM_ERROR "
    "Worker exit detail: Worker unexpectedly exits with a connection error code 2. End of "
    "file. There are some potential root causes. (1) The process is killed by SIGKILL by "
    "OOM killer due to high memory usage."
)


def test_died_reason_names_the_process_and_how_ray_saw_it() -> None:
    assert died_reason(RAY_TEXT, pid=1) == (
        "the worker process died (pid 812, killed or crashed; Ray: SYSTEM_ERROR, "
        "Worker unexpectedly exits with a connection error code 2. End of file)"
    )


@pytest.mark.parametrize(
    ("message", "pid", "expected"),
    [
        ("The actor died.", 77, "the worker process died (pid 77, killed or crashed)"),
        ("The actor died.", None, "the worker process died (pid ?, killed or crashed)"),
        (
            "Worker exit type: INTENDED_USER_EXIT",
            5,
            "the worker process died (pid 5, killed or crashed; Ray: INTENDED_USER_EXIT)",
        ),
    ],
)
def test_died_reason_falls_back_to_the_pid_the_trial_reported(
    message: str, pid: int | None, expected: str
) -> None:
    assert died_reason(message, pid) == expected


def test_died_reason_is_one_line_of_at_most_500_characters() -> None:
    text = died_reason("pid: 1\nWorker exit detail: " + "x " * 600, None)

    assert "\n" not in text and len(text) == 500


@pytest.mark.parametrize(
    ("goal", "values", "bests"),
    [
        ("maximize", [0.6, 0.4, 0.8], [0, None, 2]),
        ("minimize", [0.6, 0.4, 0.8], [0, 1, None]),
    ],
)
def test_the_display_is_told_each_new_best_in_the_metric_direction(
    tmp_path: Path, goal: str, values: list[float], bests: list[int | None]
) -> None:
    progress = FakeProgress()
    bridge = make_bridge(make_spec(trials=3, goal=goal), tmp_path, progress=progress)
    for i, value in enumerate(values):
        complete(bridge, f"ray-{i}", [value])
    told = [None if b is None else b[1] for b in progress.bests]
    assert told == bests
