"""Batch inference with an exported model: one prediction per input row, in input order.

It goes through the SavedModel's serving signature — the artifact users deploy — not
the Keras model, so what `tune predict` prints is what serving returns.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tuner.atomic import write_text_atomic
from tuner.data.schema import Schema
from tuner.errors import DataError
from tuner.model.export import SIGNATURE, read_info
from tuner.tf_runtime import tensorflow

BATCH = 4096


def saved_model_dir(path: str | Path) -> Path:
    """A `tune train --out` folder or the SavedModel folder inside it."""
    path = Path(path)
    for candidate in (path / "model", path):
        if (candidate / "saved_model.pb").exists():
            return candidate
    raise DataError(
        "no exported model here", where=path, hint="expected a `tune train --out` folder"
    )


def _csv_batches(path: Path, schema: Schema) -> Any:
    from tuner.data.csv_source import read_csv

    kinds = {f.name: f.kind for f in schema.features}
    if "sparse" in kinds.values():
        raise DataError("a model over sparse features predicts from TFRecords, not CSV", where=path)
    table = read_csv(path, label=schema.label.name, kinds=kinds, features_only=True)
    rows = len(table.lines)
    for start in range(0, rows, BATCH):
        batch = {}
        for f in schema.features:
            if f.kind == "numeric":
                batch[f.name] = np.asarray(table.numeric[f.name][start : start + BATCH], np.float32)
            else:
                batch[f.name] = np.asarray(table.categorical[f.name][start : start + BATCH], object)
        yield batch


def _record_batches(path: Path, schema: Schema, split: str) -> Any:
    from tuner.data import reader

    tf = tensorflow()
    if path.is_dir():
        ds = reader.dataset(path, split, batch_size=BATCH, shuffle=False).map(lambda x, y: x)
    else:
        spec = reader.parse_spec(schema)
        spec.pop(schema.label.name)
        parse = reader.parse_features(schema, spec)
        compression = "GZIP" if path.suffix == ".gz" else ""
        ds = tf.data.TFRecordDataset(str(path), compression_type=compression)
        ds = ds.batch(BATCH).map(parse)
    for features in ds:
        batch = {}
        for f in schema.features:
            value = features[f.name]
            if f.kind == "sparse":
                rows = tf.cast(value.indices[:, 0], tf.int64)
                nrows = value.dense_shape[0]
                ragged = tf.RaggedTensor.from_value_rowids
                batch[f"{f.name}_ids"] = ragged(value.indices[:, 1], rows, nrows).to_tensor(-1)
                batch[f"{f.name}_values"] = ragged(value.values, rows, nrows).to_tensor(0.0)
            else:
                batch[f.name] = value
        yield batch


def predict(
    model_dir: str | Path,
    data: str | Path,
    out: str | Path | None = None,
    *,
    split: str = "validation",
) -> int:
    """Write predictions as CSV to `out` (atomically) or stdout; returns the row count."""
    tf = tensorflow()
    directory = saved_model_dir(model_dir)
    info = read_info(directory)
    schema = Schema.from_json(info["schema"])
    data = Path(data)
    if not data.exists():
        raise DataError("no such file or directory", where=data)
    if data.is_file() and data.suffix.lower() in (".csv", ".tsv"):
        batches = _csv_batches(data, schema)
    else:
        batches = _record_batches(data, schema, split)
    serve = tf.saved_model.load(str(directory)).signatures[info["signature"] or SIGNATURE]
    classes = info.get("classes") or []
    task = info["task"]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    if task == "binary":
        writer.writerow(["probability", "predicted"])
    elif task == "multiclass":
        writer.writerow([*(f"p_{c}" for c in classes), "predicted"])
    else:
        writer.writerow(["prediction"])
    rows = 0
    for batch in batches:
        inputs = {k: tf.constant(v) for k, v in batch.items()}
        output = serve(**inputs)[info["output"]].numpy()
        rows += len(output)
        for value in output:
            if task == "binary":
                writer.writerow([f"{value:.6g}", classes[int(value >= 0.5)]])
            elif task == "multiclass":
                writer.writerow([*(f"{p:.6g}" for p in value), classes[int(np.argmax(value))]])
            else:
                writer.writerow([f"{value:.6g}"])
    if out is None:
        sys.stdout.write(text.getvalue())
    else:
        write_text_atomic(out, text.getvalue())
    return rows
