"""GPU memory caps for packed trials: the arithmetic and the device query, on any machine."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tuner.tabular import gpu


def test_memory_limit_is_the_fraction_with_headroom() -> None:
    assert gpu.memory_limit_mb(80_000, 0.25) == int(80_000 * 0.25 * gpu.HEADROOM)
    assert gpu.memory_limit_mb(80_000, 1.0) == int(80_000 * gpu.HEADROOM)
    assert gpu.memory_limit_mb(1_000, 0.01) == 256  # never a useless sliver
    for bad in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match="GPU fraction"):
            gpu.memory_limit_mb(1_000, bad)


def _fake_nvidia_smi(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = folder / "nvidia-smi"
    script.write_text("#!/bin/sh\nprintf '0, 81559\\n1, 40960\\n2, 24576\\n'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def test_visible_gpus_follow_cuda_visible_devices(tmp_path, monkeypatch) -> None:
    _fake_nvidia_smi(tmp_path, monkeypatch)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpu.visible_gpu_memory_mb() == [81559, 40960, 24576]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,0")  # what Ray gives a trial
    assert gpu.visible_gpu_memory_mb() == [24576, 81559]


def test_no_gpu_means_no_caps(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert gpu.visible_gpu_memory_mb() == []


@pytest.mark.slow
def test_configure_memory_limit_is_a_no_op_without_a_gpu() -> None:
    from tuner.tabular.runtime import tensorflow

    if tensorflow().config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    assert gpu.configure_memory_limit(0.5) == []
