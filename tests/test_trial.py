"""tuner.trial, the objective contract: what an objective declares, and the
`export_model` hook through which `tune best --export` gets a model it cannot copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tuner.errors import ConfigError
from tuner.objective_loader import load_objective
from tuner.trial import MODEL, objective

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


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        (f"{__name__}:without_hook", "saves nothing to trial_dir/model and has no export_model"),
        ("nowhere.at_all:train", "cannot be asked for one: objective 'nowhere.at_all:train'"),
    ],
)
def test_no_model_and_no_hook_is_one_clear_error(tmp_path: Path, ref: str, why: str) -> None:
    from tuner.study.best import trial_model

    bare = tmp_path / "trial"
    bare.mkdir()
    with pytest.raises(ConfigError) as caught:
        trial_model(_study(ref), bare, tmp_path / "out")
    assert "exported no model" in caught.value.format()
    assert why in caught.value.format()


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


# ------------------------------------------------- the resume contract: current_trial


def test_current_trial_is_the_running_trial_and_none_outside_one(tmp_path: Path) -> None:
    import threading

    from tuner.trial import TrialContext, current_trial, trial_scope

    assert current_trial() is None
    context = TrialContext(3, tmp_path, resume_epoch=2)
    seen: list[Any] = []
    with trial_scope(context) as inside:
        assert inside is context and current_trial() is context
        assert context.checkpoint_dir == tmp_path / "checkpoints" and context.resumed
        thread = threading.Thread(target=lambda: seen.append(current_trial()))
        thread.start()
        thread.join()
    assert seen == [context]  # a thread the objective starts sees it (one trial here)
    assert current_trial() is None
    assert not TrialContext(0, tmp_path).resumed  # a new trial: resume_epoch 0


def test_two_trials_in_one_process_each_see_their_own(tmp_path: Path) -> None:
    import threading

    from tuner.trial import TrialContext, current_trial, trial_scope

    both, seen = threading.Barrier(2), {}

    def run(number: int) -> None:
        with trial_scope(TrialContext(number, tmp_path / str(number))):
            both.wait(timeout=10)  # both scopes open at once
            seen[number] = current_trial()
            both.wait(timeout=10)

    threads = [threading.Thread(target=run, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {n: c.number for n, c in seen.items()} == {0: 0, 1: 1}
    assert current_trial() is None


# ------------------------------------------- the space file's folder on the import path

OBJECTIVE_MODULE = """
from tuner.trial import objective

def _export(trial_dir, dest):
    dest.mkdir(parents=True)
    (dest / "saved_model.pb").write_text("made from " + trial_dir.name)
    return dest

@objective(metrics=["score"], export_model=_export)
def train(config, report, trial_dir):
    report(1, {"score": 1.0})
"""


@pytest.fixture
def beside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A space file and its objective's module in a folder that is not on the import path
    (a module name of its own: each test imports it afresh); the cwd elsewhere."""
    import sys
    import uuid

    monkeypatch.setattr(sys, "path", list(sys.path))  # what load_objective appends, undone
    name = f"objective_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / f"{name}.py").write_text(OBJECTIVE_MODULE)
    (folder / "space.yaml").write_text(
        f"name: mine\nobjective: {name}:train\nmetric: {{name: score, goal: maximize}}\n"
        "budget: {trials: 2, max_epochs: 1}\nparams:\n  x: {float: [0.0, 1.0]}\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return folder, name


def test_an_objective_beside_its_space_file_needs_no_pythonpath(beside: tuple[Path, str]) -> None:
    import sys

    from tuner.space.load import load_spec

    folder, name = beside
    with pytest.raises(ConfigError, match=f"cannot import {name}") as caught:
        load_objective(f"{name}:train")  # (no folder: Python's own path only)
    assert caught.value.hint == "put the module beside the space file, or its folder on PYTHONPATH"
    spec = load_spec(folder / "space.yaml")  # the driver's check of the objective
    assert spec.folder == folder and str(folder) == sys.path[-1]  # appended: hides nothing


def test_status_best_and_resume_find_it_from_the_study(beside: tuple[Path, str]) -> None:
    """The verbs that read a sweep back load its objective from the space file's folder
    the study keeps (an absolute path: any cwd)."""
    import optuna

    from tuner.study import records
    from tuner.study.best import trial_model

    folder, name = beside
    study = optuna.create_study()
    study.set_user_attr(records.OBJECTIVE, f"{name}:train")
    study.set_user_attr(records.SPACE, (folder / "space.yaml").read_text())
    study.set_user_attr(records.SPACE_PATH, str(folder / "space.yaml"))
    record = records.SweepRecord.of(study)
    assert record.folder == folder
    spec = record.spec(check_objective=True)  # what `tune resume` checks before running
    assert spec is not None and spec.objective == f"{name}:train"
    (bare := folder / "trials" / "7").mkdir(parents=True)
    out = trial_model(study, bare, folder / "out")  # `tune best --export`: the hook
    assert (out / "saved_model.pb").read_text() == "made from 7"


def test_a_missing_import_of_the_module_itself_is_not_blamed_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "needs_more_xyz.py").write_text("import not_installed_xyz\n")
    with pytest.raises(ConfigError) as caught:
        load_objective("needs_more_xyz:train", folder=tmp_path)
    assert "No module named 'not_installed_xyz'" in caught.value.message
    assert caught.value.hint is None  # the module was found: its dependency is missing


def test_a_space_file_written_down_relative_is_kept_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optuna

    from tuner.space.load import parse_spec
    from tuner.study import records

    monkeypatch.chdir(tmp_path)
    text = (
        "name: rel\nobjective: tabular\nmetric: {name: val_auc, goal: maximize}\n"
        "budget: {trials: 1, max_epochs: 1}\nparams:\n  x: {float: [0.0, 1.0]}\n"
    )
    study = optuna.create_study()
    records.describe(study, parse_spec(text, "space.yaml", check_objective=False))
    assert study.user_attrs[records.SPACE_PATH] == str(tmp_path / "space.yaml")


# --------------------------------------- the GPU share of an objective without a hook


def test_an_objective_without_a_hook_is_kept_to_its_gpu_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tuner import gpu
    from tuner.sweep import trial_runner

    seen: list[dict[str, float]] = []
    monkeypatch.setattr(gpu, "keep_to_share", seen.append)
    trial_runner._set_up.discard(f"{__name__}:without_hook")
    for _ in range(2):
        trial_runner.set_up_process(load_objective(f"{__name__}:without_hook"), {"gpu": 0.25})
    assert seen == [{"cpu": 1.0, "gpu": 0.25}]  # once per worker process
