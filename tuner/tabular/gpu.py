"""GPU sharing between packed trials.

Ray's fractional GPUs are only bookkeeping: TensorFlow takes all of a GPU's memory by
default, so two trials given 0.5 each would fight over it. Each trial process therefore
gives TensorFlow a logical device capped at its fraction of the GPU's memory. That can
only be set before TensorFlow initializes its devices — once per (reused) worker process.
Without a GPU every function here is a no-op.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings

HEADROOM = 0.95  # leave room for the CUDA context and the allocator's own slack


def memory_limit_mb(total_mb: int, fraction: float) -> int:
    """The cap for a trial holding `fraction` of a GPU with `total_mb` of memory."""
    if not 0 < fraction <= 1:
        raise ValueError(f"GPU fraction {fraction}: expected more than 0 and at most 1")
    return max(256, int(total_mb * fraction * HEADROOM))


def visible_gpu_memory_mb() -> list[int]:
    """Total memory of each GPU this process may use (CUDA_VISIBLE_DEVICES order)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    totals = {}
    for line in out.strip().splitlines():
        index, _, total = line.partition(",")
        if index.strip().isdigit() and total.strip().isdigit():
            totals[index.strip()] = int(total.strip())
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    order = [v.strip() for v in visible.split(",")] if visible else sorted(totals, key=int)
    return [totals[i] for i in order if i in totals]


def configure_memory_limit(fraction: float) -> list[int]:
    """Give TensorFlow one logical device per visible GPU, capped at `fraction` of it.
    Returns the caps in MiB (empty without a GPU)."""
    from tuner.tabular.runtime import tensorflow

    tf = tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    totals = visible_gpu_memory_mb()
    caps = []
    for gpu, total in zip(gpus, totals, strict=False):
        cap = memory_limit_mb(total, fraction)
        try:
            tf.config.set_logical_device_configuration(
                gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=cap)]
            )
        except RuntimeError as exc:  # TensorFlow already initialized its devices
            warnings.warn(f"could not cap GPU memory: {exc}", stacklevel=2)
            return []
        caps.append(cap)
    return caps


def setup_process(resources: dict[str, float]) -> None:
    """The tabular objective's `setup_process` hook: a trial holding a fraction of a GPU
    gets TensorFlow capped to it; one holding whole GPUs (Ray gives it them alone) or
    none is left as it is."""
    fraction = resources.get("gpu", 0)
    if 0 < fraction < 1:
        configure_memory_limit(fraction)
