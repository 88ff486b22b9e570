"""tuner.gpu: the GPU share of a trial applied to any TensorFlow objective (the tabular
objective's own cap: tests/tabular/test_gpu.py), without importing TensorFlow for an
objective that does not use it."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from tuner import gpu

ENV = (gpu.ALLOW_GROWTH, gpu.FRACTION, gpu.MEMORY_MB)


@pytest.fixture
def one_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """An nvidia-smi that reports one 40 GiB GPU; a clean environment; the caps asked
    of TensorFlow (recorded, not applied)."""
    script = tmp_path / "nvidia-smi"
    script.write_text("#!/bin/sh\nprintf '0, 40960\\n'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    capped: list[float] = []
    monkeypatch.setattr(gpu, "cap_tensorflow", capped.append)
    return capped


def test_a_fraction_of_a_gpu_sets_the_environment_tensorflow_reads(
    one_gpu: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)  # not imported yet
    gpu.keep_to_share({"cpu": 1, "gpu": 0.25})
    assert os.environ[gpu.ALLOW_GROWTH] == "true"
    assert os.environ[gpu.FRACTION] == "0.25"
    assert os.environ[gpu.MEMORY_MB] == str(gpu.memory_limit_mb(40960, 0.25))
    assert one_gpu == [] and "tensorflow" not in sys.modules  # nothing imported


def test_an_objective_that_imported_tensorflow_is_capped_at_once(
    one_gpu: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", sys.modules.get("tensorflow") or object())
    gpu.keep_to_share({"cpu": 1, "gpu": 0.5})
    assert one_gpu == [0.5]
    assert gpu.ALLOW_GROWTH not in os.environ  # the cap is the limit
    assert os.environ[gpu.FRACTION] == "0.5"


@pytest.mark.parametrize("share", [0, 1, 2])
def test_whole_gpus_or_none_are_left_alone(one_gpu: list[float], share: float) -> None:
    gpu.keep_to_share({"cpu": 1, "gpu": share})
    assert one_gpu == [] and not [k for k in ENV if k in os.environ]
    assert gpu.share_env(share) == {}


def test_a_growth_setting_of_the_user_is_kept(
    one_gpu: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(gpu.ALLOW_GROWTH, "false")
    assert gpu.share_env(0.5)[gpu.ALLOW_GROWTH] == "false"


def test_without_nvidia_smi_the_share_has_no_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv(gpu.ALLOW_GROWTH, raising=False)
    assert gpu.share_env(0.5) == {gpu.ALLOW_GROWTH: "true", gpu.FRACTION: "0.5"}
    assert gpu.cap_tensorflow(0) == [] and gpu.cap_tensorflow(1) == []  # no import either
