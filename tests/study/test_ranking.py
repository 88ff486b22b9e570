"""tuner.study.ranking: which trial is best, in the metric's direction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.study.studies import TRIALS, make_study


def test_best_trial(study: Any, tmp_path: Path) -> None:
    from tuner.study.ranking import best_trial

    best = best_trial(study)
    assert best is not None and best.number == 1 and best.value == pytest.approx(0.95)
    pruned_only = make_study(tmp_path / "other", "p", [TRIALS[2], TRIALS[3]])
    assert best_trial(pruned_only) is None


def test_top_trials_in_either_direction_lowest_number_on_a_tie(tmp_path: Path) -> None:
    from tuner.space.model import Metric
    from tuner.study.ranking import top_trials

    same = {"optimizer": "adam", "learning_rate": 0.01}
    values = [0.9, 0.7, 0.9, 0.8]
    trials = [(same, "COMPLETE", [v], None) for v in values]
    up = make_study(tmp_path / "up", "up", trials)
    assert [t.number for t in top_trials(up, 3)] == [0, 2, 3]
    down = make_study(tmp_path / "down", "down", trials, goal="minimize")
    assert [t.number for t in top_trials(down, 2)] == [1, 3]
    # a caller holding the record's metric passes it (one read of the study's attributes)
    assert [t.number for t in top_trials(down, 2, Metric("val_auc", "minimize"))] == [1, 3]
    assert top_trials(up, 0) == []
