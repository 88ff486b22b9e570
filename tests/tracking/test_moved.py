"""A results folder moved or copied elsewhere: its MLflow store's artifact locations are
pointed at it (tuner/tracking/moved.py), against real SQLite stores MLflow wrote."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.tracking.test_runs import sweep, tracker
from tuner.tracking.moved import follow_move

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def _uri(results: Path) -> str:
    from tuner.tracking.uri import default_tracking_uri

    return default_tracking_uri(results)


def _sweep_with_artifacts(results: Path) -> tuple[str, str]:
    """A store in `results`: a parent run with space.yaml and a leaderboard, one child."""
    t = tracker(results)
    parent = sweep(t)
    child = t.start_trial(parent, 0, {"learning_rate": 0.1})
    t.log_epoch(child, 1, {"loss": 0.5})
    t.end_trial(child, "COMPLETE", 0.5)
    board = results / "demo" / "leaderboard.csv"
    board.parent.mkdir(parents=True)
    board.write_text("number,value\n0,0.5\n")
    t.end_sweep(parent, artifacts=[board])
    return parent, child


def _locations(results: Path) -> list[str]:
    with sqlite3.connect(results / "mlflow.db") as db:
        rows = db.execute("SELECT artifact_location FROM experiments").fetchall()
        rows += db.execute("SELECT artifact_uri FROM runs").fetchall()
    return [row[0] for row in rows]


def test_a_copied_store_points_its_artifacts_at_the_copy(tmp_path: Path, monkeypatch) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    first, copy = tmp_path / "A", tmp_path / "B"
    parent, child = _sweep_with_artifacts(first)
    shutil.copytree(first, copy, symlinks=True)
    before = _locations(first)

    moves = follow_move(_uri(copy), copy)
    assert [m.new for m in moves] == [(copy / "mlartifacts" / "demo").as_uri()]
    assert _locations(first) == before  # the original store is untouched
    client = MlflowClient(_uri(copy))
    experiment = client.get_experiment_by_name("demo")
    assert experiment.artifact_location == (copy / "mlartifacts" / "demo").as_uri()
    for run_id in (parent, child):
        assert client.get_run(run_id).info.artifact_uri == (
            (copy / "mlartifacts" / "demo" / run_id / "artifacts").as_uri()
        )
    shutil.rmtree(first)  # the artifacts are read from the copy
    assert {a.path for a in client.list_artifacts(parent)} == {"space.yaml", "leaderboard.csv"}
    got = client.download_artifacts(parent, "leaderboard.csv", str(tmp_path))
    assert Path(got).read_text() == "number,value\n0,0.5\n"
    # and what is logged from now on goes to the copy
    again = tracker(copy)
    assert sweep(again) == parent
    again.end_sweep(parent)
    assert not first.exists()
    assert follow_move(_uri(copy), copy) == []  # done once


def test_a_moved_store_whose_old_folder_is_gone_follows_too(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    first, moved = tmp_path / "A", tmp_path / "B"
    _sweep_with_artifacts(first)
    shutil.move(first, moved)
    shutil.rmtree(moved / "mlartifacts")  # even with its artifacts lost
    assert [m.experiment for m in follow_move(_uri(moved), moved)]
    ours = [loc for loc in _locations(moved) if "/mlartifacts/" in loc]
    assert len(ours) == 3 and all(loc.startswith((moved / "mlartifacts").as_uri()) for loc in ours)


def test_stores_and_artifacts_kept_elsewhere_on_purpose_are_left_alone(
    tmp_path: Path, monkeypatch
) -> None:
    """A store that is not the results folder's own (`--tracking-uri`), and one whose
    artifacts were written to another results folder that still has them: untouched;
    MLflow's Default experiment (./mlruns) is not tuner's to move."""
    from tuner.tracking.runs import Tracker

    monkeypatch.chdir(tmp_path)
    first, copy = tmp_path / "A", tmp_path / "B"
    _sweep_with_artifacts(first)
    shutil.copytree(first, copy)
    assert follow_move(_uri(first), copy) == []  # A's store, read with --results B
    assert follow_move(f"sqlite:///{tmp_path / 'other.db'}", copy) == []  # not there

    store, artifacts = tmp_path / "C", tmp_path / "D"
    t = Tracker(_uri(store), artifacts / "mlartifacts")  # --results D --tracking-uri C/…
    t.end_sweep(sweep(t))
    before = _locations(store)
    assert follow_move(_uri(store), store) == []
    assert _locations(store) == before


def test_a_store_that_is_not_one_yet_is_left_to_mlflow(tmp_path: Path) -> None:
    """An empty mlflow.db (a crash before MLflow made its tables): nothing to move, no
    error here (MLflow creates the tables when it opens it)."""
    results = tmp_path / "results"
    results.mkdir()
    (results / "mlflow.db").write_bytes(b"")
    assert follow_move(_uri(results), results) == []
    assert (results / "mlflow.db").read_bytes() == b""
