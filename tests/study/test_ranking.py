"""tuner.study.ranking, leaderboard and plots: the best trial, the leaderboard and the
plots, read from a study built directly with Optuna in a journal file (no Ray, no TensorFlow)."""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import pytest

from tuner.study import records
from tuner.study.storage import open_storage, storage_url

PNG = b"\x89PNG\r\n\x1a\n"

SPACE = """\
name: {name}
objective: tabular
metric: {{name: val_auc, goal: {goal}}}
budget: {{trials: 10, max_epochs: 4}}
concurrency: 2
params:
  optimizer: {{choice: [sgd, adam]}}
  learning_rate: {{float: [1.0e-4, 1.0e-1], log: true}}
  momentum: {{float: [0.0, 0.99], when: {{optimizer: sgd}}}}
"""

# (params, final state, per-epoch values, reason); maximize val_auc
TRIALS: list[tuple[dict[str, Any], str, list[float], str | None]] = [
    ({"optimizer": "adam", "learning_rate": 0.01}, "COMPLETE", [0.80, 0.85, 0.90, 0.88], None),
    ({"optimizer": "adam", "learning_rate": 0.003}, "COMPLETE", [0.90, 0.93, 0.94, 0.95], None),
    (
        {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9},
        "PRUNED",
        [0.60, 0.62],
        "pruned at epoch 2",
    ),
    (
        {"optimizer": "sgd", "learning_rate": 0.1, "momentum": 0.5},
        "FAIL",
        [0.55],
        "ValueError: loss diverged",
    ),
    ({"optimizer": "adam", "learning_rate": 0.0001}, "PRUNED", [0.70], "pruned at epoch 1"),
    ({"optimizer": "adam", "learning_rate": 0.002}, "COMPLETE", [0.85, 0.91, 0.91, 0.91], None),
    ({"optimizer": "adam", "learning_rate": 0.02}, "RUNNING", [0.50, 0.55], None),
]


def make_study(
    results: Path,
    name: str = "demo",
    trials: list[tuple[dict[str, Any], str, list[float], str | None]] = TRIALS,
    goal: str = "maximize",
) -> Any:
    """A sweep's study as the driver leaves it, under results/<name>/study.journal."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {
        "optimizer": CategoricalDistribution(["sgd", "adam"]),
        "learning_rate": FloatDistribution(1e-4, 1e-1, log=True),
        "momentum": FloatDistribution(0.0, 0.99),
    }
    study = optuna.create_study(
        study_name=name,
        storage=open_storage(storage_url(results, name)),
        direction=goal,
    )
    study.set_user_attr(records.SPACE, SPACE.format(name=name, goal=goal))
    study.set_user_attr(records.OBJECTIVE, "tabular")
    study.set_user_attr(records.METRIC, "val_auc")
    study.set_user_attr(records.GOAL, goal)
    study.set_user_attr(records.MAX_EPOCHS, 4)
    for params, state, values, reason in trials:
        study.enqueue_trial(params)
        trial = study.ask({k: dists[k] for k in params})
        assert trial.params == params
        trial.set_user_attr(records.TRIAL_CONFIG, {**params, "epochs": 4})
        for epoch, value in enumerate(values, start=1):
            trial.report(value, step=epoch)
        if reason:
            trial.set_user_attr(records.TRIAL_REASON, reason)
        if state == "COMPLETE":
            study.tell(trial, values[-1])
        elif state != "RUNNING":
            study.tell(trial, state=TrialState[state])
    return study


@pytest.fixture
def study(tmp_path: Path) -> Any:
    return make_study(tmp_path / "results")


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
    assert rows.loc[0, "value"] == pytest.approx(0.88)
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


def test_best_trial(study: Any, tmp_path: Path) -> None:
    from tuner.study.ranking import best_trial

    best = best_trial(study)
    assert best is not None and best.number == 1 and best.value == pytest.approx(0.95)
    pruned_only = make_study(tmp_path / "other", "p", [TRIALS[2], TRIALS[3]])
    assert best_trial(pruned_only) is None


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


@pytest.mark.slow  # the first plot pays matplotlib's and Optuna's imports: ~1.5 s
def test_write_plots(study: Any, tmp_path: Path) -> None:
    from tuner.study.plots import write_plots

    written = write_plots(study, tmp_path / "plots")
    assert [p.name for p in written] == [
        "optimization_history.png",
        "parallel_coordinate.png",
        "param_importances.png",
        "intermediate_values.png",
    ]
    for path in written:
        assert path.read_bytes()[:8] == PNG, path
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(p.name for p in written)


def test_write_plots_one_trial_skips(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tuner.study.plots import write_plots

    study = make_study(tmp_path, "one", TRIALS[:1])
    with caplog.at_level(logging.INFO, logger="tuner.study.plots"):
        written = write_plots(study, tmp_path / "plots")
    assert [p.name for p in written] == ["optimization_history.png", "intermediate_values.png"]
    assert all(p.read_bytes()[:8] == PNG for p in written)
    text = caplog.text
    assert "parallel_coordinate skipped: needs 2 complete trials, has 1" in text
    assert "param_importances skipped: needs 2 complete trials, has 1" in text


def test_write_plots_no_varying_param(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tuner.study.plots import write_plots

    same = {"optimizer": "adam", "learning_rate": 0.01}
    trials = [(same, "COMPLETE", [0.8], None), (same, "COMPLETE", [0.9], None)]
    study = make_study(tmp_path, "flat", trials)
    with caplog.at_level(logging.INFO, logger="tuner.study.plots"):
        written = write_plots(study, tmp_path / "plots")
    assert "param_importances.png" not in {p.name for p in written}
    assert "no param varies" in caplog.text
