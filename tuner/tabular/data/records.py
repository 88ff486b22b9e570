"""Low-level TFRecord access that turns TensorFlow's errors into located `DataError`s.

TensorFlow reports a CRC mismatch as "corrupted record at <byte>" without the file name,
and a schema mismatch deep inside `parse_example`; users need the file and the record.
"""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tuner.errors import DataError
from tuner.tabular.data.table import few

GZIP_MAGIC = b"\x1f\x8b"
KINDS = ("float_list", "int64_list", "bytes_list")


def compression_of(path: str | Path) -> str | None:
    """GZIP by extension or by magic bytes; TFRecord framing otherwise."""
    path = Path(path)
    if path.suffix == ".gz":
        return "GZIP"
    with path.open("rb") as fh:
        return "GZIP" if fh.read(2) == GZIP_MAGIC else None


_HEADER_BYTES = 12  # uint64 length + the masked CRC-32C of those 8 bytes


def check_tfrecord(path: str | Path, compression: str | None) -> None:
    """Refuse a file whose first 12 bytes are no TFRecord record header (a CSV, a LIBSVM
    file, a zip...) with that said, instead of TensorFlow's "CRC mismatch at byte 0".
    The header's CRC is checked with TensorBoard's CRC-32C (its own TFRecord writer's)."""
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    path = Path(path)
    opener = gzip.open if compression == "GZIP" else open
    try:
        with opener(path, "rb") as fh:
            header = fh.read(_HEADER_BYTES)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(f"not a GZIP file: {exc}", where=path) from None
    if not header:
        return  # an empty stream: no records, which the callers report themselves
    if len(header) < _HEADER_BYTES or masked_crc32c(header[:8]) != int.from_bytes(
        header[8:], "little"
    ):
        text = _as_text(header)
        start = (
            f"it starts with the text {text!r}"
            if text
            else "its first 12 bytes are no record header"
        )
        raise DataError(
            f"not a TFRecord file ({start})",
            where=path,
            hint="convert a CSV or LIBSVM file with `tune data convert SRC --out DIR` first",
        )


def _as_text(data: bytes) -> str | None:
    """`data` as text when it is printable UTF-8 (a cut-off last character allowed)."""
    text = data.decode("utf-8", "ignore")
    printable = all(c.isprintable() or c in "\t\r\n" for c in text)
    return text if printable and len(text.encode()) >= len(data) - 3 else None


@contextlib.contextmanager
def located(path: str | Path) -> Iterator[None]:
    """Re-raise TensorFlow's read errors for `path` as one-line `DataError`s."""
    from tuner.tabular.runtime import tensorflow

    tf = tensorflow()

    try:
        yield
    except tf.errors.DataLossError as exc:
        raise DataError(_data_loss_message(exc), where=path) from None
    except tf.errors.InvalidArgumentError as exc:
        raise DataError(
            f"records do not parse: {_first_line(exc)}",
            where=path,
            hint="not a TFRecord file, or not the records its schema describes",
        ) from None


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    text = text.split("[Op:")[0]
    if "}}" in text:
        text = text.split("}}", 1)[1]
    return " ".join(text.split())[:300]


def _data_loss_message(exc: BaseException) -> str:
    text = _first_line(exc)
    for word in ("corrupted record at", "truncated record at"):
        if word in text:
            offset = text.split(word, 1)[1].split()[0].strip("'")
            what = "truncated" if word.startswith("truncated") else "corrupt (CRC mismatch)"
            return f"TFRecord {what} at byte {offset}"
    return f"unreadable TFRecord data: {text}"


def tfrecord_dataset(paths: Sequence[str | Path], compression: str | None = None) -> Any:
    from tuner.tabular.runtime import tensorflow

    tf = tensorflow()

    return tf.data.TFRecordDataset([str(p) for p in paths], compression_type=compression or "")


def count_records(path: str | Path, compression: str | None = None) -> int:
    with located(path):
        ds = tfrecord_dataset([path], compression).batch(8192)
        return int(sum(int(batch.shape[0]) for batch in ds))


def examples(path: str | Path, limit: int | None, compression: str | None = None) -> list[Any]:
    """The first `limit` records of `path` as `tf.train.Example` protos."""
    from tuner.tabular.runtime import tensorflow

    tf = tensorflow()

    ds = tfrecord_dataset([path], compression)
    if limit is not None:
        ds = ds.take(limit)
    out = []
    with located(path):
        for i, raw in enumerate(ds):
            try:
                out.append(tf.train.Example.FromString(raw.numpy()))
            except Exception:
                raise DataError(f"record {i} is not a tf.train.Example", where=path) from None
    return out


def example_to_dict(example: Any) -> dict[str, tuple[str, list[Any]]]:
    """key → (kind, values) with bytes decoded as UTF-8 where possible."""
    out: dict[str, tuple[str, list[Any]]] = {}
    for key, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        if kind is None:
            out[key] = ("float_list", [])
            continue
        values = list(getattr(feature, kind).value)
        if kind == "bytes_list":
            values = [v.decode("utf-8", "replace") for v in values]
        out[key] = (kind, values)
    return out


def infer_features(samples: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Feature keys and types of schema-less records: kind and fixed or variable length."""
    seen: dict[str, dict[str, Any]] = {}
    for example in samples:
        for key, (kind, values) in example_to_dict(example).items():
            info = seen.setdefault(key, {"kind": kind, "lengths": set(), "count": 0})
            if info["kind"] != kind and values:
                info["kind"] = "mixed"
            info["lengths"].add(len(values))
            info["count"] += 1
    out = {}
    for key in sorted(seen):
        info = seen[key]
        lengths = sorted(info["lengths"])
        fixed = len(lengths) == 1 and info["count"] == len(samples)
        out[key] = {
            "kind": info["kind"],
            "dtype": {"float_list": "float32", "int64_list": "int64", "bytes_list": "string"}.get(
                info["kind"], "mixed"
            ),
            "length": lengths[0] if fixed else None,
            "min_length": lengths[0],
            "max_length": lengths[-1],
            "present_in": info["count"],
        }
    return out


def check_matches_schema(schema: Any, path: str | Path, first: bytes | None = None) -> None:
    """Compare the first record's keys and kinds with what the schema says (`first`: that
    record, serialized, when the caller has already read it)."""
    if first is None:
        found = examples(path, 1, schema.compression)
        if not found:
            return
        example = found[0]
    else:
        from tuner.tabular.runtime import tensorflow

        try:
            example = tensorflow().train.Example.FromString(first)
        except Exception:
            raise DataError("record 0 is not a tf.train.Example", where=path) from None
    record = example_to_dict(example)
    for key, kind in schema.record_keys().items():
        if key not in record:
            raise DataError(
                f"record 0 has no feature '{key}' (it has {len(record)}: {few(sorted(record))})",
                where=path,
                hint="the schema file does not match the records",
            )
        if record[key][0] != kind:
            raise DataError(
                f"record 0: feature '{key}' is a {record[key][0]}, the schema says {kind}",
                where=path,
                hint="the schema file does not match the records",
            )
