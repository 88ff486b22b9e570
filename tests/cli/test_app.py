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
start = time.process_time()  # CPU, not wall: a loaded machine must not fail it
from tuner.cli.app import main
codes = [main(a) for a in (["--help"], ["--version"], ["data", "convert", "--help"],
         ["data", "convert", "missing.csv", "--out", "o"], ["data", "inspect", "missing"],
         ["data", "convert", sys.argv[1], "--out", "o"])]
heavy = [m for m in ("tensorflow", "ray", "mlflow", "optuna", "keras") if m in sys.modules]
print(json.dumps({"codes": codes, "heavy": heavy, "seconds": time.process_time() - start}))
"""


def _children_cpu() -> float:
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def test_help_and_bad_input_are_fast_and_import_nothing_heavy(tmp_path):
    """Fast is measured as CPU seconds (the interpreter's start included), which a busy
    machine does not inflate as it does wall time; importing TensorFlow alone takes
    several."""
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,x\n1,2\n")
    start = _children_cpu()
    result = subprocess.run(
        [sys.executable, "-c", LAZY, str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    cpu = _children_cpu() - start
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["codes"] == [0, 0, 0, 2, 2, 2]
    assert report["heavy"] == []
    assert report["seconds"] < 1.0, report
    assert cpu < 3.0  # interpreter start included
    assert f"{bad}:3: expected 3 fields, found 2" in result.stderr
    assert "Traceback" not in result.stderr


def test_unexpected_failure_exits_1(cli, monkeypatch):
    import tuner.tabular.data.inspect

    def boom(*_a, **_k):
        raise RuntimeError("boom")

    monkeypatch.setattr(tuner.tabular.data.inspect, "inspect", boom)
    code, _, err = cli("data", "inspect", "anything")
    assert code == 1
    assert "RuntimeError: boom" in err and "bug in tuner" in err


def test_a_second_signal_a_library_wrapped_is_still_an_interruption(cli, monkeypatch):
    """A signal handler raises wherever the process is: matplotlib's C extension,
    interrupted while it initialises, raises ImportError from the driver's Interrupted
    (seen in CI: a second SIGTERM while the finished sweep wrote its plots)."""
    import signal

    import tuner.tabular.data.inspect
    from tuner.sweep.driver import Interrupted

    def wrapped(*_a, **_k):
        try:
            raise Interrupted(signal.SIGTERM)
        except Interrupted as exc:
            raise ImportError("initialization failed") from exc

    monkeypatch.setattr(tuner.tabular.data.inspect, "inspect", wrapped)
    code, _, err = cli("data", "inspect", "anything")
    assert (code, err) == (143, "tune: error: interrupted\n")


# ---------------------------------------------------------------- bad input: one line, exit 2

CHEAP_SPACE = """\
name: cheap
objective: tests.sweep.cheap:train
metric: {name: score, goal: maximize}
budget: {trials: 1, max_epochs: 1}
params:
  x: {float: [0.1, 0.9]}
"""
TRIAL = "dataset: builtin:breast_cancer\nmodel: dnn\nwidth: 8\ndepth: 1\n"


def one_line(code: int, out: str, err: str, *fragments: str) -> str:
    assert (code, out) == (2, ""), (code, out, err)
    assert err.startswith("tune: error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.fixture
def read_only_dir(tmp_path: Path):
    """A read-only tmpfs: as root, chmod does not stop writes, a read-only mount does."""
    folder = tmp_path / "ro"
    folder.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {result.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_train_config_with_a_key_twice_names_both_lines(cli, tmp_path):
    config = tmp_path / "trial.yaml"
    config.write_text(TRIAL + "width: 16\n")
    one_line(
        *cli("train", config, "--out", tmp_path / "o"),
        f"{config}:5: key 'width' is written twice, on lines 3 and 5",
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", ".nan", "1e999"])
def test_set_refuses_non_finite_numbers(cli, tmp_path, value):
    config = tmp_path / "trial.yaml"
    config.write_text(TRIAL)
    one_line(
        *cli("train", config, "--set", f"learning_rate={value}", "--out", tmp_path / "o"),
        "--set learning_rate: key 'learning_rate':",
        "is not a finite number",
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (TRIAL.replace("dnn", "d\xe9nn").encode("latin-1"), "byte 0xe9 on line 2 (byte offset 39)"),
        (TRIAL.encode("utf-16-le"), "UTF-16 text without a byte-order mark"),
        (bytes(range(256)), "not UTF-8 text: binary data"),
    ],
    ids=["latin-1", "utf-16", "binary"],
)
def test_a_trial_config_that_is_not_utf8_is_one_line(cli, tmp_path, raw, fragment):
    config = tmp_path / "trial.yaml"
    config.write_bytes(raw)
    one_line(*cli("train", config, "--out", tmp_path / "o"), str(config), fragment)


def test_bad_bytes_are_one_line_in_a_real_process(tmp_path):
    """As a user sees it: `tune run` on a binary file and `tune train` on Latin-1 text."""
    space, config = tmp_path / "space.yaml", tmp_path / "trial.yaml"
    space.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    config.write_bytes("dataset: donn\xe9es\n".encode("latin-1"))
    for args in (["run", str(space)], ["train", str(config)]):
        result = subprocess.run(
            [sys.executable, "-m", "tuner", *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "not UTF-8 text" in result.stderr
        assert "Traceback" not in result.stderr


def test_run_results_that_is_a_file_or_read_only_is_one_line(cli, tmp_path, read_only_dir):
    space = tmp_path / "space.yaml"
    space.write_text(CHEAP_SPACE)
    afile = tmp_path / "afile"
    afile.write_text("")
    one_line(*cli("run", space, "--results", afile), f"--results {afile}: not a folder")
    one_line(
        *cli("run", space, "--results", read_only_dir / "results"),
        f"--results {read_only_dir / 'results'}: cannot write there: Read-only file system",
    )
    uri = f"sqlite:///{read_only_dir}/db/mlflow.db"
    one_line(
        *cli("run", space, "--results", tmp_path / "res", "--tracking-uri", uri),
        f"--tracking-uri {uri}: its folder {read_only_dir / 'db'}: cannot write there",
    )
    assert not (tmp_path / "res").exists()  # nothing created before the check failed


def test_ui_on_a_missing_results_folder_fails_at_once(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    start = time.process_time()
    one_line(*cli("ui", "--results", tmp_path / "nope", "--port", "0"), "nope: no such folder")
    monkeypatch.chdir(tmp_path)
    one_line(*cli("ui", "--port", "0"), "no results folder", "run a sweep first")
    assert time.process_time() - start < 5  # CPU: load-proof
    assert not (tmp_path / "nope").exists() and not (tmp_path / "results").exists()
