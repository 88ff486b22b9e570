"""The bridge's cost per trial does not grow with the sweep (issue 30): asking, recording
and telling a trial lists no trials of the study, so a study of 2,000 finished trials
costs each new trial what one of 20 does. Counted, not timed (a loaded 2-core machine
makes timings flaky): every trial the storage hands out during those steps is counted.

Optuna's own reads stay, and are not counted as the bridge's: `Study.ask` scans for an
enqueued (WAITING) trial, which returns none here. The pruner reads the finished trials
at each report — that is its semantics (a median of them) — so the sweep here prunes
nothing; the pareto pruner likewise compares against every trial at that epoch."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
import pytest

from tests.sweep.test_bridge import make_bridge, make_spec, make_study, run_epochs

State = optuna.trial.TrialState


def _seeded(n: int) -> optuna.Study:
    """A study of `n` finished trials, as a long sweep leaves it."""
    study = make_study(make_spec(trials=n + 10))
    distribution = optuna.distributions.FloatDistribution(0.0, 1.0)
    study.add_trials(
        optuna.trial.create_trial(
            params={"x": i / n},
            distributions={"x": distribution},
            value=i / n,
            intermediate_values={1: i / n},
        )
        for i in range(n)
    )
    return study


def _listed_per_trial(n: int, monkeypatch: pytest.MonkeyPatch, tmp: Path) -> int:
    """Trials the storage handed out while the bridge asked, recorded and told 5 trials
    on a study already holding `n`."""
    study = _seeded(n)
    bridge = make_bridge(make_spec(trials=n + 10), tmp, study)
    storage = study._storage
    listed = 0
    real = storage.get_all_trials

    def counted(*args: Any, **kwargs: Any) -> Sequence[optuna.trial.FrozenTrial]:
        nonlocal listed
        found = real(*args, **kwargs)
        listed += len(found)
        return found

    monkeypatch.setattr(storage, "get_all_trials", counted)
    for i in range(5):
        assert bridge.ask(f"ray-{i}") is not None
        run_epochs(bridge, f"ray-{i}", [0.5, 0.6])
        bridge.finish(f"ray-{i}")
    assert bridge.counts.by_state == {"COMPLETE": 5}
    return listed


def test_asking_recording_and_telling_a_trial_lists_no_trials_of_the_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = _listed_per_trial(20, monkeypatch, tmp_path / "small")
    large = _listed_per_trial(2000, monkeypatch, tmp_path / "large")
    assert small == large == 0


def test_a_seeded_sweep_keeps_its_draw_number_without_listing_the_study(
    tmp_path: Path,
) -> None:
    """The seeded sampler is reseeded by the sweep's own trial count (what a resume
    repeats): kept as trials are asked and started over, it is the study's count."""
    from tuner.study import records

    spec = make_spec(trials=10, epochs=2)
    study = _seeded(3)
    bridge = make_bridge(spec, tmp_path, study)
    for i in range(4):
        assert bridge.ask(f"r{i}") is not None
        own = records.own_trials(study.get_trials(deepcopy=False))
        assert (bridge.own, bridge.total) == (len(own), len(study.trials))
        bridge.finish(f"r{i}")  # no value: fails


MULTI = """\
name: multi
objective: tests.sweep.cheap:tradeoff
metrics:
  - {name: score, goal: maximize}
  - {name: loss, goal: minimize}
constraints:
  - {metric: size, max: 60}
budget: {trials: 60, max_epochs: 1}
sampler: {type: random, seed: 3}
pruner: {type: none}
params:
  x: {float: [0.0, 1.0]}
"""


def test_the_front_the_bridge_keeps_is_the_studys_after_every_trial(tmp_path: Path) -> None:
    """Several metrics: the live line's Pareto front, kept as trials are told (a resumed
    bridge seeding it from the study), is what `ranking.front_summary` reads from the
    study — ties, infeasible and failed trials included."""
    import random

    from tuner.space.load import parse_spec
    from tuner.study import records
    from tuner.study.ranking import front_summary
    from tuner.sweep.events import Ended, Listener

    spec = parse_spec(MULTI, "multi.yaml", check_objective=False)
    fronts: list[Any] = []

    class Fronts(Listener):
        def trial_finished(self, event: Ended) -> None:
            fronts.append(event.front)

    study = optuna.create_study(directions=[m.direction for m in spec.metrics])
    records.describe(study, spec)
    rng = random.Random(5)
    for run in range(2):  # the second bridge starts from the study's front
        bridge = make_bridge(spec, tmp_path, study, listeners=[Fronts()])
        for i in range(30):
            ray_id = f"r{run}-{i}"
            assert bridge.ask(ray_id) is not None
            score, loss = rng.choice([0.5, 0.6, 0.7]), rng.choice([1.0, 2.0, 3.0])
            size = rng.choice([10.0, 10.0, 10.0, 90.0])  # a quarter infeasible
            if i % 7 != 3:  # (some report nothing: they fail)
                bridge.record(ray_id, {"epoch": 1, "score": score, "loss": loss, "size": size})
            bridge.finish(ray_id)
            assert fronts[-1] == front_summary(study), i
    assert fronts[-1]["size"] > 1


def test_the_pareto_pruner_compares_with_every_trials_vector_as_the_study_has_it(
    tmp_path: Path,
) -> None:
    """The pareto pruner's vectors, kept by the bridge as epochs are recorded (a resumed
    bridge seeding them from the study), decide as the study's own would, trial by trial
    and epoch by epoch — running trials' epochs included."""
    import random

    from tuner.search.pareto import should_prune
    from tuner.space.load import parse_spec
    from tuner.study import records

    text = MULTI.replace("{type: none}", "{type: pareto, min_trials: 2, dominated_by: 1}")
    text = text.replace("max_epochs: 1}", "max_epochs: 3}\nconcurrency: 2")
    spec = parse_spec(text, "multi.yaml", check_objective=False)
    study = optuna.create_study(directions=[m.direction for m in spec.metrics])
    records.describe(study, spec)
    rng = random.Random(11)
    decided = []
    for run in range(2):
        bridge = make_bridge(spec, tmp_path, study)
        assert bridge.pareto is not None
        for i in range(12):
            ids = [f"r{run}-{i}-a", f"r{run}-{i}-b"]  # two at once: one sees the other's
            numbers = {ray_id: bridge.ask(ray_id)["number"] for ray_id in ids}  # type: ignore[index]
            for epoch in (1, 2, 3):
                for ray_id in ids:
                    if bridge.running[ray_id].pruned:
                        continue
                    vector = [rng.random(), rng.random()]
                    others = [
                        found[epoch]
                        for t in study.get_trials(deepcopy=False)
                        if t.number != numbers[ray_id]
                        and epoch in (found := records.epoch_values(t))
                    ]
                    expected = should_prune(vector, epoch, others, spec.metrics, bridge.pareto)
                    result = {"epoch": epoch, "score": vector[0], "loss": vector[1], "size": 1.0}
                    assert bridge.record(ray_id, result) == expected, (run, i, epoch)
                    decided.append(expected)
            for ray_id in ids:
                bridge.finish(ray_id)
    assert True in decided and False in decided


def test_a_ray_runs_quota_bounds_the_new_trials_it_starts(tmp_path: Path) -> None:
    """The quota of one Ray Tune run (driver._fit): new trials stop at it, the sweep
    still has more to start for the next run."""
    bridge = make_bridge(make_spec(trials=5, epochs=1), tmp_path)
    bridge.quota = 2
    assert bridge.ask("a") is not None and bridge.ask("b") is not None
    assert bridge.ask("c") is None and bridge.more()
    for ray_id in ("a", "b"):
        run_epochs(bridge, ray_id, [0.5])
        bridge.finish(ray_id)
    assert bridge.ask("c") is None and not bridge.waiting()  # this run is finished
    bridge.quota = 2  # the next run
    assert bridge.ask("c") is not None


def test_a_trial_to_run_again_is_not_held_back_by_a_spent_quota(tmp_path: Path) -> None:
    bridge = make_bridge(make_spec(trials=5, epochs=1), tmp_path)
    bridge.quota = 1
    config = bridge.ask("a")
    assert config is not None
    bridge.dropped("a", "Ray ended it before it started")  # queued to run again
    again = bridge.ask("a2")
    assert again is not None and again["number"] == config["number"]


def test_a_ray_run_holds_fifty_waves_of_the_sweeps_trials(monkeypatch: pytest.MonkeyPatch) -> None:
    from tuner.sweep.driver import ray_run_trials

    monkeypatch.delenv("TUNER_RAY_RUN_TRIALS", raising=False)
    assert [ray_run_trials(c) for c in (1, 2, 8)] == [100, 100, 400]
    monkeypatch.setenv("TUNER_RAY_RUN_TRIALS", "3")
    assert ray_run_trials(8) == 3
