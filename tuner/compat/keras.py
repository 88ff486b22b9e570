"""Keras's unpublished parts that tuner relies on. Checked on Keras 3.15 with
TensorFlow 2.21 (pyproject bounds Keras below 3.16: its layers' insides move often)."""

from __future__ import annotations

from typing import Any

DEFAULT_SAVE_SIGNATURE = "_default_save_signature"


def seed_generators(layer: Any) -> list[Any]:
    """The SeedGenerators a layer draws its randomness from (Dropout's), each with a
    `state` variable, to seed an epoch's dropout masks from (seed, epoch)
    (`layer._seed_generators`; [] for a layer without). Stands in for a public accessor,
    which Keras lacks. Checked on Keras 3.15."""
    return list(getattr(layer, "_seed_generators", []))


def without_default_signature(model: Any) -> None:
    """Keep `ExportArchive.write_out` from tracing the model's default serving signature
    (dense specs for sparse inputs fail to trace): the model's class swapped for a
    subclass whose `_default_save_signature` (Keras's TensorFlow layer defines it;
    tensorflow.python.saved_model.signature_serialization reads it) is None. Stands in
    for a public switch, which Keras lacks. Checked on Keras 3.15."""
    cls = type(model)
    model.__class__ = type(cls.__name__, (cls,), {DEFAULT_SAVE_SIGNATURE: None})
