"""A program objective in a space file: what is checked before anything runs, each a
one-line error (exit 2) naming the file's line — the program not found or not
executable, a script missing, a {placeholder} naming nothing, a pattern naming no
metric, metrics the space file needs but the program does not declare."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tuner.errors import ConfigError
from tuner.program.spec import ProgramSpec

SPACE = """\
name: prog
objective:
  command: {command}
  metrics: [score{more}]{extra}
metric: {{name: {metric}, goal: maximize}}
budget: {{trials: 2, max_epochs: 3}}
params:
  lr: {{float: [0.01, 0.5]}}
"""


def space(tmp_path: Path, command: str, *, metric: str = "score", extra: str = "", more: str = ""):
    (tmp_path / "train.sh").write_text("#!/bin/sh\necho epoch=1 score=1\n")
    (tmp_path / "train.sh").chmod(0o755)
    (tmp_path / "train.py").write_text("print('epoch=1 score=1')\n")
    path = tmp_path / "space.yaml"
    path.write_text(SPACE.format(command=command, metric=metric, extra=extra, more=more))
    return path


def load(path: Path):
    from tuner.space.load import load_spec

    return load_spec(path)


def test_a_program_objective_loads_with_its_folder_and_metrics(tmp_path: Path) -> None:
    spec = load(space(tmp_path, "python train.py --out {trial_dir}"))
    program = ProgramSpec.from_ref(spec.objective)
    assert program.cwd == str(tmp_path) and program.metrics == ("score",)
    assert program.command == "python train.py --out {trial_dir}"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("no-such-program --x", "program 'no-such-program' not found on PATH"),
        ("./missing.sh", "program './missing.sh' not found in"),
        ("python missing.py", "no file 'missing.py' in"),
        ("./train.py", "'./train.py' is not executable"),
        ("./train.sh --lr {learning_rate}", "{learning_rate} is neither a param nor one of"),
        ("./train.sh {0}", "{0} is not a placeholder"),
        ("./train.sh 'unclosed", "No closing quotation"),
    ],
)
def test_what_is_wrong_with_the_command_is_one_line_at_its_line(
    tmp_path: Path, command: str, message: str
) -> None:
    path = space(tmp_path, command)
    with pytest.raises(ConfigError) as error:
        load(path)
    text = error.value.format()
    assert message in text, text
    assert f"{path}:3" in text, text
    assert "\n" not in text


def test_a_placeholder_near_a_param_name_is_suggested(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"did you mean \{lr\}"):
        load(space(tmp_path, "./train.sh --lr {lrr}"))


def test_a_metric_the_program_does_not_declare_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="metric 'auc' is never reported by objective 'program: "):
        load(space(tmp_path, "./train.sh", metric="auc"))


def test_a_pattern_must_compile_and_name_a_metric(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"objective\.pattern: missing"):
        load(space(tmp_path, "./train.sh", extra="\n  pattern: '(?P<score>'"))
    with pytest.raises(ConfigError, match=r"objective\.pattern names no metric"):
        load(space(tmp_path, "./train.sh", extra="\n  pattern: 'auc=(?P<auc>\\S+)'"))


def test_unknown_keys_and_flags_are_schema_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="flags"):
        load(space(tmp_path, "./train.sh", extra="\n  flags: some"))
    with pytest.raises(ConfigError, match=r"commandd|additional"):
        load(space(tmp_path, "./train.sh", extra="\n  commandd: x"))


def test_a_space_file_with_a_program_imports_nothing_heavy(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = space(tmp_path, "./train.sh")
    code = (
        "import sys; from tuner.space.load import load_spec; "
        f"load_spec({str(path)!r}); "
        "print([m for m in ('tensorflow', 'ray', 'mlflow', 'optuna') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr[-2000:]
    assert stat.S_IMODE((tmp_path / "train.sh").stat().st_mode) & 0o100
