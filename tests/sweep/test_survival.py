"""A sweep survives what kills processes and what a resume could repeat, in-process with
the cheap objective: a Ray worker SIGKILLed under its trial (the trial re-runs from its
checkpoint), a resumed seeded sampler (draws what an uninterrupted sweep would), a CPU
request no node can meet (cut down, not waited on forever)."""

from __future__ import annotations

import pytest

from tests.sweep.conftest import Sweeper
from tests.sweep.test_sweep import cheap, states

pytestmark = pytest.mark.slow


def _epochs(sweeper: Sweeper, name: str, number: int, log: str = "epochs.log") -> list[str]:
    path = sweeper.results / name / "trials" / str(number) / log
    return path.read_text().split() if path.exists() else []


@pytest.mark.timeout(120)
def test_a_trial_whose_worker_is_killed_reruns_from_its_checkpoint(sweeper: Sweeper) -> None:
    space = cheap("dying", trials=2, epochs=3, fixed="{sleep: 0.05, die_at: 2}")
    outcome = sweeper.run(space)
    assert outcome.counts == {"COMPLETE": 2}, outcome.counts
    for t in outcome.study.trials:
        assert t.state.name == "COMPLETE"
        assert t.user_attrs["retries"] == 1
        assert sorted(t.intermediate_values) == [1, 2, 3]
        assert len(_epochs(sweeper, "dying", t.number, "deaths.log")) == 1  # died once
        assert _epochs(sweeper, "dying", t.number) == ["1", "2", "3"]  # epoch 1 not retrained
    _, children = sweeper.runs("dying")
    assert sorted(children) == [0, 1] and all(len(runs) == 1 for runs in children.values())
    assert all(runs[0].info.status == "FINISHED" for runs in children.values())


@pytest.mark.timeout(120)
def test_a_trial_whose_worker_keeps_dying_fails_saying_so(sweeper: Sweeper) -> None:
    space = cheap(
        "doomed",
        trials=1,
        epochs=2,
        concurrency=1,
        fixed="{sleep: 0.0, die_at: 1, die_times: 5}",
        extra_budget=", max_retries: 2",
    )
    outcome = sweeper.run(space)
    assert outcome.counts == {"FAIL": 1}
    (trial,) = outcome.study.trials
    reason = trial.user_attrs["reason"]
    assert reason.startswith("the worker process died (pid "), reason
    assert reason.endswith("(after 2 re-runs)"), reason
    assert len(_epochs(sweeper, "doomed", 0, "deaths.log")) == 3  # the first run + 2 re-runs
    pids = _epochs(sweeper, "doomed", 0, "deaths.log")
    assert f"pid {pids[-1]}, killed or crashed; Ray: " in reason  # the one that died last
    _, children = sweeper.runs("doomed")
    assert [run.info.status for run in children[0]] == ["FAILED"]


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    "sampler", ["{type: random, seed: 0}", "{type: tpe, seed: 7, n_startup_trials: 3}"]
)
def test_a_resumed_sweep_draws_what_an_uninterrupted_one_would(
    sweeper: Sweeper, sampler: str
) -> None:
    def space(name: str, trials: int) -> str:
        return cheap(
            name, trials=trials, epochs=1, concurrency=1, fixed="{sleep: 0.0}", sampler=sampler
        )

    whole = sweeper.run(space("whole", 5)).study
    sweeper.run(space("parts", 2))  # ... then a new driver (a new sampler) goes on
    parts = sweeper.run(sweeper.space(space("parts", 2)), trials=5).study
    drawn = [t.params["x"] for t in parts.trials]
    assert drawn == [t.params["x"] for t in whole.trials]
    assert len(set(drawn)) == 5, drawn  # nothing drawn twice


@pytest.mark.timeout(60)
def test_more_cpus_than_any_node_has_run_with_a_warning(
    sweeper: Sweeper, capfd: pytest.CaptureFixture[str]
) -> None:
    cpus = max(n["Resources"].get("CPU", 0) for n in sweeper.ray.nodes() if n["Alive"])
    space = cheap(
        "greedy",
        trials=1,
        epochs=1,
        concurrency=1,
        fixed="{sleep: 0.0}",
        extra=f"resources: {{cpu: {int(cpus) * 4}}}\n",
    )
    outcome = sweeper.run(space)
    assert states(outcome.study) == {"COMPLETE": 1}
    err = capfd.readouterr().err
    assert f"warning: resources.cpu={int(cpus) * 4} but the largest Ray node has {cpus:g}" in err
