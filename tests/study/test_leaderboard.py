"""tuner.study.leaderboard: one row per trial in the ranking's order, written atomically."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from tests.study.studies import make_study


def test_leaderboard_order_and_columns(study: Any) -> None:
    import pandas as pd

    from tuner.study.leaderboard import leaderboard

    frame = leaderboard(study)
    # complete by value, then running, then pruned by last intermediate value, failed last
    assert frame["number"].tolist() == [1, 5, 0, 6, 4, 2, 3]
    assert frame["state"].tolist() == [
        "COMPLETE",
        "COMPLETE",
        "COMPLETE",
        "RUNNING",
        "PRUNED",
        "PRUNED",
        "FAIL",
    ]
    assert list(frame.columns) == [
        "number",
        "state",
        "value",
        "value_epoch",
        "best_epoch",
        "best_value",
        "epochs",
        "duration_s",
        "param_optimizer",
        "param_learning_rate",
        "param_momentum",
        "reason",
    ]
    rows = frame.set_index("number")
    assert rows.loc[0, "value"] == pytest.approx(0.88) and rows.loc[0, "value_epoch"] == 4
    assert pd.isna(rows.loc[2, "value_epoch"])  # (not told a value)
    assert rows.loc[0, "best_epoch"] == 3 and rows.loc[0, "best_value"] == pytest.approx(0.90)
    assert rows.loc[5, "best_epoch"] == 2  # the earliest of equal values
    assert rows.loc[2, "epochs"] == 2 and rows.loc[4, "epochs"] == 1
    assert rows.loc[2, "value"] == pytest.approx(0.62)  # a pruned trial: its last value
    assert pd.isna(rows.loc[3, "value"]) and rows.loc[3, "reason"] == "ValueError: loss diverged"
    assert pd.isna(rows.loc[6, "duration_s"]) and rows.loc[1, "duration_s"] >= 0
    assert rows.loc[2, "param_momentum"] == pytest.approx(0.9)
    assert pd.isna(rows.loc[1, "param_momentum"])  # conditional: not sampled for adam
    assert rows.loc[1, "param_optimizer"] == "adam"
    for column in ("value", "best_value", "epochs", "duration_s", "param_learning_rate"):
        assert pd.api.types.is_numeric_dtype(frame[column]), column


def test_leaderboard_minimize(tmp_path: Path) -> None:
    from tuner.study.leaderboard import leaderboard
    from tuner.study.ranking import best_trial

    trials = [
        ({"optimizer": "adam", "learning_rate": 0.01}, "COMPLETE", [0.5, 0.3], None),
        ({"optimizer": "adam", "learning_rate": 0.02}, "PRUNED", [0.9], None),
        ({"optimizer": "adam", "learning_rate": 0.03}, "COMPLETE", [0.4, 0.2], None),
        ({"optimizer": "adam", "learning_rate": 0.04}, "PRUNED", [0.6], None),
    ]
    study = make_study(tmp_path, "low", trials, goal="minimize")
    frame = leaderboard(study)
    assert frame["number"].tolist() == [2, 0, 3, 1]
    assert frame.set_index("number").loc[0, "best_epoch"] == 2
    assert best_trial(study).number == 2


def test_empty_study(tmp_path: Path) -> None:
    from tuner.study.leaderboard import leaderboard
    from tuner.study.plots import write_plots
    from tuner.study.ranking import best_trial

    study = make_study(tmp_path, "empty", [])
    frame = leaderboard(study)
    assert len(frame) == 0 and "value" in frame.columns
    assert best_trial(study) is None
    assert write_plots(study, tmp_path / "plots") == []


def test_write_leaderboard_atomic(study: Any, tmp_path: Path) -> None:
    from tuner.study.leaderboard import write_leaderboard

    path = tmp_path / "out" / "leaderboard.csv"
    path.parent.mkdir()
    path.write_text("old")
    assert write_leaderboard(study, path) == path
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["number"] for r in rows] == ["1", "5", "0", "6", "4", "2", "3"]
    assert rows[0]["best_epoch"] == "4" and rows[-1]["reason"] == "ValueError: loss diverged"
    assert sorted(p.name for p in path.parent.iterdir()) == ["leaderboard.csv"]  # no leftovers
