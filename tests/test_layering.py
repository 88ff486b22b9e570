"""The package's layering: everything outside `tuner.tabular` is free of TensorFlow, so
the sweep engine, the study's readers and the command line run where TensorFlow is not
installed or would cost seconds to import (`tune status`, `tune best` without
`--export`). Each check runs in a fresh interpreter: this session has TensorFlow loaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.study.studies import make_study

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "keras")


def _python(code: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.timeout(180)
def test_no_module_outside_the_tensorflow_package_imports_tensorflow() -> None:
    out = _python(
        f"""
import importlib, pkgutil, sys
import tuner
heavy = {HEAVY!r}
for info in pkgutil.walk_packages(tuner.__path__, "tuner."):
    if info.name == "tuner.tabular" or info.name.startswith("tuner.tabular."):
        continue
    importlib.import_module(info.name)
    loaded = [m for m in heavy if m in sys.modules]
    if loaded:
        print("LOADED", info.name, loaded)
        break
print("modules checked")
"""
    )
    assert "modules checked" in out and "LOADED" not in out, out


@pytest.mark.timeout(180)
def test_tune_status_and_best_do_not_import_tensorflow(tmp_path: Path) -> None:
    results = tmp_path / "results"
    make_study(results)
    out = _python(
        f"""
import sys
from tuner.cli.app import main
for args in (["status", "demo"], ["best", "demo"], ["ls"]):
    try:
        main([*args, "--results", {str(results)!r}])
    except SystemExit as exc:
        assert not exc.code, (args, exc.code)
print("HEAVY", [m for m in {HEAVY!r} if m in sys.modules])
"""
    )
    assert "HEAVY []" in out, out


def test_only_the_command_line_reaches_into_the_tensorflow_package() -> None:
    """The core asks the objective (tuner.trial's hooks) for everything about models and
    worker set-up; only `tune data`/`train`/`predict`, which are the tabular objective's
    own commands, import tuner.tabular."""
    import ast

    offenders = []
    for path in sorted((ROOT / "tuner").rglob("*.py")):
        part = path.relative_to(ROOT / "tuner").parts[0]
        if part in ("tabular", "cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("tuner.tabular")]
    assert not offenders, offenders
