"""tuner.timeline: start-up marks for the benches, off unless asked for."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tuner import timeline


def test_each_mark_is_one_json_line_with_its_time_and_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "timeline.jsonl"
    monkeypatch.setenv(timeline.ENV, str(path))
    timeline.mark("ray_ready")
    timeline.mark("epoch", number=3, epoch=1)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["event"] for line in lines] == ["ray_ready", "epoch"]
    assert lines[1]["number"] == 3 and lines[1]["epoch"] == 1
    assert {line["pid"] for line in lines} == {os.getpid()}
    assert lines[0]["t"] <= lines[1]["t"]


def test_no_variable_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(timeline.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    timeline.mark("ray_ready")
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_timeline_never_fails_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(timeline.ENV, str(tmp_path / "missing" / "timeline.jsonl"))
    timeline.mark("ray_ready")  # no folder: nothing written, nothing raised
