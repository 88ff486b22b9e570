"""`tune run` end to end: Ray Tune runs the trials, Optuna samples and prunes them, MLflow
records them. One Ray instance for the session (`ray_session`); every sweep in its own
temporary results folder. Mostly the cheap objective (`tests.sweep.cheap`); only the
first test trains TensorFlow models."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sweep.conftest import REPO, Sweeper, repo_pythonpath

pytestmark = pytest.mark.slow


def cheap(
    name: str,
    *,
    trials: int,
    epochs: int,
    concurrency: int = 2,
    fixed: str = "{sleep: 0.05}",
    params: str = "x: {float: [0.0, 1.0]}",
    sampler: str = "{type: random, seed: 1}",
    pruner: str = "{type: none}",
    extra_budget: str = "",
    extra: str = "",
) -> str:
    """A space file for the cheap objective (score = x·(1 − 0.5^epoch))."""
    return f"""\
name: {name}
objective: tests.sweep.cheap:train
metric: {{name: score, goal: maximize}}
budget: {{trials: {trials}, max_epochs: {epochs}{extra_budget}}}
concurrency: {concurrency}
sampler: {sampler}
pruner: {pruner}
fixed: {fixed}
params:
  {params}
{extra}"""


def states(study) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def history(client, run, metric: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, metric))


def artifact_paths(client, run_id: str, path: str | None = None) -> set[str]:
    out = set()
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            out |= artifact_paths(client, run_id, item.path)
        else:
            out.add(item.path)
    return out


# ------------------------------------------------------------------ (a) the real objective


@pytest.mark.timeout(240)
def test_tiny_sweep_end_to_end_matches_study_and_mlflow(
    sweeper: Sweeper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(With the MLflow writer process, as `tune run` writes by default.)"""
    from optuna.trial import TrialState

    monkeypatch.setenv("TUNER_MLFLOW_WRITER", "process")

    from tuner.tracking.runs import TAG_PARENT, TAG_STATE

    ray_results = Path.home() / "ray_results"
    ray_results_before = sorted(ray_results.rglob("*")) if ray_results.exists() else None

    outcome = sweeper.run(REPO / "search_spaces" / "tiny.yaml")

    study = outcome.study
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 4  # budget.trials
    assert all(t.state == TrialState.COMPLETE for t in trials), states(study)
    assert outcome.counts == {"COMPLETE": 4}
    assert outcome.epochs == 4 * 2
    assert outcome.stopped is None

    # MLflow: one parent run, exactly one child run per study trial
    client = sweeper.client()
    parents, children = sweeper.runs("tiny")
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert sorted(children) == sorted(t.number for t in trials)
    for t in trials:
        assert len(children[t.number]) == 1, f"trial {t.number}: {len(children[t.number])} runs"
        run = children[t.number][0]
        assert run.info.run_name == f"trial-{t.number}"
        assert t.user_attrs["mlflow_run_id"] == run.info.run_id  # the writer reported it
        assert run.data.tags[TAG_PARENT] == parent.info.run_id
        assert run.info.status == "FINISHED"
        assert run.data.tags[TAG_STATE] == "COMPLETE"
        assert run.data.tags["pid"] == str(t.user_attrs["pid"])
        assert run.data.tags["ray_node_id"] == t.user_attrs["node_id"]
        # per-epoch values: the same steps (epochs) and values as the study's
        logged = history(client, run, "val_auc")
        assert [s for s, _ in logged] == sorted(t.intermediate_values) == [1, 2]
        for step, value in logged:
            assert value == pytest.approx(t.intermediate_values[step], abs=1e-6)
        assert run.data.metrics["value"] == pytest.approx(t.value, abs=1e-6)
        # params logged (every sampled one, and the fixed ones of the config)
        for key, value in t.params.items():
            logged_value = run.data.params[key]
            if isinstance(value, float):
                assert float(logged_value) == pytest.approx(value)
            else:
                assert logged_value == str(value)
        assert run.data.params["model"] == "dnn"
        assert run.data.params["epochs"] == "2"

    # leaderboard and plots on disk, and attached to the parent run
    sweep = sweeper.results / "tiny"
    assert outcome.leaderboard == sweep / "leaderboard.csv"
    assert outcome.leaderboard.is_file()
    assert len(outcome.leaderboard.read_text().splitlines()) == 1 + 4
    plots = sorted(p.name for p in (sweep / "plots").glob("*.png"))
    assert "optimization_history.png" in plots
    assert sorted(p.name for p in outcome.plots) == plots
    attached = artifact_paths(client, parent.info.run_id)
    assert {"space.yaml", "leaderboard.csv", *(f"plots/{p}" for p in plots)} <= attached

    # nothing in ~/ray_results or the current directory; everything under results/
    now = sorted(ray_results.rglob("*")) if ray_results.exists() else None
    assert now == ray_results_before
    assert sorted(os.listdir(sweeper.cwd)) == []
    assert not (sweeper.cwd / "mlruns").exists() and not (sweeper.cwd / "results").exists()
    top = {n for n in os.listdir(sweeper.results) if not n.startswith("mlflow.db-")}  # WAL
    assert top == {"mlartifacts", "mlflow.db", "tiny"}

    # each trial folder keeps only its last and its best checkpoint
    for t in trials:
        folder = sweep / "trials" / str(t.number)
        assert folder.is_dir()
        checkpoints = folder / "checkpoints"
        assert sorted(os.listdir(checkpoints)) == ["best", "last"]
        for kind in ("best", "last"):
            indexes = sorted(p.name for p in (checkpoints / kind).glob("ckpt-*.index"))
            assert len(indexes) == 1, f"trial {t.number} {kind}: {indexes}"
        assert [p.name for p in (checkpoints / "last").glob("ckpt-*.index")] == ["ckpt-2.index"]
        everywhere = sorted(p.relative_to(folder) for p in folder.rglob("*.index"))
        assert all(p.parts[0] in ("checkpoints", "model") for p in everywhere), everywhere


BEST_EPOCH_SPACE = """\
name: bestepoch
dataset: builtin:breast_cancer
metric: {name: val_loss, goal: minimize}
budget: {trials: 2, max_epochs: 8}
concurrency: 2
sampler: {type: grid}
pruner: {type: none}
fixed: {model: dnn, optimizer: adam, width: 64, depth: 2, batch_size: 32, seed: 0}
params:
  learning_rate: {choice: [0.1, 0.003]}
"""


@pytest.mark.timeout(300)
def test_a_trial_is_scored_and_exported_at_its_best_epoch(sweeper: Sweeper, cli) -> None:
    """The real tabular objective, a learning rate that overfits breast cancer (its
    val_loss is lowest at epoch 6 of 8, then climbs): the trial's value is that epoch's,
    in the study, MLflow and the leaderboard; its metrics.json keeps that epoch's
    checkpoint as best; `tune best --export` takes its model, which `tune predict` shows
    to score that epoch's value on the validation split, not the last epoch's."""
    import csv
    import json

    import numpy as np

    from tuner.tabular.data import reader
    from tuner.tabular.model.config import dataset_schema

    outcome = sweeper.run(BEST_EPOCH_SPACE)
    assert outcome.counts == {"COMPLETE": 2}
    trials = outcome.study.get_trials(deepcopy=False)
    _, children = sweeper.runs("bestepoch")
    leaderboard = {int(r["number"]): r for r in csv.DictReader(outcome.leaderboard.open())}
    for t in trials:
        steps = t.intermediate_values
        best = min(steps, key=lambda e: (steps[e], e))
        assert t.value == steps[best] and t.user_attrs["value_epoch"] == best
        (run,) = children[t.number]
        assert run.data.tags["value_epoch"] == str(best)
        assert run.data.metrics["value"] == pytest.approx(t.value, abs=1e-6)
        assert int(leaderboard[t.number]["value_epoch"]) == best
        assert float(leaderboard[t.number]["value"]) == pytest.approx(t.value)
        kept = json.loads(
            (sweeper.results / "bestepoch" / "trials" / str(t.number) / "metrics.json").read_text()
        )
        assert kept["best"] == {"metric": "val_loss", "epoch": best, "value": t.value}
        assert kept["model_checkpoint"] == "best" and kept["model_epoch"] == best
    (overfit,) = [t for t in trials if t.params["learning_rate"] == 0.1]
    best, last = overfit.user_attrs["value_epoch"], max(overfit.intermediate_values)
    assert best < last and overfit.value < overfit.intermediate_values[last]

    out = sweeper.tmp / "export"
    code, _, err = cli(
        "best",
        "bestepoch",
        "--results",
        sweeper.results,
        "--trial",
        str(overfit.number),
        "--out",
        out,
    )
    assert code == 0, err
    exported = json.loads((out / "metrics.json").read_text())
    assert (exported["value"], exported["value_epoch"]) == (overfit.value, best)
    predictions = sweeper.tmp / "predictions.csv"
    directory, _ = dataset_schema("builtin:breast_cancer")  # (the converted data set)
    code, _, err = cli(
        "predict",
        out / "model",
        directory,
        "--split",
        "validation",
        "--out",
        predictions,
    )
    assert code == 0, err
    p = np.array([float(r["probability"]) for r in csv.DictReader(predictions.open())])
    y = np.concatenate(
        [
            y.numpy()
            for _, y in reader.dataset(directory, "validation", batch_size=1024, shuffle=False)
        ]
    ).astype(float)
    p = np.clip(p, 1e-7, 1 - 1e-7)
    log_loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    assert log_loss == pytest.approx(overfit.value, abs=1e-3)
    assert log_loss != pytest.approx(overfit.intermediate_values[last], abs=1e-3)


# ------------------------------------------------------------------ (b) pruning


@pytest.mark.timeout(90)
def test_only_workers_learn_the_driver_pid(ray_session) -> None:
    """faults.point in a worker kills the driver by TUNER_DRIVER_PID; a child the driver
    starts itself must not inherit it (it would kill the driver, not itself)."""
    from tuner.sweep.driver import _worker_env

    assert "TUNER_DRIVER_PID" not in os.environ
    assert _worker_env([])["TUNER_DRIVER_PID"] == str(os.getpid())


def test_threshold_pruner_prunes_hopeless_trials(sweeper: Sweeper) -> None:
    from optuna.trial import TrialState

    from tuner.tracking.runs import TAG_STATE

    # score at epoch 1 is x/2: below 0.2 for x < 0.4 — four hopeless configurations
    trials, epochs = 6, 5
    space = cheap(
        "prune",
        trials=trials,
        epochs=epochs,
        params="x: {choice: [0.05, 0.1, 0.15, 0.3, 0.9, 0.95]}",
        sampler="{type: grid, seed: 3}",
        pruner="{type: threshold, lower: 0.2}",
    )
    outcome = sweeper.run(space)
    study = outcome.study
    done = study.get_trials(deepcopy=False)
    assert len(done) == trials
    pruned = [t for t in done if t.state == TrialState.PRUNED]
    complete = [t for t in done if t.state == TrialState.COMPLETE]
    assert sorted(t.params["x"] for t in pruned) == [0.05, 0.1, 0.15, 0.3]
    assert sorted(t.params["x"] for t in complete) == [0.9, 0.95]
    assert all(len(t.intermediate_values) == epochs for t in complete)

    client = sweeper.client()
    _, children = sweeper.runs("prune")
    for t in pruned:
        assert sorted(t.intermediate_values) == [1]  # pruned at its first epoch
        assert t.user_attrs["reason"] == "pruned after epoch 1"
        (run,) = children[t.number]
        assert run.info.status == "KILLED"
        assert run.data.tags[TAG_STATE] == "PRUNED"
        last = max(t.intermediate_values)
        for metric in ("score", "loss"):
            steps = [s for s, _ in history(client, run, metric)]
            assert steps and max(steps) == last, (metric, steps)
    for t in complete:
        (run,) = children[t.number]
        assert run.info.status == "FINISHED"

    trained = sum(len(t.intermediate_values) for t in done)
    assert trained == outcome.epochs == 4 * 1 + 2 * epochs
    assert trained <= 0.5 * trials * epochs


# ------------------------------------------------------------------ (c) concurrency


@pytest.mark.timeout(90)
def test_concurrency_two_runs_two_trials_at_once(sweeper: Sweeper) -> None:
    # each trial waits until trials in two processes have started: a second worker that
    # starts slowly under load still gets its trial (else the first worker runs them all)
    meet = sweeper.tmp / "meet"
    outcome = sweeper.run(
        cheap("parallel", trials=4, epochs=3, fixed=f"{{sleep: 0.3, meet: '{meet}'}}")
    )
    study = outcome.study
    trials = study.get_trials(deepcopy=False)
    assert states(study) == {"COMPLETE": 4}
    pids = {t.number: t.user_attrs["pid"] for t in trials}
    assert len(set(pids.values())) >= 2, pids  # two worker processes …
    assert os.getpid() not in pids.values()  # … neither of them the driver

    client = sweeper.client()
    _, children = sweeper.runs("parallel")
    spans = {}
    for t in trials:
        (run,) = children[t.number]
        assert run.data.tags["pid"] == str(pids[t.number])
        stamps = [m.timestamp for m in client.get_metric_history(run.info.run_id, "score")]
        assert len(stamps) == 3
        spans[t.number] = (min(stamps), max(stamps))
    # … whose epochs overlap in time: trial A's epochs arrive between trial B's first and
    # last epoch (serial trials would have disjoint spans)
    overlapping = [
        (a, b)
        for a in spans
        for b in spans
        if a < b and pids[a] != pids[b] and spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]
    ]
    assert overlapping, spans


# ------------------------------------------------------------------ (d) failures


@pytest.mark.timeout(90)
def test_failing_trials_are_recorded_and_the_sweep_goes_on(sweeper: Sweeper) -> None:
    from optuna.trial import TrialState

    from tuner.tracking.runs import TAG_REASON, TAG_STATE

    space = cheap(
        "failing",
        trials=4,
        epochs=2,
        fixed="{sleep: 0.05, fail_if_x_above: 0.5}",
        params="x: {choice: [0.1, 0.3, 0.7, 0.9]}",
        sampler="{type: grid, seed: 0}",
    )
    outcome = sweeper.run(space)
    study = outcome.study
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 4  # the budget, despite the failures
    assert outcome.stopped is None
    assert outcome.counts == {"COMPLETE": 2, "FAIL": 2}
    _, children = sweeper.runs("failing")
    for t in trials:
        (run,) = children[t.number]
        if t.params["x"] > 0.5:
            assert t.state == TrialState.FAIL
            reason = t.user_attrs["reason"]
            assert "RuntimeError: planned failure at epoch 1" in reason
            assert run.info.status == "FAILED"
            assert run.data.tags[TAG_STATE] == "FAIL"
            assert run.data.tags[TAG_REASON] == reason
        else:
            assert t.state == TrialState.COMPLETE
            assert run.info.status == "FINISHED"


@pytest.mark.timeout(90)
def test_max_failures_stops_the_sweep_early(sweeper: Sweeper) -> None:
    space = cheap(
        "doomed",
        trials=20,
        epochs=3,
        fixed="{sleep: 0.05, fail_at: 1}",
        extra_budget=", max_failures: 2",
    )
    outcome = sweeper.run(space)
    trials = outcome.study.get_trials(deepcopy=False)
    assert 2 <= len(trials) < 20
    assert outcome.stopped is not None and "max_failures" in outcome.stopped
    assert states(outcome.study) == {"FAIL": len(trials)}
    _, children = sweeper.runs("doomed")
    assert sorted(children) == sorted(t.number for t in trials)
    assert all(run.info.status == "FAILED" for (run,) in children.values())


@pytest.mark.timeout(90)
def test_time_budget_stops_the_sweep_cleanly(sweeper: Sweeper) -> None:
    from optuna.trial import TrialState

    space = cheap(
        "timed",
        trials=8,
        epochs=20,
        fixed="{sleep: 0.5}",
        extra_budget=", time: 6s",
    )
    started = time.monotonic()
    outcome = sweeper.run(space)
    took = time.monotonic() - started
    assert outcome.stopped is not None and "time budget" in outcome.stopped
    assert took < 20, f"the sweep took {took:.1f}s with a 3s budget"
    trials = outcome.study.get_trials(deepcopy=False)
    assert len(trials) < 8
    # the budget's stop is no failure: a stopped trial stands at its best epoch so far
    # (the cheap objective's score only grows: its last), or, with none yet, stays
    # RUNNING for `tune resume`
    # (how many epochs a trial reaches in the budget depends on the machine's load)
    assert not [t for t in trials if t.state == TrialState.FAIL], states(outcome.study)
    stopped = [t for t in trials if t.state == TrialState.COMPLETE]
    for t in stopped:
        assert t.user_attrs["reason"].startswith("stopped by the sweep's time budget after"), (
            t.user_attrs
        )
        assert t.value == max(t.intermediate_values.values())
        assert t.user_attrs["value_epoch"] == max(t.intermediate_values)
    unscored = [t for t in trials if t.state == TrialState.RUNNING]
    assert all(not t.intermediate_values for t in unscored), states(outcome.study)
    assert outcome.best_number in {t.number for t in stopped} | ({None} if not stopped else set())
    _, children = sweeper.runs("timed")
    for number, (run,) in children.items():
        state = outcome.study.trials[number].state
        assert run.info.status == ("FINISHED" if state == TrialState.COMPLETE else "KILLED")
    assert [p.info.status for p in sweeper.runs("timed")[0]] == ["FINISHED"]


# ------------------------------------------------------------------ (e) GPU without a GPU


@pytest.mark.timeout(90)
def test_gpu_request_without_gpu_runs_with_a_warning(
    sweeper: Sweeper, capfd: pytest.CaptureFixture[str]
) -> None:
    if sweeper.ray.cluster_resources().get("GPU"):
        pytest.skip("this machine has a GPU")
    # one trial; the cheap objective has no setup_process hook: no GPU memory to cap
    space = cheap(
        "gpu",
        trials=1,
        epochs=1,
        concurrency=1,
        fixed="{sleep: 0.0}",
        extra="resources: {gpu: 0.5}\n",
    )
    outcome = sweeper.run(space)
    assert outcome.counts == {"COMPLETE": 1}
    err = capfd.readouterr().err
    assert "warning: resources.gpu=0.5" in err and "no GPU" in err


# ------------------------------------------------------------------ (f, g) the command line


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    env["PYTHONPATH"] = repo_pythonpath()
    return env


@pytest.mark.timeout(60)
def test_an_unreachable_tracking_server_fails_before_ray_starts(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from tuner.sweep import driver as sweep

    monkeypatch.setattr(sweep, "ensure_ray", lambda **_: pytest.fail("Ray was started"))
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    space = tmp_path / "cheap.yaml"
    space.write_text(cheap("nowhere", trials=2, epochs=1))
    code, _, err = cli(
        "run",
        space,
        "--results",
        tmp_path / "results",
        "--tracking-uri",
        f"http://127.0.0.1:{port}",
    )
    assert code == 2, err
    assert err.strip().splitlines() == [
        f"tune: error: tracking URI 'http://127.0.0.1:{port}': cannot reach the server "
        "(Connection refused) (is an MLflow server running there? start one with "
        "`mlflow server --port PORT`)"
    ]
    assert not (tmp_path / "results" / "nowhere").exists()  # no study left to list as a sweep


@pytest.mark.timeout(60)
def test_a_tracking_store_that_fails_in_the_background_leaves_no_sweep(
    cli, ray_session, tmp_path: Path
) -> None:
    """The SQLite store opens while the study is locked and Ray starts; when it turns out
    unusable (not a database), the sweep it was started with is removed again."""
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not an SQLite database\n" * 200)
    space = tmp_path / "cheap.yaml"
    space.write_text(cheap("nowhere", trials=2, epochs=1))
    results = tmp_path / "results"
    code, out, err = cli(
        "run", space, "--results", results, "--tracking-uri", f"sqlite:///{garbage}"
    )
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"tune: error: tracking URI 'sqlite:///{garbage}'"
    )
    assert "Traceback" not in err and out == ""
    assert not (results / "nowhere").exists()  # no study left to list as a sweep


@pytest.mark.timeout(60)
def test_a_bad_storage_url_fails_before_the_sweep_folder_exists(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuner.sweep import driver as sweep

    monkeypatch.setattr(sweep, "ensure_ray", lambda **_: pytest.fail("Ray was started"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    space = tmp_path / "cheap.yaml"
    space.write_text(cheap("nowhere", trials=2, epochs=1))
    results = tmp_path / "results"
    code, _, err = cli("run", space, "--results", results, "--storage", "nonsense")
    assert code == 2, err
    assert err.startswith("tune: error: --storage 'nonsense'"), err
    assert not (results / "nowhere").exists()


@pytest.mark.timeout(120)
def test_tune_run_and_status_in_a_subprocess(tmp_path: Path) -> None:
    space = tmp_path / "cheap.yaml"
    space.write_text(cheap("cli", trials=4, epochs=2))
    results = tmp_path / "results"
    run = subprocess.run(
        [sys.executable, "-m", "tuner", "run", str(space), "--results", str(results), "--quiet"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert any(line.startswith("sweep cli: 4 complete; 8 epochs trained in") for line in lines), (
        run.stdout
    )
    assert any(line.startswith("best: trial ") for line in lines), run.stdout
    # what mattered: the best trial's params, the spread of the complete trials
    assert any(line.startswith("  params: ") for line in lines), run.stdout
    assert any(line.startswith("spread of the 4 complete trials: ") for line in lines), run.stdout
    assert f"tune ui --results {results}, then open http://127.0.0.1:5000/#/experiments/" in (
        run.stdout
    )
    assert "/runs?orderByKey=metrics.%60" in run.stdout  # (sorted by the sweep's metric)
    assert sorted(os.listdir(tmp_path)) == ["cheap.yaml", "results"]

    status = subprocess.run(
        [sys.executable, "-m", "tuner", "status", "cli", "--results", str(results)],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert "sweep cli" in status.stdout, status.stdout
    # the same MLflow page tune run printed, kept in the study (no MLflow opened)
    page = run.stdout.split("then open ", 1)[1].split()[0]
    assert f"mlflow   {page}  (tune ui)" in status.stdout, status.stdout
    assert "4 done · 0 running · 0 pruned · 0 failed · 0 waiting of 4" in status.stdout
    assert "(8 epochs trained)" in status.stdout
    assert status.stdout.count("COMPLETE") == 4, status.stdout


BAD = """\
name: bad
objective: tests.sweep.cheap:train
metric: {name: acc, goal: maximize}
budget: {trials: 4, max_epochs: 2}
params:
  x: {float: [0.0, 1.0]}
"""


@pytest.mark.timeout(30)
def test_invalid_space_file_fails_before_anything_runs(tmp_path: Path, cli) -> None:
    space = tmp_path / "bad.yaml"
    space.write_text(BAD)
    code, out, err = cli("run", space, "--results", tmp_path / "results")
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert f"{space}:3: key 'metric.name': metric 'acc' is never reported" in err
    assert not (tmp_path / "results").exists()

    # in a fresh process: no Ray (nor TensorFlow, MLflow) imported, let alone started
    probe = (
        "import sys\n"
        "from tuner.cli.app import main\n"
        f"code = main(['run', {str(space)!r}, '--results', {str(tmp_path / 'r2')!r}])\n"
        "heavy = sorted(m for m in ('ray', 'tensorflow', 'mlflow') if m in sys.modules)\n"
        "print(code, heavy)\n"
    )
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=25,
    )
    took = time.monotonic() - started
    assert proc.stdout.strip() == "2 []", (proc.stdout, proc.stderr)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert took < 2, f"an invalid space file took {took:.1f}s to refuse"
    assert not (tmp_path / "r2").exists()
