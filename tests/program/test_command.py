"""A trial's command line (`tuner.program.command`): placeholders, the automatic flags
and how values are written."""

from __future__ import annotations

import sys
from pathlib import Path

from tuner.program.command import argv, flag_value
from tuner.program.spec import ProgramSpec


def spec(command: str, flags: str = "auto") -> ProgramSpec:
    return ProgramSpec(command=command, metrics=("auc",), cwd="/work", flags=flags)


def test_every_config_key_is_a_flag_after_the_command() -> None:
    config = {"optimizer": "adagrad", "model_network": [128, 32, 8], "lr": 0.01, "epochs": 4}
    words = argv(spec("python train.py --verbose"), config, Path("/t/3"), number=3)
    assert words == [
        sys.executable,
        "train.py",
        "--verbose",
        "--optimizer=adagrad",
        "--model_network=128 32 8",
        "--lr=0.01",
        "--epochs=4",
    ]


def test_placeholders_are_filled_and_not_repeated_as_flags() -> None:
    config = {"lr": 0.5, "epochs": 2, "wide": True, "skip": None}
    words = argv(
        spec("./run.sh {trial_dir}/model --learning-rate {lr} --n {number} --from {resume_epoch}"),
        config,
        Path("/t/7"),
        number=7,
        resume_epoch=2,
    )
    assert words == [
        "/work/run.sh",
        "/t/7/model",
        "--learning-rate",
        "0.5",
        "--n",
        "7",
        "--from",
        "2",
        "--epochs=2",
        "--wide=true",
    ]


def test_flags_none_keeps_only_the_placeholders() -> None:
    words = argv(spec("train --lr={lr}", flags="none"), {"lr": 1e-3, "epochs": 3}, Path("/t"))
    assert words[1:] == ["--lr=0.001"]


def test_values_are_written_as_documented() -> None:
    assert flag_value(False) == "false"
    assert flag_value([64, 32]) == "64 32"
    assert flag_value({"b": 1, "a": [1]}) == '{"a": [1], "b": 1}'
    assert flag_value(2.5e-05) == "2.5e-05"


def test_a_reference_carries_the_whole_spec() -> None:
    program = ProgramSpec(
        command="python t.py",
        metrics=("auc", "loss"),
        cwd="/w",
        pattern=r"auc=(?P<auc>\S+)",
        timeout=60.0,
        env={"A": "1"},
    )
    assert ProgramSpec.from_ref(program.ref) == program
    assert program.ref.startswith("program:")
