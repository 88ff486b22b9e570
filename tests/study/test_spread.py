"""What mattered: the spread of the complete trials' values and the params' importance,
read from a study as the driver leaves it (tests/study/studies.py), and the closing
lines `tune run` prints from them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.study.studies import TRIALS, make_study
from tuner.cli.render import render_mattered
from tuner.study.spread import Spread, importances, spread


def test_the_spread_is_over_the_complete_trials_only(study: Any) -> None:
    # COMPLETE (score: last) 0.88, 0.95, 0.91; the pruned, failed and running ones don't count
    assert spread(study) == Spread(best=0.95, median=0.91, worst=0.88, complete=3)


def test_minimizing_puts_the_lowest_value_first(tmp_path: Path) -> None:
    minimized = make_study(tmp_path / "results", goal="minimize")
    assert spread(minimized) == Spread(best=0.88, median=0.91, worst=0.95, complete=3)


def test_one_complete_trial_has_no_spread(tmp_path: Path) -> None:
    one = make_study(tmp_path / "results", trials=[t for t in TRIALS if t[1] != "COMPLETE"][:2])
    assert spread(one) is None
    assert importances(one) == {}


def test_importances_share_the_variation_largest_first(study: Any) -> None:
    found = importances(study)
    assert set(found) <= {"optimizer", "learning_rate", "momentum"} and found
    assert sum(found.values()) == pytest.approx(1.0)
    assert list(found.values()) == sorted(found.values(), reverse=True)


def test_the_closing_lines_say_what_mattered() -> None:
    lines = render_mattered(
        "val_auc",
        {"optimizer": "adam", "learning_rate": 0.0091777},
        Spread(best=0.8297, median=0.7426, worst=0.5628, complete=13),
        {"learning_rate": 0.54, "depth": 0.31, "optimizer": 0.15},
    )
    assert lines == [
        "  params: optimizer=adam learning_rate=0.009178",
        "spread of the 13 complete trials: val_auc best 0.8297, median 0.7426, worst 0.5628",
        "what mattered (param importance for val_auc): learning_rate 54%, depth 31%, optimizer 15%",
    ]
    assert render_mattered("val_auc", {}, None, {}) == []
