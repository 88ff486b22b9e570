"""`tune data inspect`: what a data set or a bare TFRecord file holds.

For a converted data set it shows the schema and checks the row counts against the
records; for a TFRecord file without a schema (such as those TensorFlow 1.x wrote) it
infers feature keys and types from the records themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuner.errors import DataError
from tuner.tabular.data.records import (
    check_matches_schema,
    check_tfrecord,
    compression_of,
    count_records,
    examples,
    infer_features,
)
from tuner.tabular.data.records import example_to_dict as _as_dict
from tuner.tabular.data.schema import SCHEMA_FILE, load_schema

INFER_SAMPLE = 1000
TFRECORD_SUFFIXES = (".tfrecord", ".tfrecords", ".tfrecord.gz", ".tfrecords.gz", ".gz")


def inspect(path: str | Path, head: int = 3) -> dict[str, Any]:
    from tuner.tabular.data.builtin import is_builtin, resolve

    path = resolve(path) if is_builtin(path) else Path(path)
    if not path.exists():
        raise DataError("no such file or directory", where=path)
    if path.is_dir() and (path / SCHEMA_FILE).exists():
        return _inspect_dataset(path, head)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.endswith(TFRECORD_SUFFIXES))
        if not files:
            raise DataError(
                f"no {SCHEMA_FILE} and no TFRecord files here",
                where=path,
                hint=f"expected files ending in {', '.join(TFRECORD_SUFFIXES[:3])}",
            )
        return _inspect_files(files, head)
    if path.stat().st_size == 0:
        raise DataError("the file is empty", where=path)
    return _inspect_files([path], head)


def _inspect_dataset(directory: Path, head: int) -> dict[str, Any]:
    schema = load_schema(directory)
    rows = {}
    for name, split in schema.splits.items():
        counted = sum(count_records(directory / f, schema.compression) for f in split.files)
        if counted != split.rows:
            raise DataError(
                f"split '{name}' holds {counted} records, the schema says {split.rows}",
                where=directory,
                hint="the schema file does not match the records",
            )
        rows[name] = counted
    first = directory / schema.splits["train"].files[0]
    check_matches_schema(schema, first)
    return {
        "path": str(directory),
        "kind": "dataset",
        "schema": schema.to_json(),
        "rows": rows,
        "head": [_flatten(_as_dict(e)) for e in examples(first, head, schema.compression)],
    }


def _inspect_files(files: list[Path], head: int) -> dict[str, Any]:
    per_file = {}
    sample: list[Any] = []
    for path in files:
        compression = compression_of(path)
        check_tfrecord(path, compression)
        per_file[str(path)] = count_records(path, compression)
        if len(sample) < INFER_SAMPLE:
            sample += examples(path, INFER_SAMPLE - len(sample), compression)
    if not sample:
        raise DataError("no records", where=files[0])
    return {
        "path": str(files[0]) if len(files) == 1 else str(files[0].parent),
        "kind": "tfrecord",
        "files": per_file,
        "rows": sum(per_file.values()),
        "inferred_from": len(sample),
        "features": infer_features(sample),
        "head": [_flatten(_as_dict(e)) for e in sample[:head]],
    }


def _flatten(record: dict[str, tuple[str, list[Any]]]) -> dict[str, Any]:
    return {k: (v[0] if len(v) == 1 else v) for k, (_, v) in sorted(record.items())}


def render(info: dict[str, Any]) -> str:
    """The human-readable report printed by `tune data inspect`."""
    lines = []
    if info["kind"] == "dataset":
        s = info["schema"]
        lines.append(f"data set  {info['path']}")
        lines.append(
            f"source    {s['source_format']}"
            + (f", {s['compression']} compressed" if s.get("compression") else "")
        )
        label = s["label"]
        classes = f": {', '.join(label['classes'])}" if "classes" in label else ""
        lines.append(f"label     {label['name']} ({label['kind']}{classes})")
        kinds: dict[str, int] = {}
        for f in s["features"]:
            kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in kinds.items())
        lines.append(f"features  {len(s['features'])} ({summary})")
        width = max(len(f["name"]) for f in s["features"])
        for f in s["features"]:
            lines.append(f"  {f['name']:<{width}}  {_describe(f)}")
        lines.append("rows")
        for name, n in info["rows"].items():
            lines.append(f"  {name:<10} {n:>10,}")
    else:
        lines.append(
            f"TFRecords {info['path']} (no schema: types inferred from "
            f"{info['inferred_from']} records)"
        )
        for path, n in info["files"].items():
            lines.append(f"  {Path(path).name}: {n:,} records")
        lines.append(f"rows      {info['rows']:,}")
        lines.append("features")
        width = max(len(k) for k in info["features"])
        for key, f in info["features"].items():
            length = (
                f"×{f['length']}"
                if f["length"] is not None
                else f"variable length {f['min_length']}–{f['max_length']}"
            )
            lines.append(f"  {key:<{width}}  {f['dtype']:<8} {length}")
    if info["head"]:
        lines.append(f"first {len(info['head'])} records")
        for record in info["head"]:
            lines.append("  " + ", ".join(f"{k}={_short(v)}" for k, v in record.items()))
    return "\n".join(lines)


def _describe(f: dict[str, Any]) -> str:
    if f["kind"] == "numeric":
        return (
            f"numeric      mean {f['mean']:.4g}  std {f['std']:.4g}  "
            f"min {f['min']:.4g}  max {f['max']:.4g}  missing {f.get('missing', 0)}"
        )
    if f["kind"] == "categorical":
        vocab = f["vocabulary"]
        shown = ", ".join(vocab[:4]) + (", …" if len(vocab) > 4 else "")
        return f"categorical  {len(vocab)} values ({shown})  missing {f.get('missing', 0)}"
    return f"sparse       dimension {f['dimension']} (keys {f['ids_key']}, {f['values_key']})"


def _short(value: Any) -> str:
    if isinstance(value, list):
        text = "[" + ", ".join(_short(v) for v in value[:6]) + (", …]" if len(value) > 6 else "]")
        return text
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
