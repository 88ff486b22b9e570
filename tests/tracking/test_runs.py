"""MLflow tracking through `tuner.tracking.runs.Tracker`, against a real SQLite store."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SPACE = "name: demo\nobjective: tabular\nparams:\n  learning_rate: {float: [1.0e-4, 0.1]}\n"


@pytest.fixture
def where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(results folder, current directory): distinct, so stray ./mlruns would show."""
    results, cwd = tmp_path / "results", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return results, cwd


def tracker(results: Path, **kwargs):
    from tuner.tracking.runs import Tracker, default_artifact_root, default_tracking_uri

    return Tracker(default_tracking_uri(results), default_artifact_root(results), **kwargs)


def sweep(t, name="demo", study="demo", storage="journal:/s/study.journal", **params) -> str:
    params = params or {
        "fixed": {"model": "dnn", "hidden_units": [64, 32]},
        "metric": {"name": "val_auc", "goal": "maximize"},
        "budget": {"trials": 3, "max_epochs": 3},
        "sampler": {"type": "tpe", "seed": 7},
        "pruner": {"type": "median"},
    }
    return t.start_sweep(name, SPACE, "/spaces/demo.yaml", study, storage, params)


def steps(client, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


@pytest.mark.parametrize("flush_seconds", [0.0, 60.0], ids=["every-call", "batched"])
def test_parent_and_three_trials(where, flush_seconds):
    results, cwd = where
    t = tracker(results, flush_seconds=flush_seconds)
    parent = sweep(t)
    ends = [("COMPLETE", 0.9, None), ("PRUNED", 0.6, "pruned at epoch 1"), ("FAIL", None, "boom")]
    runs = []
    for number, (state, value, reason) in enumerate(ends):
        run = t.start_trial(
            parent,
            number,
            {"learning_rate": 0.01 * (number + 1), "hidden_units": [64, 32], "optimizer": "adam"},
            {"ray_trial_id": f"trial_{number:05d}"},
        )
        t.set_tags(run, {"node_id": "abc123"})
        for epoch in range(3 if state == "COMPLETE" else 2):
            t.log_epoch(run, epoch, {"loss": 1.0 / (epoch + 1), "val_auc": 0.5 + 0.1 * epoch})
        t.end_trial(run, state, value, reason)
        t.log_best(parent, 0.9, number + 1)
        runs.append(run)
    leaderboard = results / "demo" / "leaderboard.csv"
    leaderboard.parent.mkdir(parents=True)
    leaderboard.write_text("number,value\n0,0.9\n")
    plot = results / "demo" / "plots" / "history.png"
    plot.parent.mkdir()
    plot.write_bytes(b"\x89PNG\r\n")
    t.end_sweep(parent, artifacts=[leaderboard, plot])

    client = t.client
    p = client.get_run(parent)
    assert p.info.status == "FINISHED"
    assert p.data.tags["mlflow.runName"] == "demo" and p.data.tags["tuner.sweep"] == "demo"
    assert p.data.params["metric.name"] == "val_auc"
    assert p.data.params["fixed.hidden_units"] == "[64, 32]"
    assert p.data.params["budget.trials"] == "3"
    assert steps(client, parent, "best_value") == [(1, 0.9), (2, 0.9), (3, 0.9)]

    children = client.search_runs([p.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'")
    assert sorted(r.info.run_id for r in children) == sorted(runs)
    got = {int(r.data.tags["tuner.trial_number"]): r for r in children}
    assert [got[n].info.status for n in range(3)] == ["FINISHED", "KILLED", "FAILED"]
    assert [got[n].data.tags["state"] for n in range(3)] == ["COMPLETE", "PRUNED", "FAIL"]
    assert [got[n].info.run_name for n in range(3)] == ["trial-0", "trial-1", "trial-2"]
    assert got[1].data.tags["reason"] == "pruned at epoch 1" and "reason" not in got[0].data.tags
    assert got[0].data.metrics["value"] == 0.9 and "value" not in got[2].data.metrics
    assert got[2].data.tags["ray_trial_id"] == "trial_00002"
    assert got[2].data.tags["node_id"] == "abc123"
    assert got[0].data.params == {
        "learning_rate": "0.01",
        "hidden_units": "[64, 32]",
        "optimizer": "adam",
    }
    # every epoch once, with step = epoch; none after a pruned trial's last epoch
    assert steps(client, runs[0], "val_auc") == [(0, 0.5), (1, 0.6), (2, pytest.approx(0.7))]
    assert [s for s, _ in steps(client, runs[1], "loss")] == [0, 1]

    # artifacts under results/mlartifacts/<experiment>; nothing in the current directory
    artifacts = results / "mlartifacts" / "demo" / parent / "artifacts"
    assert (artifacts / "space.yaml").read_text() == SPACE
    assert (artifacts / "leaderboard.csv").exists()
    assert (artifacts / "plots" / "history.png").exists()
    assert client.get_experiment(p.info.experiment_id).artifact_location == (
        (results / "mlartifacts" / "demo").as_uri()
    )
    assert list(cwd.iterdir()) == []
    # the page opens on the comparison: the trials sorted by the metric, best first
    assert t.runs_url("http://127.0.0.1:5000/") == (
        f"http://127.0.0.1:5000/#/experiments/{p.info.experiment_id}/runs"
        "?orderByKey=metrics.%60val_auc%60&orderByAsc=false&compareRunsMode=CHART"
        "&workflowType=machine_learning"
    )
    # a model-training experiment (not MLflow's GenAI mode); the parent says what it
    # searched, its budget and its best trial
    experiment = client.get_experiment(p.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    described = p.data.tags["mlflow.note.content"]
    assert "maximize `val_auc` (tpe sampler, median pruner)" in described
    assert "**Budget**: 3 trials, up to 3 epochs each" in described
    assert "**Best so far**: trial 0, val_auc = 0.9 (of 3 finished trials)" in described


def test_resume_reuses_parent_and_child(where):
    results, _ = where
    first = tracker(results)
    parent = sweep(first)
    run = first.start_trial(parent, 0, {"learning_rate": 0.1}, {"ray_trial_id": "a"})
    first.log_epoch(run, 0, {"loss": 1.0})
    first.log_epoch(run, 1, {"loss": 0.5})
    first.flush()  # the process dies here: the run stays RUNNING, the parent too
    done = first.start_trial(parent, 1, {"learning_rate": 0.2})
    first.end_trial(done, "COMPLETE", 0.7)
    first.flush()

    again = tracker(results)
    resumed = sweep(
        again,
        fixed={"model": "dnn"},
        metric={"name": "val_auc", "goal": "maximize"},
        budget={"trials": 5},  # changed on the command line: params are immutable
    )
    assert resumed == parent
    client = again.client
    assert client.get_run(parent).info.status == "RUNNING"
    assert client.get_run(parent).data.tags["tuner.param.budget.trials"] == "5"
    same = again.start_trial(parent, 0, {"learning_rate": 0.1}, {"ray_trial_id": "b"})
    assert same == run
    assert client.get_run(run).data.tags["ray_trial_id"] == "b"
    # the trial restarts from an older checkpoint: epoch 1 again, then on
    again.log_epoch(run, 1, {"loss": 0.4})
    again.log_epoch(run, 2, {"loss": 0.25})
    again.end_trial(run, "COMPLETE", 0.8)
    assert steps(client, run, "loss") == [(0, 1.0), (1, 0.5), (2, 0.25)]
    assert client.get_run(run).info.status == "FINISHED"
    new = again.start_trial(parent, 2, {"learning_rate": 0.3})
    assert new not in (run, done)
    again.end_trial(new, "FAIL", None, "diverged")
    again.end_sweep(parent)

    exp = client.get_run(parent).info.experiment_id
    parents = client.search_runs([exp], "tags.`tuner.kind` = 'sweep'")
    assert [r.info.run_id for r in parents] == [parent]
    children = client.search_runs([exp], f"tags.`mlflow.parentRunId` = '{parent}'")
    assert sorted(r.data.tags["tuner.trial_number"] for r in children) == ["0", "1", "2"]

    # another study (or storage) under the same name is another parent in the experiment
    other = sweep(again, study="demo-2")
    assert other != parent
    assert again.experiment_id == exp


def test_a_moved_sweep_continues_its_parent_and_children(where):
    """The default journal's URL is absolute: a sweep whose folder was moved or copied
    comes back with another storage URL, and is still the same study (its uid): the same
    parent run, the same child runs, its storage tag saying where it is now."""
    results, _ = where
    first = tracker(results)
    parent = sweep(first, study="uid-1", storage="journal:/old/demo/study.journal")
    run = first.start_trial(parent, 0, {"learning_rate": 0.1})
    first.flush()

    again = tracker(results)
    moved = sweep(again, study="uid-1", storage="journal:/new/demo/study.journal")
    assert moved == parent
    assert again.start_trial(parent, 0, {"learning_rate": 0.1}) == run
    again.flush()
    tags = again.client.get_run(parent).data.tags
    assert tags["tuner.storage"] == "journal:/new/demo/study.journal"
    assert sweep(again, study="uid-2", storage="journal:/new/demo/study.journal") != parent


def test_nonfinite_values_are_skipped_and_tagged_once(where):
    results, _ = where
    t = tracker(results, flush_seconds=0)
    parent = sweep(t)
    run = t.start_trial(parent, 0, {"learning_rate": 0.1})
    t.log_epoch(run, 0, {"loss": 1.0, "val_loss": 2.0})
    t.log_epoch(run, 1, {"loss": math.nan, "val_loss": 1.0})
    t.log_epoch(run, 2, {"loss": math.inf, "val_loss": -math.inf})
    t.end_trial(run, "FAIL", math.nan, "loss is NaN")
    client = t.client
    assert steps(client, run, "loss") == [(0, 1.0)]
    assert steps(client, run, "val_loss") == [(0, 2.0), (1, 1.0)]
    data = client.get_run(run).data
    assert data.tags["tuner.nonfinite"] == "loss at step 1"
    assert "value" not in data.metrics
    assert data.tags["state"] == "FAIL"


def test_a_step_logged_twice_in_one_run_is_written_once(where):
    """A resumed trial's epochs come twice: from the study (what a killed writer lost)
    and from the objective's replay of its checkpoint; the first value stays."""
    results, _ = where
    t = tracker(results, flush_seconds=60.0)
    parent = sweep(t)
    run = t.start_trial(parent, 0, {"learning_rate": 0.1})
    for epoch, value in ((1, 0.5), (2, 0.6), (1, 0.5), (2, 0.61), (3, 0.7)):
        t.log_epoch(run, epoch, {"val_auc": value})
    t.end_trial(run, "COMPLETE", 0.7)
    assert steps(t.client, run, "val_auc") == [(1, 0.5), (2, 0.6), (3, 0.7)]


def test_a_fast_trial_costs_three_calls(where):
    """Batching: create the run, one log_batch with params + every epoch + the end, then
    terminate. (Per-call cost on SQLite is ~3–10 ms, so calls are what a trial costs.)"""
    results, _ = where
    t = tracker(results)
    parent = sweep(t)
    calls = []
    for name in ("create_run", "log_batch", "set_terminated", "get_run", "search_runs"):
        method = getattr(t.client, name)

        def wrapped(*args, _method=method, _name=name, **kwargs):
            calls.append(_name)
            return _method(*args, **kwargs)

        setattr(t.client, name, wrapped)
    run = t.start_trial(parent, 0, {"learning_rate": 0.1, "units": [8, 4]}, {"ray_trial_id": "x"})
    for epoch in range(10):
        t.log_epoch(run, epoch, {"loss": 1.0 / (epoch + 1), "val_auc": 0.5})
    t.end_trial(run, "COMPLETE", 0.5)
    assert calls == ["create_run", "log_batch", "set_terminated"]
    assert len(t.client.get_metric_history(run, "loss")) == 10


def test_tracking_uri_resolution(tmp_path, monkeypatch):
    from tuner.tracking.runs import resolve_tracking_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri(tmp_path, None) == f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert resolve_tracking_uri(tmp_path, None) == "http://mlflow.example:5000"
    assert resolve_tracking_uri(tmp_path, "sqlite:////x/y.db") == "sqlite:////x/y.db"


def test_bad_tracking_uri_is_a_config_error(tmp_path):
    from tuner.errors import ConfigError
    from tuner.tracking.runs import Tracker

    with pytest.raises(ConfigError, match="tracking URI 'bogus://x'"):
        Tracker("bogus://x", tmp_path)


def test_unreachable_tracking_server_fails_at_once(tmp_path, monkeypatch):
    """MLflow's own retries (7, with backoff) would make this a hang of minutes."""
    import os
    import socket
    import time

    from tuner.errors import ConfigError
    from tuner.tracking.runs import Tracker

    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(
        ConfigError,
        match=rf"tracking URI 'http://u:\*\*\*@127\.0\.0\.1:{port}': cannot reach the server "
        r"\(Connection refused\).*is an MLflow server running there",
    ):
        Tracker(f"http://u:secret@127.0.0.1:{port}", tmp_path)
    assert time.monotonic() - start < 5
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # later requests: defaults


def test_latest_sweep_experiment(where):
    from tuner.tracking.runs import latest_sweep_experiment

    results, _ = where
    t = tracker(results)
    uri = t.tracking_uri
    assert latest_sweep_experiment(uri) is None
    sweep(t, name="first", study="first")
    time.sleep(0.01)  # start times are in milliseconds
    sweep(t, name="second", study="second")
    assert latest_sweep_experiment(uri) == t.experiment("second")
