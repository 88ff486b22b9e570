"""Sweeps over several objectives: a multi-direction Optuna study, constraints, the
pareto pruner, the front in `tune best` (on the cheap objective `tradeoff`: score and
cost both grow with x, so every plain x is on the front; `waste` makes a trial worse in
both at every epoch)."""

from __future__ import annotations

import json

import pytest

from tests.sweep.conftest import Sweeper

TRADEOFF = """\
name: {name}
objective: tests.sweep.cheap:tradeoff
metrics:
  - {{name: score, goal: maximize}}
  - {{name: cost, goal: minimize}}
constraints:
  - {{metric: size, max: 60}}
budget: {{trials: {trials}, max_epochs: {epochs}}}
concurrency: 1
sampler: {{type: random, seed: 5}}
pruner: {pruner}
fixed: {{sleep: 0.0}}
params:
  x: {{float: [0.05, 1.0]}}
  waste: {{choice: [false, true]}}
"""


def tradeoff(
    name: str,
    *,
    trials: int = 14,
    epochs: int = 4,
    pruner: str = "{type: pareto, min_trials: 2, dominated_by: 1}",
) -> str:
    return TRADEOFF.format(name=name, trials=trials, epochs=epochs, pruner=pruner)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_two_objective_sweep_prunes_the_dominated_and_finds_the_front(
    sweeper: Sweeper, cli
) -> None:
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    from tuner.study.ranking import pareto_trials
    from tuner.study.records import epoch_values, feasible

    trials, epochs = 14, 4
    outcome = sweeper.run(tradeoff("mo", trials=trials, epochs=epochs))
    study = outcome.study
    assert study.directions == [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]
    done = study.get_trials(deepcopy=False)
    assert len(done) == trials
    pruned = [t for t in done if t.state == TrialState.PRUNED]
    complete = [t for t in done if t.state == TrialState.COMPLETE]
    # a plain trial is never dominated (score and cost trade off); a wasteful one is
    assert pruned and all(t.params["waste"] for t in pruned)
    assert all(len(epoch_values(t)) == epochs for t in complete)
    for t in pruned:
        assert t.user_attrs["reason"].startswith("pruned after epoch")
        assert len(epoch_values(t)) < epochs
    trained = sum(len(epoch_values(t)) for t in done)
    assert trained == outcome.epochs < trials * epochs

    # the constraint size ≤ 60 (size = 100·x): infeasible trials stay off the front
    front = pareto_trials(study)
    plain = [t for t in complete if not t.params["waste"]]
    assert any(not feasible(t) for t in plain), "the seed drew no x above 0.6"
    assert {t.number for t in front} == {t.number for t in plain if t.params["x"] <= 0.6}
    assert all(
        t.constraints["size ≤ 60"] == pytest.approx(100 * t.params["x"] - 60) for t in complete
    )

    # MLflow: every objective per epoch and the feasibility on each child run
    client = sweeper.client()
    _, children = sweeper.runs("mo")
    for t in complete:
        (run,) = children[t.number]
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "cost")]
        assert sorted(steps) == list(range(1, epochs + 1))
        assert run.data.tags["feasible"] == str(feasible(t)).lower()

    # tune best: the front as a table and as JSON; the best is the best score on it
    code, out, err = cli("best", "mo", "--results", sweeper.results)
    assert code == 0, err
    assert f"Pareto front: {len(front)} trial(s)" in out
    assert "within  size ≤ 60" in out
    best_number = max(front, key=lambda t: t.values[0]).number
    assert f"#{best_number} " in out.splitlines()[1]
    code, out, err = cli("best", "mo", "--json", "--results", sweeper.results)
    data = json.loads(out)
    assert [r["number"] for r in data["front"]] == [t.number for t in front]
    assert data["metrics"] == [
        {"name": "score", "goal": "maximize"},
        {"name": "cost", "goal": "minimize"},
    ]
    assert data["trials"][0]["number"] == best_number

    # --trial N exports another trial of the front
    other = front[-1]
    out_dir = sweeper.tmp / "picked"
    code, out, err = cli(
        "best",
        "mo",
        "--export",
        "--trial",
        str(other.number),
        "--out",
        out_dir,
        "--results",
        sweeper.results,
    )
    assert code == 0, err
    assert f"exported trial {other.number}" in out
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["number"] == other.number
    assert metrics["values"] == dict(zip(["score", "cost"], other.values, strict=True))
    assert (sweeper.results / "mo" / "plots" / "pareto_front.png").is_file()

    # --trial N registers that trial's model, not the best's
    code, out, err = cli(
        "best", "mo", "--register", "mo-pick", "--trial", str(other.number),
        "--results", sweeper.results,
    )  # fmt: skip
    assert code == 0, err
    version = client.get_model_version("mo-pick", "1")
    assert version.tags["tuner.trial_number"] == str(other.number)

    # the front as a table beside the sweep and on the parent run, with its plot
    import pandas as pd

    table = pd.read_csv(sweeper.results / "mo" / "pareto_front.csv")
    assert list(table["number"]) == [t.number for t in front]
    assert list(table.columns[:4]) == ["number", "score", "cost", "epochs"]
    (parent,) = sweeper.runs("mo")[0]
    logged = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert "pareto_front.csv" in logged
    assert "plots/pareto_front.png" in {
        a.path for a in client.list_artifacts(parent.info.run_id, "plots")
    }
    board = pd.read_csv(sweeper.results / "mo" / "leaderboard.csv")
    assert {"value_score", "value_cost", "feasible"} <= set(board.columns)

    # tune status and the live lines: the front's size and each objective's extreme
    from tuner.cli.render import fmt_value

    low_cost = min(front, key=lambda t: (t.values[1], t.number))
    assert outcome.front == sweeper.results / "mo" / "pareto_front.csv"
    code, out, err = cli("status", "mo", "--results", sweeper.results)
    assert code == 0, err
    assert f"pareto   front {len(front)} trials · best score" in out
    assert f"best cost {fmt_value(low_cost.values[1])} #{low_cost.number}" in out
    lines = sweeper.output.getvalue().splitlines()
    assert any(f"(front {len(front)} trials" in line for line in lines)
    outside = next(t for t in plain if not feasible(t))
    (line,) = [x for x in lines if x.startswith(f"trial {outside.number} COMPLETE")]
    assert f"score={fmt_value(outside.values[0])}: infeasible: outside size ≤ 60" in line


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_without_the_pruner_every_trial_trains_every_epoch(sweeper: Sweeper) -> None:
    from tuner.study.records import epoch_values

    trials, epochs = 8, 3
    outcome = sweeper.run(tradeoff("mo-none", trials=trials, epochs=epochs, pruner="{type: none}"))
    done = outcome.study.get_trials(deepcopy=False)
    assert all(t.state.name == "COMPLETE" for t in done)
    assert sum(len(epoch_values(t)) for t in done) == trials * epochs


def test_trial_without_export_is_refused(cli, tmp_path) -> None:
    (tmp_path / "results").mkdir()
    code, _, err = cli("best", "nope", "--trial", "3", "--results", tmp_path / "results")
    assert code == 2
    assert "--trial N picks the trial to export" in err or "no sweep" in err, err


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_killed_two_objective_sweep_resumes_with_every_epochs_vector(tmp_path) -> None:
    """SIGKILL mid-epoch, then `tune resume`: the trial left RUNNING continues from its
    last epoch; every COMPLETE trial has one vector per epoch, each epoch's vector once,
    and one MLflow child run."""
    import signal

    from mlflow.tracking import MlflowClient

    from tests.conftest import write
    from tests.sweep.test_resume import _tune
    from tuner.study.records import epoch_values
    from tuner.study.storage import find_study

    text = tradeoff("mo-kill", trials=5, epochs=3, pruner="{type: none}")
    space = write(tmp_path / "mo.yaml", text.replace("sleep: 0.0", "sleep: 0.2"))
    results = tmp_path / "results"
    done = _tune("run", space, "--results", results, "-q", fault="epoch:5")
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert "RUNNING" in [t.state.name for t in find_study(results, "mo-kill").get_trials()]
    done = _tune("resume", "mo-kill", "--results", results, "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    csv = results / "mo-kill" / "pareto_front.csv"
    assert f"pareto front: {csv} (tune best mo-kill --results {results})" in done.stdout
    study = find_study(results, "mo-kill")
    trials = study.get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["COMPLETE"] * 5
    assert all(sorted(epoch_values(t)) == [1, 2, 3] for t in trials)
    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("mo-kill")
    runs = client.search_runs([experiment.experiment_id])
    numbers = sorted(
        int(r.data.tags["tuner.trial_number"]) for r in runs if "mlflow.parentRunId" in r.data.tags
    )
    assert numbers == [0, 1, 2, 3, 4]
    code = _tune("best", "mo-kill", "--results", results)
    assert code.returncode == 0 and "Pareto front:" in code.stdout, code.stderr
