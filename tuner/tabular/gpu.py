"""GPU sharing between packed trials (the arithmetic and the cap: `tuner.gpu`).

Ray's fractional GPUs are only bookkeeping: TensorFlow takes all of a GPU's memory by
default, so two trials given 0.5 each would fight over it. Each trial process therefore
gives TensorFlow a logical device capped at its fraction of the GPU's memory. That can
only be set before TensorFlow initializes its devices — once per (reused) worker process.
Without a GPU every function here is a no-op.
"""

from __future__ import annotations

from tuner.gpu import HEADROOM, cap_tensorflow, memory_limit_mb, visible_gpu_memory_mb

__all__ = [
    "HEADROOM",
    "configure_memory_limit",
    "memory_limit_mb",
    "setup_process",
    "visible_gpu_memory_mb",
]


def configure_memory_limit(fraction: float) -> list[int]:
    """Give TensorFlow one logical device per visible GPU, capped at `fraction` of it
    (`tuner.gpu.cap_tensorflow`, TensorFlow imported quietly). Returns the caps in MiB
    (empty without a GPU)."""
    from tuner.tabular.runtime import tensorflow

    tensorflow()
    return cap_tensorflow(fraction)


def setup_process(resources: dict[str, float]) -> None:
    """The tabular objective's `setup_process` hook: a trial holding a fraction of a GPU
    gets TensorFlow capped to it; one holding whole GPUs (Ray gives them to it alone) or
    none is left as it is."""
    fraction = resources.get("gpu", 0)
    if 0 < fraction < 1:
        configure_memory_limit(fraction)
