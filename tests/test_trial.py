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
    from tuner.study.best import trial_model

    trial = tmp_path / "trials" / "0"
    (trial / MODEL).mkdir(parents=True)
    (trial / MODEL / "saved_model.pb").write_bytes(b"exported")
    out = trial_model(_study(f"{__name__}:with_hook"), trial, tmp_path / "a")
    assert (out / "saved_model.pb").read_bytes() == b"exported" and not MADE

    bare = tmp_path / "trials" / "1"
    bare.mkdir()
    out = trial_model(_study(f"{__name__}:with_hook"), bare, tmp_path / "b")
    assert (out / "saved_model.pb").read_bytes() == b"made by the objective"
    assert [(bare, tmp_path / "b")] == MADE


@pytest.mark.parametrize("ref", [f"{__name__}:without_hook", "nowhere.at_all:train"])
def test_no_model_and_no_hook_is_one_clear_error(tmp_path: Path, ref: str) -> None:
    from tuner.study.best import trial_model

    bare = tmp_path / "trial"
    bare.mkdir()
    with pytest.raises(ConfigError) as caught:
        trial_model(_study(ref), bare, tmp_path / "out")
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


def test_setup_process_runs_once_per_objective_in_a_worker() -> None:
    from tuner.sweep import trial_runner
    from tuner.trial import Objective

    calls: list[dict[str, float]] = []
    hooked = Objective("t:hooked", with_hook, lambda c: frozenset(), setup_process=calls.append)
    trial_runner._set_up.discard("t:hooked")
    for _ in range(3):  # a reused Ray worker runs several trials
        trial_runner.set_up_process(hooked, {"cpu": 2, "gpu": 0.25})
    assert calls == [{"cpu": 2.0, "gpu": 0.25}]
    trial_runner.set_up_process(load_objective(f"{__name__}:without_hook"), {})  # no hook


@pytest.mark.parametrize(("gpu", "capped"), [(0, False), (0.5, True), (1, False), (2, False)])
def test_the_tabular_objective_caps_only_a_fraction_of_a_gpu(
    monkeypatch: pytest.MonkeyPatch, gpu: float, capped: bool
) -> None:
    """A whole GPU (or several: Ray gives them to the trial alone) needs no cap; a
    fraction > 1 would have been refused by memory_limit_mb."""
    from tuner.tabular import gpu as tabular_gpu

    seen: list[float] = []
    monkeypatch.setattr(tabular_gpu, "configure_memory_limit", seen.append)
    load_objective("tabular").setup_process({"cpu": 1, "gpu": gpu})  # type: ignore[misc]
    assert seen == ([gpu] if capped else [])
