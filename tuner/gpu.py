"""A trial's share of a GPU, for any TensorFlow objective or program.

Ray's fractional GPUs are only bookkeeping: TensorFlow takes all of a GPU's memory when
it starts, so four trials given `gpu: 0.25` each would each try to take the whole GPU.
What keeps TensorFlow to its share can only be set before it initializes its devices,
once per (reused) worker process:

- a hard cap, a logical device with a memory limit (`cap_tensorflow`): the tabular
  objective's `setup_process` sets it, and the trial runner sets it for an objective
  without that hook whose module imported TensorFlow already;
- otherwise (an objective that imports TensorFlow inside its function, or none at all)
  the trial's environment (`share_env`): `TF_FORCE_GPU_ALLOW_GROWTH=true`, with which
  TensorFlow takes memory as it needs it instead of all of it at start, and the share
  itself, `TUNER_GPU_FRACTION` and `TUNER_GPU_MEMORY_MB`, for code that wants the hard
  cap: before building its first model,

      limit = os.environ.get("TUNER_GPU_MEMORY_MB")
      if limit:
          for gpu in tf.config.list_physical_devices("GPU"):
              tf.config.set_logical_device_configuration(
                  gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=int(limit))]
              )

  (in a Python objective: `tuner.gpu.cap_tensorflow()`).

A trial holding whole GPUs (Ray gives them to it alone, by CUDA_VISIBLE_DEVICES) or none
gets nothing. Nothing here imports TensorFlow unless asked to cap it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings

HEADROOM = 0.95  # leave room for the CUDA context and the allocator's own slack
ALLOW_GROWTH = "TF_FORCE_GPU_ALLOW_GROWTH"
FRACTION = "TUNER_GPU_FRACTION"  # the trial's share of each GPU it sees (0 < f < 1)
MEMORY_MB = "TUNER_GPU_MEMORY_MB"  # that share of the first GPU it sees, in MiB


def memory_limit_mb(total_mb: int, fraction: float) -> int:
    """The cap for a trial holding `fraction` of a GPU with `total_mb` of memory."""
    if not 0 < fraction <= 1:
        raise ValueError(f"GPU fraction {fraction}: expected more than 0 and at most 1")
    return max(256, int(total_mb * fraction * HEADROOM))


def shared(fraction: float) -> bool:
    """Whether a trial holding `fraction` of a GPU shares it (and needs keeping to it)."""
    return 0 < fraction < 1


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


def share_env(fraction: float) -> dict[str, str]:
    """The environment that keeps a trial holding `fraction` of a GPU to its share (see
    the module text); empty for a trial that does not share one."""
    if not shared(fraction):
        return {}
    env = {ALLOW_GROWTH: os.environ.get(ALLOW_GROWTH, "true"), FRACTION: repr(float(fraction))}
    totals = visible_gpu_memory_mb()
    if totals:
        env[MEMORY_MB] = str(memory_limit_mb(totals[0], fraction))
    return env


def cap_tensorflow(fraction: float | None = None) -> list[int]:
    """Give TensorFlow one logical device per visible GPU, capped at `fraction` of it
    (default: the trial's share, $TUNER_GPU_FRACTION). Returns the caps in MiB (empty
    without a GPU, without a share, or when TensorFlow has initialized its devices
    already: a warning says so). Imports TensorFlow."""
    if fraction is None:
        fraction = float(os.environ.get(FRACTION) or 0)
    if not shared(fraction):
        return []
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    caps = []
    for gpu, total in zip(gpus, visible_gpu_memory_mb(), strict=False):
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


def keep_to_share(resources: dict[str, float]) -> None:
    """The trial runner's `setup_process` for an objective without one: the hard cap if
    the objective's module imported TensorFlow already (it has not initialized its
    devices yet, unless the module used them), else the environment that TensorFlow,
    imported later by the objective or by a program it starts, reads. An objective
    that never imports TensorFlow is not made to."""
    fraction = float(resources.get("gpu", 0) or 0)
    if not shared(fraction):
        return
    env = share_env(fraction)
    if "tensorflow" in sys.modules:  # capped now: growth on top of the cap is not needed
        env.pop(ALLOW_GROWTH, None)
        os.environ.update(env)
        cap_tensorflow(fraction)
    else:
        os.environ.update(env)
