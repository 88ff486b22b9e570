"""One TFRecord shard → one string tensor of its serialized records, read in bulk.

`tf.data.TFRecordDataset` hands records over one at a time and pays ~2.5 µs of
iterator overhead for each: more than reading the bytes, more than `parse_example`
spends on a record. A split that is loaded whole into memory does not need that
iterator. For a shard whose FarmHash64 fingerprint the schema recorded when the shard
was written, one fingerprint over the whole file stands in for the per-record CRCs: the
file is read in one op, the record boundaries are found from the length headers, and
all records are cut out with one `substr` (the idea behind DALI's TFRecord index files).

Anything else — no fingerprint in the schema, a fingerprint that does not match, a
compressed shard, a framing that does not add up — is read by `TFRecordDataset`, which
checks every record's CRC and says at which byte a file is corrupt or truncated.
"""

from __future__ import annotations

import struct
from array import array
from pathlib import Path
from typing import Any

import numpy as np

from tuner.tabular.runtime import tensorflow

_LENGTH = struct.Struct("<Q")
_HEADER = 12  # uint64 length + uint32 masked CRC of the length
_FOOTER = 4  # uint32 masked CRC of the data


def fingerprint(path: str | Path) -> str:
    """FarmHash64 of the whole file, as hex: what the schema records for a shard."""
    tf = tensorflow()
    blob = tf.reshape(tf.io.read_file(str(path)), [1])
    return _hex(tf.fingerprint(blob))


def _hex(fingerprint: Any) -> str:
    return bytes(fingerprint.numpy()[0]).hex()


def read_records(path: str | Path, expected: str | None, compression: str | None) -> Any:
    """All serialized records of one shard, in file order, as a string tensor [records]."""
    tf = tensorflow()
    if expected is not None and not compression:
        blob = tf.io.read_file(str(path))
        if _hex(tf.fingerprint(tf.reshape(blob, [1]))) == expected:
            bounds = _frame(blob.numpy())
            if bounds is not None:
                return tf.strings.substr(blob, *bounds)
    return _checked(path, compression)


def _frame(data: bytes) -> tuple[Any, Any] | None:
    """Start and length of every record's data; None where the framing does not add up."""
    lengths = array("q")
    pos, end, unpack, append = 0, len(data), _LENGTH.unpack_from, lengths.append
    while pos + _HEADER <= end:
        (length,) = unpack(data, pos)
        append(length)
        pos += _HEADER + length + _FOOTER
    if pos != end:
        return None
    sizes = np.frombuffer(lengths, np.int64)
    ends = np.cumsum(sizes + _HEADER + _FOOTER)  # where each record's framing ends
    return ends - sizes - _FOOTER, sizes


def _checked(path: str | Path, compression: str | None) -> Any:
    """TFRecordDataset's read: every CRC checked, DataLossError naming the byte."""
    tf = tensorflow()
    ds = tf.data.TFRecordDataset(str(path), compression_type=compression or "")
    chunks = list(ds.batch(1 << 16))
    return tf.concat(chunks, axis=0) if chunks else tf.constant([], tf.string)
