"""Accuracy targets of the shipped configs (configs/*.yaml), on the validation split and
the final epoch's value (not the best epoch's), within 10 epochs on 2 CPUs.

Adult and a8a come from ../shared/data (the tests skip without it); the configs name
`data/adult` and `data/a8a`, so the tests point them at the session's converted copies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def _train(name: str, out: Path, dataset: Path | None = None) -> dict[str, Any]:
    """Train configs/NAME.yaml (no export: only the metrics matter here) → final epoch."""
    from tuner.tabular.model.run import load_config
    from tuner.tabular.model.train import run_trial

    overrides = [f"dataset={dataset}"] if dataset is not None else []
    config = load_config(CONFIGS / f"{name}.yaml", overrides=overrides)
    assert config["epochs"] <= 10
    payload = run_trial(config, lambda epoch, metrics: None, out / name, export=False)
    assert payload["status"] == "complete"
    assert payload["final"]["epoch"] == config["epochs"]
    return payload["final"]


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_adult_wide_deep(adult, tmp_path):
    final = _train("adult_wide_deep", tmp_path, adult)
    acc, auc = final["val_accuracy"], final["val_auc"]
    assert acc >= 0.850, f"val_accuracy {acc:.4f} < 0.850"
    assert auc >= 0.90, f"val_auc {auc:.4f} < 0.90"


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_adult_dnn(adult, tmp_path):
    acc = _train("adult_dnn", tmp_path, adult)["val_accuracy"]
    assert acc >= 0.845, f"val_accuracy {acc:.4f} < 0.845"


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a8a_linear(a8a, tmp_path):
    acc = _train("a8a_linear", tmp_path, a8a)["val_accuracy"]
    assert acc >= 0.84, f"val_accuracy {acc:.4f} < 0.84"


@pytest.mark.slow
@pytest.mark.timeout(45)
def test_breast_cancer_dnn(tmp_path):
    acc = _train("breast_cancer_dnn", tmp_path)["val_accuracy"]
    assert acc >= 0.95, f"val_accuracy {acc:.4f} < 0.95"


@pytest.mark.slow
@pytest.mark.timeout(75)
def test_census_wide_deep_beats_dnn(tmp_path):
    from tuner.tabular.model.run import load_config

    wide_deep, dnn = (load_config(CONFIGS / f"census_{m}.yaml") for m in ("wide_deep", "dnn"))
    for key in ("dataset", "epochs", "seed", "batch_size"):
        assert wide_deep[key] == dnn[key], key
    auc_wide_deep = _train("census_wide_deep", tmp_path)["val_auc"]
    auc_dnn = _train("census_dnn", tmp_path)["val_auc"]
    assert auc_wide_deep > auc_dnn, (
        f"wide_deep val_auc {auc_wide_deep:.4f} <= dnn val_auc {auc_dnn:.4f}"
    )
