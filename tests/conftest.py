"""Shared fixtures: one cache of built-in data sets and one converted Adult per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built-in data sets materialize once per session, never in the user's home."""
    path = tmp_path_factory.mktemp("tuner-cache")
    os.environ["TUNER_CACHE_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "adult" / "adult.data").exists():
        pytest.skip(f"the shared data sets are not at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def adult(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tuner.tabular.data.convert import ConvertOptions, convert

    out = tmp_path_factory.mktemp("adult") / "ds"
    convert(
        shared_data / "adult" / "adult.data",
        out,
        ConvertOptions(validation=shared_data / "adult" / "adult.test", label="ltgt50k"),
    )
    return out


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run `tune ARGS...` in-process; returns (exit code, stdout, stderr).

    In-process sweeps write MLflow in the driver (`TUNER_MLFLOW_WRITER=inline`): the
    writer process a sweep starts by default imports MLflow afresh each time (~2.5 s a
    sweep, where this process has it imported already). The default is what the real
    `tune` subprocesses of tests/sweep/test_resume.py, test_journal_faults.py and the
    cluster tests run, and tests/tracking/test_writer.py tests it on its own."""
    from tuner.cli.app import main

    monkeypatch.setenv("TUNER_MLFLOW_WRITER", "inline")

    def run(*args: str | Path) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def no_heavy_imports(request: pytest.FixtureRequest):
    """The test imports none of its module's `HEAVY` modules (default: TensorFlow, Keras,
    Ray, MLflow) that were not loaded before it: the light paths stay light. A module
    opts in with `pytestmark = pytest.mark.usefixtures("no_heavy_imports")`."""
    import sys

    heavy = getattr(request.module, "HEAVY", ("tensorflow", "keras", "ray", "mlflow"))
    before = set(sys.modules)
    yield
    new = [m for m in heavy if m in sys.modules and m not in before]
    assert not new, f"imported {new}"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture(scope="session")
def a8a(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tuner.tabular.data.convert import ConvertOptions, convert

    out = tmp_path_factory.mktemp("a8a") / "ds"
    convert(
        shared_data / "a8a" / "a8a_train.libsvm",
        out,
        ConvertOptions(validation=shared_data / "a8a" / "a8a_test.libsvm"),
    )
    return out
