"""tuner.study.plots: Optuna's plots as PNG files, skipped (and said so) where a plot
cannot be drawn."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.study.studies import TRIALS, make_study

PNG = b"\x89PNG\r\n\x1a\n"


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


def test_a_warm_started_sweep_draws_its_own_optimization_history(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 25: a warm-started sweep skipped its history plot (`IndexError: list index
    out of range`). Optuna's matplotlib history finds a trial's value at the position of
    its number in the study's trial list; the sweep's own trials come after the history
    (numbers 3, 4, ...). The plot shows the own trials only (as `tune best` ranks them:
    history is no best), under the numbers `tune status` shows."""
    import optuna

    from tests.study.studies import SPACE
    from tuner.space.load import parse_spec
    from tuner.study import plots, records, warm_start
    from tuner.study.storage import open_storage, storage_url

    results = tmp_path / "results"
    make_study(results, "old")  # 3 COMPLETE (best 0.95) among 7
    text = SPACE.format(name="new", goal="maximize") + "warm_start: {from: old, top: 1}\n"
    spec = parse_spec(text, "new.yaml", check_objective=False)
    sources = warm_start.load_sources(spec, results)
    study = optuna.create_study(
        study_name="new", storage=open_storage(storage_url(results, "new")), direction="maximize"
    )
    records.describe(study, spec)
    warm_start.apply(study, spec, sources)
    for state, value in [("COMPLETE", 0.7), ("PRUNED", 0.5), ("COMPLETE", 0.8), ("FAIL", None)]:
        trial = study.ask(
            {
                "optimizer": optuna.distributions.CategoricalDistribution(["sgd", "adam"]),
                "learning_rate": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True),
            }
        )
        if value is not None:
            trial.report(value, step=1)
        kept = value if state == "COMPLETE" else None
        study.tell(trial, kept, state=optuna.trial.TrialState[state])
    numbers = [t.number for t in records.own_trials(study.get_trials())]
    assert numbers == [3, 4, 5, 6]  # after the 3 history trials

    drawn: dict[str, Any] = {}
    figure_of = plots._figure_of

    def keep(found: Any) -> Any:
        figure = figure_of(found)
        drawn.setdefault("history", figure)  # the first plot drawn
        return figure

    monkeypatch.setattr(plots, "_figure_of", keep)
    with caplog.at_level(logging.INFO, logger="tuner.study.plots"):
        written = plots.write_plots(study, tmp_path / "plots")

    assert "optimization_history skipped" not in caplog.text, caplog.text
    assert (tmp_path / "plots" / "optimization_history.png") in written
    assert (tmp_path / "plots" / "optimization_history.png").read_bytes()[:8] == PNG
    (ax,) = drawn["history"].axes
    points = [tuple(xy) for c in ax.collections for xy in c.get_offsets() if len(xy)]
    assert sorted(points) == [(3, 0.7), (5, 0.8)]  # the own complete trials, no history
    (best,) = [line for line in ax.get_lines() if line.get_label() == "Best Value"]
    line = zip(best.get_xdata(), best.get_ydata(), strict=True)
    shown = [(x, y) for x, y in line if np.isfinite(y)]
    assert shown == [(3, 0.7), (4, 0.7), (5, 0.8), (6, 0.8)]  # not the history's 0.95
