"""tuner.compat: each stand-in for a private part of Ray, Optuna, MLflow or Keras,
exercised against the installed versions. A failure names the seam and the version that
broke it — the one place to look after an upgrade — instead of a sweep failing later.
And nothing outside tuner/compat reaches into those libraries' private parts."""

from __future__ import annotations

import ast
import contextlib
import importlib.metadata
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBRARIES = ("ray", "optuna", "mlflow", "keras", "tensorflow")


@contextlib.contextmanager
def seam(name: str, library: str) -> Iterator[None]:
    """Fail naming the seam (`tuner.compat.<library>.<name>`) and the installed version."""
    try:
        yield
    except Exception as exc:
        version = importlib.metadata.version(library)
        pytest.fail(
            f"tuner.compat.{library}.{name} no longer matches the installed {library} "
            f"{version}: {type(exc).__name__}: {exc} — see its docstring for the public "
            "API it stands in for",
            pytrace=False,
        )


# ----------------------------------------------------------------------------- Optuna


def test_optuna_trial_storage_and_study_ids(tmp_path: Path) -> None:
    import optuna

    from tuner.compat import optuna as seams

    study = optuna.create_study()
    study.ask()
    frozen = study.get_trials()[0]
    with seam("trial_id", "optuna"):
        live = optuna.trial.Trial(study, seams.trial_id(frozen))
        live.set_user_attr("k", 1)
        assert study.get_trials()[0].user_attrs == {"k": 1}
    with seam("storage_of", "optuna"):
        again = optuna.load_study(study_name=study.study_name, storage=seams.storage_of(study))
        assert len(again.trials) == 1
    with seam("study_id", "optuna"):
        assert seams.study_id(study) == seams.storage_of(study).get_study_id_from_name(
            study.study_name
        )


def test_optuna_journal_seams(tmp_path: Path) -> None:
    import optuna
    from optuna.storages.journal import (
        JournalFileBackend,
        JournalFileSymlinkLock,
        JournalStorage,
    )
    from optuna.storages.journal._storage import JournalOperation

    from tuner.compat import optuna as seams

    path = str(tmp_path / "study.log")
    lock = JournalFileSymlinkLock(path)
    storage = JournalStorage(JournalFileBackend(path, lock_obj=lock))
    study = optuna.create_study(study_name="s", storage=storage)
    study.set_user_attr("tuner", "yes")
    with seam("BaseJournalFileLock", "optuna"):
        assert isinstance(lock, seams.BaseJournalFileLock)
        assert {"acquire", "release"} <= set(vars(seams.BaseJournalFileLock))
    with seam("journal_writer_lock", "optuna"):
        assert seams.journal_writer_lock(storage) is lock
        assert seams.journal_writer_lock(optuna.storages.InMemoryStorage()) is None
    with seam("LOCK_FILE_SUFFIX", "optuna"):
        assert lock.acquire()
        try:
            assert Path(f"{path}{seams.LOCK_FILE_SUFFIX}").is_symlink()
        finally:
            lock.release()
    lines = Path(path).read_bytes().splitlines()
    with seam("JOURNAL_RECORD_START", "optuna"):
        assert lines and all(line.startswith(seams.JOURNAL_RECORD_START) for line in lines)
    with seam("SET_STUDY_USER_ATTR_MARK", "optuna"):
        assert JournalOperation.SET_STUDY_USER_ATTR == seams.SET_STUDY_USER_ATTR
        assert any(seams.SET_STUDY_USER_ATTR_MARK in line for line in lines)


def test_optuna_sampler_and_distribution_seams() -> None:
    import optuna

    from tuner.compat import optuna as seams

    with seam("LazyRandomState", "optuna"):
        sampler = optuna.samplers.RandomSampler(seed=1)
        states = [v for v in vars(sampler).values() if isinstance(v, seams.LazyRandomState)]
        assert len(states) == 1
        states[0].rng.seed(5)
        first = states[0].rng.random_sample()
        states[0].rng.seed(5)
        assert states[0].rng.random_sample() == first
    with seam("contains", "optuna"):
        stepped = optuna.distributions.FloatDistribution(0.0, 1.0, step=0.5)
        assert seams.contains(stepped, 0.5) and not seams.contains(stepped, 0.3)


def test_optuna_filtered_view_filters_every_trial_list() -> None:
    import optuna

    from tuner.compat import optuna as seams

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4)

    def odd(trials: list[Any], every_state: bool) -> list[Any]:
        return [t for t in trials if t.number % 2]

    with seam("filtered_view", "optuna"):
        view = seams.filtered_view(study, odd)
        assert [t.number for t in view.get_trials(deepcopy=False)] == [1, 3]
        assert [t.number for t in view.trials] == [1, 3]
        assert [t.number for t in view._get_trials(deepcopy=False, use_cache=True)] == [1, 3]
        assert len(study.trials) == 4 and isinstance(view, optuna.Study)


# ----------------------------------------------------------------------------- Ray


def test_ray_seams() -> None:
    import ray

    from tuner.compat import ray as seams

    with seam("result_keys", "ray"):
        keys = seams.result_keys()
        expected = {"training_iteration", "time_total_s", "timestamp", "done", "trial_id"}
        assert expected | {"config", "pid", "time_this_iter_s"} <= keys
    with seam("temp_dir_option", "ray"):
        (name,) = seams.temp_dir_option("/tmp/x")
        assert f'"{name}"' in inspect.getsource(ray.init)  # (read from its **kwargs)
    with seam("mask_entrypoint", "ray"):
        from ray._private import utils

        original = utils.get_entrypoint_name
        try:  # (a sweep earlier in this process may have masked it already)
            utils.get_entrypoint_name = lambda: "python train.py"
            seams.mask_entrypoint(lambda text: "masked " + text)
            assert utils.get_entrypoint_name() == "masked python train.py"
        finally:
            utils.get_entrypoint_name = original
    with seam("bounded_node_wait", "ray"):
        from ray._private import services

        find = services.get_node_to_connect_for_driver
        assert "timeout_seconds" in inspect.signature(find).parameters
        with seams.bounded_node_wait(ray, 3.0):
            assert services.get_node_to_connect_for_driver is not find
        assert services.get_node_to_connect_for_driver is find


# ----------------------------------------------------------------------------- MLflow


def test_mlflow_seams(tmp_path: Path) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    from tuner.compat import mlflow as seams

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    before = mlflow.get_tracking_uri()
    with seam("use_tracking_uri", "mlflow"):
        from mlflow.tracking._tracking_service.utils import _use_tracking_uri  # noqa: F401

        with seams.use_tracking_uri(uri):
            assert mlflow.get_tracking_uri() == uri
        assert mlflow.get_tracking_uri() == before
    with seam("store_engine", "mlflow"):
        engine = seams.store_engine(MlflowClient(uri))
        assert engine.dialect.name == "sqlite"
    with seam("forget_artifact_repositories", "mlflow"):
        from mlflow.tracking._tracking_service import utils

        assert hasattr(utils._artifact_repos_cache, "clear")
        seams.forget_artifact_repositories()


# ----------------------------------------------------------------------------- Keras


@pytest.mark.slow
def test_keras_seams() -> None:
    import keras

    from tuner.compat import keras as seams

    with seam("seed_generators", "keras"):
        generators = seams.seed_generators(keras.layers.Dropout(0.5))
        assert len(generators) == 1 and hasattr(generators[0], "state")
        assert seams.seed_generators(keras.layers.Dense(1)) == []
    with seam("without_default_signature", "keras"):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        cls = type(model)
        seams.without_default_signature(model)
        assert isinstance(model, cls) and model._default_save_signature is None
        from keras.src.backend.tensorflow import layer
        from tensorflow.python.saved_model import signature_serialization

        for reader in (layer, signature_serialization):  # Keras defines it, TF reads it
            source = inspect.getsource(reader)
            assert seams.DEFAULT_SAVE_SIGNATURE in source


# ----------------------------------------------------------------------------- the grep


def _defined_in_tuner() -> set[str]:
    """Every private name tuner defines itself (functions, classes, assignments,
    attributes it sets): those are tuner's own, not a library's."""
    names: set[str] = set()
    for path in (ROOT / "tuner").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return names


STDLIB_PRIVATE = {"_exit"}  # os._exit: the standard library's, documented
# Private names of those libraries tuner once used or defines a name alike of itself (a
# `_lock` of its own): flagged wherever they name the library's (an attribute of
# something other than self, a string, an override), not only when tuner lacks the name.
KNOWN = {
    "_storage",
    "_backend",
    "_lock",
    "_trial_id",
    "_study_id",
    "_get_trials",
    "_contains",
    "_private",
    "_temp_dir",
    "_tracking_client",
    "_use_tracking_uri",
    "_artifact_repos_cache",
    "_seed_generators",
    "_default_save_signature",
}


def test_no_private_part_of_ray_optuna_mlflow_or_keras_is_used_outside_the_seam() -> None:
    """Outside tuner/compat: no import from a private module or of a private name of
    those libraries, no `x._name` or getattr(x, "_name") that tuner does not define
    itself, and no bytes of Optuna's journal format."""
    own = _defined_in_tuner()
    offenders = []
    for path in sorted((ROOT / "tuner").rglob("*.py")):
        if "compat" in path.relative_to(ROOT / "tuner").parts:
            continue
        where = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text())):
            line = getattr(node, "lineno", 0)
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                parts = node.module.split(".")
                names = [a.name for a in node.names]
                if parts[0] in LIBRARIES and (
                    any(p.startswith("_") for p in parts) or any(n.startswith("_") for n in names)
                ):
                    offenders.append(f"{where}:{line}: from {node.module} import {names}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] in LIBRARIES and any(p.startswith("_") for p in parts):
                        offenders.append(f"{where}:{line}: import {alias.name}")
            elif isinstance(node, ast.Attribute):
                name = node.attr
                private = name.startswith("_") and not name.startswith("__")
                mine = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
                known = name in KNOWN and not mine
                if known or (private and name not in own and name not in STDLIB_PRIVATE):
                    offenders.append(f"{where}:{line}: {ast.unparse(node)}")
            elif isinstance(node, ast.Call) and ast.unparse(node.func) in (
                "getattr",
                "hasattr",
                "setattr",
            ):
                if len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                    name = str(node.args[1].value)
                    if name.startswith("_") and not name.startswith("__") and name not in own:
                        offenders.append(f"{where}:{line}: {ast.unparse(node)}")
            elif isinstance(node, ast.FunctionDef) and node.name in KNOWN:
                offenders.append(f"{where}:{line}: overrides {node.name}")
            elif isinstance(node, ast.Constant) and node.value in KNOWN:
                offenders.append(f"{where}:{line}: {node.value!r}")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
                text = (
                    node.value
                    if isinstance(node.value, str)
                    else node.value.decode(errors="replace")
                )
                if '"op_code"' in text:
                    offenders.append(f"{where}:{line}: Optuna's journal bytes {node.value!r}")
    assert not offenders, (
        "private parts of Ray/Optuna/MLflow/Keras used outside tuner/compat (give each a "
        "function there, naming the public API it stands in for):\n" + "\n".join(offenders)
    )
