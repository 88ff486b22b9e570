"""tuner.trial, the objective contract: what an objective declares, and the
`export_model` hook through which `tune best --export` gets a model it cannot copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tuner.errors import ConfigError
from tuner.trial import MODEL, load_objective, objective

MADE: list[tuple[Path, Path]] = []


def _make_model(trial_dir: Path, dest: Path) -> Path:
    MADE.append((trial_dir, dest))
    dest.mkdir(parents=True)
    (dest / "saved_model.pb").write_bytes(b"made by the objective")
    return dest


@objective(metrics=["score"], export_model=_make_model)
def with_hook(config: dict[str, Any], report: Any, trial_dir: Path) -> None:
    report(1, {"score": 1.0})


@objective(metrics=["score"])
def without_hook(config: dict[str, Any], report: Any, trial_dir: Path) -> None:
    report(1, {"score": 1.0})


def _study(ref: str) -> Any:
    import optuna

    study = optuna.create_study()
    study.set_user_attr("objective", ref)
    return study


def test_the_hook_is_declared_and_loaded() -> None:
    assert load_objective(f"{__name__}:with_hook").export_model is _make_model
    assert load_objective(f"{__name__}:without_hook").export_model is None


def test_best_copies_an_exported_model_and_asks_the_objective_otherwise(tmp_path: Path) -> None:
    from tuner.study.best import saved_model

    trial = tmp_path / "trials" / "0"
    (trial / MODEL).mkdir(parents=True)
    (trial / MODEL / "saved_model.pb").write_bytes(b"exported")
    out = saved_model(_study(f"{__name__}:with_hook"), trial, tmp_path / "a")
    assert (out / "saved_model.pb").read_bytes() == b"exported" and not MADE

    bare = tmp_path / "trials" / "1"
    bare.mkdir()
    out = saved_model(_study(f"{__name__}:with_hook"), bare, tmp_path / "b")
    assert (out / "saved_model.pb").read_bytes() == b"made by the objective"
    assert [(bare, tmp_path / "b")] == MADE


@pytest.mark.parametrize("ref", [f"{__name__}:without_hook", "nowhere.at_all:train"])
def test_no_model_and_no_hook_is_one_clear_error(tmp_path: Path, ref: str) -> None:
    from tuner.study.best import saved_model

    bare = tmp_path / "trial"
    bare.mkdir()
    with pytest.raises(ConfigError) as caught:
        saved_model(_study(ref), bare, tmp_path / "out")
    assert "exported no model" in caught.value.format()
    assert "has no export_model hook" in caught.value.format()


def test_every_error_says_its_exit_code() -> None:
    """The documented taxonomy (tuner/errors.py, the README): bad input 2; a failed
    trial, a failed service and a full disk 1; all one line."""
    from tuner import errors, trial

    assert errors.ConfigError("x").exit_code == errors.DataError("x").exit_code == 2
    assert isinstance(errors.ConfigError("x"), errors.UsageError)
    for cls in (errors.ServiceError, errors.StorageFull):
        assert cls("x").exit_code == 1 and not isinstance(cls("x"), errors.UsageError)
    failed = trial.TrialFailed("diverged", status="diverged")
    assert failed.exit_code == 1 and trial.TrialFailed is errors.TrialFailed
    assert errors.ConfigError("bad\nvalue", where="f.yaml:3", hint="h").format() == (
        "f.yaml:3: bad value (h)"
    )
