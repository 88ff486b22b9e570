"""The `tune` command itself: help, version, exit codes, lazy imports, and which `tune` runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tuner import __version__

VERBS = [[], ["data"], ["data", "convert"], ["data", "inspect"], ["train"], ["predict"]]


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: " ".join(v) or "tune")
def test_every_verb_has_help(cli, verb):
    code, out, _ = cli(*verb, "--help")
    assert code == 0
    assert out.startswith(f"Usage: tune {' '.join(verb)}".rstrip())


def test_version(cli):
    code, out, _ = cli("--version")
    assert (code, out.strip()) == (0, f"tuner {__version__}")


def test_unknown_option_is_one_line_exit_2(cli):
    code, out, err = cli("data", "convert", "x.csv", "--out", "y", "--bogus")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "No such option '--bogus'" in err
    assert "tune data convert --help" in err


def test_tune_on_path_is_ours(monkeypatch):
    """Ray installs a `tune` script into the same bin folder; after `pip install -e .` ours
    must be the one found there. The environment's bin folder goes first on PATH, as an
    activated environment has it, so running `.venv/bin/pytest` directly tests the same."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    exe = shutil.which("tune")
    assert exe, "no `tune` on PATH"
    result = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"tuner {__version__}", f"{exe} is not tuner's tune"


def test_python_dash_m_tuner():
    result = subprocess.run(
        [sys.executable, "-m", "tuner", "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == f"tuner {__version__}"


LAZY = r"""
import json, sys, time
start = time.perf_counter()
from tuner.cli import main
codes = [main(a) for a in (["--help"], ["--version"], ["data", "convert", "--help"],
         ["data", "convert", "missing.csv", "--out", "o"], ["data", "inspect", "missing"],
         ["data", "convert", sys.argv[1], "--out", "o"])]
heavy = [m for m in ("tensorflow", "ray", "mlflow", "optuna", "keras") if m in sys.modules]
print(json.dumps({"codes": codes, "heavy": heavy, "seconds": time.perf_counter() - start}))
"""


def test_help_and_bad_input_are_fast_and_import_nothing_heavy(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,x\n1,2\n")
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", LAZY, str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    wall = time.perf_counter() - start
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["codes"] == [0, 0, 0, 2, 2, 2]
    assert report["heavy"] == []
    assert report["seconds"] < 1.0, report
    assert wall < 3.0  # interpreter start included
    assert f"{bad}:3: expected 3 fields, found 2" in result.stderr
    assert "Traceback" not in result.stderr


def test_unexpected_failure_exits_1(cli, monkeypatch):
    import tuner.data.inspect

    def boom(*_a, **_k):
        raise RuntimeError("boom")

    monkeypatch.setattr(tuner.data.inspect, "inspect", boom)
    code, _, err = cli("data", "inspect", "anything")
    assert code == 1
    assert "RuntimeError: boom" in err and "bug in tuner" in err
