"""Batch inference with an exported model: one prediction per input row, in input order.

It goes through the SavedModel's serving signature — the artifact users deploy — not
the Keras model, so what `tune predict` prints is what serving returns. Inputs are read
by the user's column names and renamed to the signature's keys (tuner.json says how).

Every input is checked before TensorFlow is imported (bad input is refused in well under
a second): `--out` must name a file in an existing folder, MODEL_DIR must be an export
with its tuner.json, and a CSV file is read whole (the data set's recorded delimiter and
decimal comma; every column the model takes, each value parsing as the model's schema
says) or a data set must hold every feature the model takes, of the kind it takes. A
TFRecord file's first record is compared once TensorFlow runs (it parses the record);
later records are parsed with the same spec, and a mismatch there is a located error too.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tuner.atomic import write_text_atomic
from tuner.errors import ConfigError, DataError
from tuner.tabular.data import reader
from tuner.tabular.data.csv_source import read_csv
from tuner.tabular.data.records import (
    check_tfrecord,
    compression_of,
    example_to_dict,
    examples,
    located,
)
from tuner.tabular.data.schema import Schema, load_schema
from tuner.tabular.data.sources import check_file
from tuner.tabular.data.table import Table
from tuner.tabular.model.export import INFO, SIGNATURE
from tuner.tabular.prediction import output_columns
from tuner.tabular.runtime import tensorflow

_LIST_KIND = {"float_list": "float", "int64_list": "int64", "bytes_list": "bytes"}

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


def read_export_info(directory: Path) -> dict[str, Any]:
    """The export's tuner.json: what the model takes and returns (a SavedModel without
    it was not exported by tuner)."""
    path = directory / INFO
    if not path.is_file():
        raise DataError(
            f"no {INFO.as_posix()}: not a model exported by tuner",
            where=directory,
            hint="expected a `tune train --out` folder",
        )
    try:
        info = json.loads(path.read_text())
        Schema.from_json(info["schema"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"not a readable tuner export description ({exc})", where=path) from None
    return info


def read_csv_input(
    path: Path, schema: Schema, delimiter: str | None = None, decimal_comma: bool = False
) -> Table:
    """The CSV to predict, read whole and checked against the model's data set schema:
    its columns, each value parsing as its kind; read as the data set's CSV source was
    (its recorded delimiter tried first, its decimal comma, its columns of dates made
    parts in their format) unless the options say."""

    kinds = {f.name: f.kind for f in schema.features}
    if "sparse" in kinds.values():
        raise DataError("a model over sparse features predicts from TFRecords, not CSV", where=path)
    dialect = schema.csv
    return read_csv(
        path,
        label=schema.label.name,
        kinds=kinds,
        features_only=True,
        delimiter=delimiter,
        preferred_delimiter=dialect.delimiter if dialect else None,
        decimal_comma=decimal_comma or bool(dialect and dialect.decimal_comma),
        date_specs=dialect.dates if dialect else None,
    )


def _csv_batches(table: Table, schema: Schema) -> Any:
    assert table.lines is not None  # read_csv numbers every row
    rows = len(table.lines)
    for start in range(0, rows, BATCH):
        batch = {}
        for f in schema.features:
            if f.kind == "numeric":
                batch[f.name] = np.asarray(table.numeric[f.name][start : start + BATCH], np.float32)
            else:
                batch[f.name] = np.asarray(table.categorical[f.name][start : start + BATCH], object)
        yield batch


def check_out(out: str | Path | None) -> None:
    """`--out` names a CSV file to create or replace, in a folder that exists."""
    if out is None:
        return
    out = Path(out)
    if out.is_dir():
        raise ConfigError(
            "--out is a directory", where=out, hint="expected a CSV file path, e.g. out.csv"
        )
    if not out.absolute().parent.is_dir():
        raise ConfigError("--out: the folder does not exist", where=out.absolute().parent)


def _check_data_set(path: Path, schema: Schema, split: str) -> None:
    """A converted data set holds the model's features, by name and kind, and the split."""

    data = load_schema(path)
    if split not in data.splits:
        raise DataError(f"no split '{split}' (it has {sorted(data.splits)})", where=path)
    kinds = {f.name: f.kind for f in data.features}
    for f in schema.features:
        if f.name not in kinds:
            raise DataError(
                f"the data set has no feature '{f.name}' that the model takes "
                f"(expected {[g.name for g in schema.features]}, found {sorted(kinds)})",
                where=path,
            )
        if kinds[f.name] != f.kind:
            raise DataError(
                f"feature '{f.name}' is {kinds[f.name]} in the data set, the model takes it "
                f"{f.kind}",
                where=path,
            )


def _check_record(path: Path, schema: Schema, compression: str | None) -> None:
    """The first record holds every key the model reads, each of the list kind it reads."""

    first = examples(path, 1, compression)
    if not first:
        return
    record = example_to_dict(first[0])
    wanted = {k: v for k, v in schema.record_keys().items() if k != schema.label.name}
    for key, kind in wanted.items():
        if key not in record:
            raise DataError(
                f"record 0 has no feature '{key}' ({_LIST_KIND[kind]}) that the model takes "
                f"(expected {sorted(wanted)}, found {sorted(record)})",
                where=path,
            )
        if record[key][0] != kind:
            raise DataError(
                f"record 0: feature '{key}' is {_LIST_KIND.get(record[key][0], record[key][0])}, "
                f"the model takes {_LIST_KIND[kind]}",
                where=path,
            )


def _check_tfrecord_file(path: Path) -> None:
    """A file that is not CSV must be TFRecords (say what predict reads otherwise)."""

    check_file(path)
    try:
        check_tfrecord(path, compression_of(path))
    except DataError as exc:
        raise DataError(
            exc.message,
            where=path,
            hint="tune predict reads a CSV file (.csv, .tsv), a TFRecord file or a "
            "converted data set",
        ) from None


def _record_batches(path: Path, schema: Schema, split: str) -> Any:

    tf = tensorflow()
    if path.is_dir():
        ds = reader.dataset(path, split, batch_size=BATCH, shuffle=False).map(lambda x, y: x)
        files = reader.reading(path, split)
    else:
        compression = compression_of(path)
        _check_record(path, schema, compression)
        spec = reader.parse_spec(schema)
        spec.pop(schema.label.name)
        parse = reader.parse_features(schema, spec)
        ds = tf.data.TFRecordDataset(str(path), compression_type=compression or "")
        ds = ds.batch(BATCH).map(parse)
        files = located(path)
    with files:
        yield from _sparse_as_padded(ds, schema)


def _sparse_as_padded(ds: Any, schema: Schema) -> Any:
    """Parsed batches → the signature's inputs by column name: sparse features as
    padded id/value lists."""
    tf = tensorflow()
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
    delimiter: str | None = None,
    decimal_comma: bool = False,
) -> int:
    """Write predictions as CSV to `out` (atomically) or stdout; returns the row count.

    `delimiter` and `decimal_comma` read a CSV `data` (by default: as the model's data
    set recorded its CSV source, else detected)."""
    check_out(out)
    directory = saved_model_dir(model_dir)
    info = read_export_info(directory)
    schema = Schema.from_json(info["schema"])
    data = Path(data)
    if not data.exists():
        raise DataError("no such file or directory", where=data)
    keys = info.get("signature_keys") or {}  # column → signature key (older exports: same)
    is_csv = data.is_file() and data.suffix.lower() in (".csv", ".tsv")
    if (delimiter is not None or decimal_comma) and not is_csv:
        raise ConfigError(
            "--delimiter and --decimal-comma read a CSV file (.csv, .tsv)", where=data
        )
    # every check of the input before TensorFlow is imported (seconds)
    if is_csv:
        table = read_csv_input(data, schema, delimiter, decimal_comma)
    elif data.is_dir():
        _check_data_set(data, schema, split)
    else:
        _check_tfrecord_file(data)
    tf = tensorflow()
    batches = _csv_batches(table, schema) if is_csv else _record_batches(data, schema, split)
    try:
        serve = tf.saved_model.load(str(directory)).signatures[info["signature"] or SIGNATURE]
    except (ValueError, KeyError, OSError, tf.errors.OpError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise DataError(f"the SavedModel cannot be loaded: {reason}", where=directory) from None
    classes = info.get("classes") or []
    task = info["task"]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(output_columns(info))
    rows = 0
    for batch in batches:
        inputs = {keys.get(k, k): tf.constant(v) for k, v in batch.items()}
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
