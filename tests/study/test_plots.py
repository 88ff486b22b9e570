"""tuner.study.plots: Optuna's plots as PNG files, skipped (and said so) where a plot
cannot be drawn."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

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
