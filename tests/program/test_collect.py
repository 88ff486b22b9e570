"""One epoch stream out of a program's three routes (`tuner.program.collect`): event files
as Keras's TensorBoard callback lays them out (train/ and validation/, epochs from 0),
a program's own scalars, `tuner.report` lines, output lines — each epoch handed out once,
in order, whichever route is first."""

from __future__ import annotations

from pathlib import Path

from tests.program.events import Events
from tuner.program.collect import Collector


def collector(tmp_path: Path, *metrics: str, pattern: str | None = None) -> Collector:
    return Collector(metrics, tmp_path / "trial", tmp_path / "trial" / "reports.jsonl", pattern)


def test_keras_tensorboard_files_become_epochs_from_one_with_val_names(tmp_path: Path) -> None:
    found = collector(tmp_path, "val_auc", "loss")
    train = Events(tmp_path / "trial" / "tensorboard" / "train")
    validation = Events(tmp_path / "trial" / "tensorboard" / "validation")
    train.scalar("epoch_loss", 0, 0.5)
    validation.scalar("epoch_auc", 0, 0.8125)
    validation.scalar("epoch_loss", 0, 0.4375)  # (val_loss: not declared)
    assert found.poll() == []  # epoch 1 may not be whole yet
    train.scalar("epoch_loss", 1, 0.375)
    assert found.poll() == [(1, {"loss": 0.5, "val_auc": 0.8125})]
    validation.scalar("epoch_auc", 1, 0.875)  # epoch 2 has what epoch 1 had: whole
    assert found.poll() == [(2, {"loss": 0.375, "val_auc": 0.875})]


def test_the_last_epoch_of_the_files_is_out_when_the_program_ends(tmp_path: Path) -> None:
    found = collector(tmp_path, "val_auc")
    own = Events(tmp_path / "trial" / "logs")
    own.scalar("val_auc", 1, 0.75, tensor=False)  # a program's own scalar, step = epoch
    assert found.poll() == []
    assert found.poll(final=True) == [(1, {"val_auc": 0.75})]


def test_a_programs_scalars_counted_from_zero_are_shifted(tmp_path: Path) -> None:
    found = collector(tmp_path, "auc")
    own = Events(tmp_path / "trial")
    for step, value in enumerate([0.5, 0.625, 0.75]):
        own.scalar("auc", step, value)
    assert found.poll(final=True) == [(1, {"auc": 0.5}), (2, {"auc": 0.625}), (3, {"auc": 0.75})]


def test_a_half_written_record_is_read_at_the_next_poll(tmp_path: Path) -> None:
    found = collector(tmp_path, "auc")
    own = Events(tmp_path / "trial")
    for epoch, value in ((1, 0.5), (2, 0.625), (3, 0.75)):
        own.scalar("auc", epoch, value)
    (path,) = (tmp_path / "trial").glob("events.out.tfevents.*")
    whole = path.read_bytes()
    path.write_bytes(whole[:-7])
    assert found.poll() == [(1, {"auc": 0.5}), (2, {"auc": 0.625})]  # epoch 3 torn: not yet
    path.write_bytes(whole)
    assert found.poll(final=True) == [(3, {"auc": 0.75})]


def test_reports_and_lines_are_first_come_and_never_twice(tmp_path: Path) -> None:
    found = collector(tmp_path, "auc")
    (tmp_path / "trial").mkdir()
    reports = tmp_path / "trial" / "reports.jsonl"
    reports.write_text('{"epoch": 1, "auc": 0.5}\n{"epoch": 2, "au')
    found.line("epoch=1 auc=0.49")  # the same epoch printed first: the print wins
    assert found.poll() == [(1, {"auc": 0.49})]
    reports.write_text('{"epoch": 1, "auc": 0.5}\n{"epoch": 2, "auc": 0.6}\n')
    found.line("epoch=2 auc=0.61")
    assert found.poll() == [(2, {"auc": 0.61})]  # (the report of epoch 2 came later)
    found.line("epoch=2 auc=0.62")  # a repeat adds nothing
    assert found.poll(final=True) == []


def test_output_counting_epochs_from_zero_is_shifted(tmp_path: Path) -> None:
    found = collector(tmp_path, "auc")
    for epoch in range(3):
        found.line(f"epoch={epoch} auc=0.{epoch + 5}")
    assert [e for e, _ in found.poll()] == [1, 2, 3]
