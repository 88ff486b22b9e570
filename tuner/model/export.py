"""A SavedModel that serves raw feature values: strings for categorical features, numbers
for numeric ones (NaN = missing), padded id/value lists for sparse ones.

Everything the model needs (lookups, statistics, crosses) is inside it, so loading it
needs TensorFlow and nothing of tuner. `assets.extra/tuner.json` beside it says which
inputs it takes and what its outputs mean, for `tune predict` and for people.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tuner.atomic import staged_dir, write_text_atomic
from tuner.data.schema import Schema
from tuner.model.build import Built
from tuner.model.layers import keras, tf

SIGNATURE = "serve"
INFO = Path("assets.extra") / "tuner.json"


def input_signature(schema: Schema) -> dict[str, Any]:
    spec = {}
    for f in schema.features:
        if f.kind == "numeric":
            spec[f.name] = tf.TensorSpec([None], tf.float32, name=f.name)
        elif f.kind == "categorical":
            spec[f.name] = tf.TensorSpec([None], tf.string, name=f.name)
        else:  # padded with -1 ids (and any value) past each row's end
            spec[f"{f.name}_ids"] = tf.TensorSpec([None, None], tf.int64, name=f"{f.name}_ids")
            spec[f"{f.name}_values"] = tf.TensorSpec(
                [None, None], tf.float32, name=f"{f.name}_values"
            )
    return spec


def output_name(task: str) -> str:
    return {"binary": "probability", "multiclass": "probabilities", "regression": "value"}[task]


def _features(schema: Schema, inputs: dict[str, Any]) -> dict[str, Any]:
    features = {}
    for f in schema.features:
        if f.kind != "sparse":
            features[f.name] = inputs[f.name]
            continue
        ids, values = inputs[f"{f.name}_ids"], inputs[f"{f.name}_values"]
        where = tf.where(ids >= 0)  # (row, position in the padded list)
        features[f.name] = tf.SparseTensor(
            tf.stack([where[:, 0], tf.gather_nd(ids, where)], axis=1),
            tf.gather_nd(values, where),
            tf.stack([tf.shape(ids, out_type=tf.int64)[0], tf.constant(f.dimension, tf.int64)]),
        )
    return features


def export_model(built: Built, schema: Schema, cfg: dict[str, Any], directory: Path) -> Path:
    """Write the SavedModel to `directory` (atomically: a temporary folder, then renamed)."""
    directory = Path(directory)
    model = built.model
    name = output_name(built.task)

    def serve(inputs: dict[str, Any]) -> dict[str, Any]:
        return {name: model(_features(schema, inputs), training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name=SIGNATURE, fn=serve, input_signature=[input_signature(schema)])
    cls = type(model)
    try:
        with staged_dir(directory) as tmp:
            if any(f.kind == "sparse" for f in schema.features):
                # Keras would also trace a default signature with dense specs for the sparse
                # inputs, which fails; ours above is the one that serves them
                model.__class__ = type(cls.__name__, (cls,), {"_default_save_signature": None})
            archive.write_out(str(tmp), verbose=False)
            info = {
                "signature": SIGNATURE,
                "inputs": list(input_signature(schema)),
                "output": name,
                "task": built.task,
                "classes": list(built.classes) if built.classes else None,
                "label": schema.label.name,
                "schema": schema.to_json(),
                "config": cfg,
            }
            write_text_atomic(tmp / INFO, json.dumps(info, indent=2) + "\n")
    finally:
        model.__class__ = cls
    return directory


def read_info(directory: Path) -> dict[str, Any]:
    return json.loads((Path(directory) / INFO).read_text())
