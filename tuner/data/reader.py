"""The one reader: a converted data set and a split → `tf.data.Dataset` of raw features.

Records are batched first and parsed a batch at a time (`parse_example`), which is
15–30× faster than parsing one example at a time. The parsed split is cached in memory
once per process, keyed by the data set, so every later epoch and every later trial in
the same worker process gathers shuffled batches from memory without parsing again.
A cold process streams: shards interleaved, records shuffled in blocks seeded from
(seed, epoch), batch, parse, prefetch — and keeps the parsed batches. Shuffling depends on
(seed, epoch) alone, so a resumed trial sees the same order as an uninterrupted one.
Splits too large for the memory budget are always streamed.

Features are raw typed tensors of shape [batch]: numbers as float32 (NaN = missing),
categories as strings ("" = missing), LIBSVM features as a `tf.SparseTensor` of shape
[batch, dimension]. Lookup and normalization belong in the model.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuner.data.records import check_matches_schema, compression_of, count_records
from tuner.data.schema import Schema, load_schema
from tuner.errors import DataError
from tuner.tf_runtime import tensorflow

PARSE_BATCH = 1024
SHUFFLE_BLOCK = 65_536  # records shuffled together; a smaller split is shuffled uniformly
CYCLE_LENGTH = 8  # shards read at once
# Splits whose shards exceed this many bytes on disk are never cached in memory.
MEMORY_BUDGET = int(os.environ.get("TUNER_DATA_CACHE_BYTES", 2 << 30))


@dataclass
class ParsedSplit:
    """A whole split parsed, in file order, with columns stacked so a batch is few gathers."""

    schema: Schema
    numeric: Any  # float32 [rows, n_numeric] or None
    categorical: Any  # string [rows, n_categorical] or None
    sparse: dict[str, tuple[Any, Any]]  # name → (ids, values) RaggedTensors [rows, None]
    label: Any
    rows: int

    def columns(self) -> dict[str, Any]:
        """name → the whole column: Tensor [rows], or (ids, values) RaggedTensors."""
        tf = tensorflow()
        out: dict[str, Any] = dict(self.sparse)
        for kind, stacked in (("numeric", self.numeric), ("categorical", self.categorical)):
            names = [f.name for f in self.schema.features if f.kind == kind]
            if names:
                out.update(zip(names, tf.unstack(stacked, axis=1), strict=True))
        return {f.name: out[f.name] for f in self.schema.features}


@dataclass
class _Entry:
    """What this process knows of one split: the parsed columns, or a stream filling them."""

    schema: Schema
    files: list[Path]
    file_rows: list[int]
    parsed: ParsedSplit | None = None
    read_order: Any = None  # file-order row numbers in interleaved read order
    pending: Any = None  # the last streamed epoch (tf.data cache at its end)
    pending_order: int | None = None  # the order seed that stream used


_entries: dict[tuple[str, str, int], _Entry] = {}
_lock = threading.RLock()
parse_count = 0  # full parses of a split in this process: trials check they share one


def clear_cache() -> None:
    with _lock:
        _entries.clear()


def parse_spec(schema: Schema) -> dict[str, Any]:
    tf = tensorflow()
    spec: dict[str, Any] = {}
    for f in schema.features:
        if f.kind == "numeric":
            spec[f.name] = tf.io.FixedLenFeature([], tf.float32)
        elif f.kind == "categorical":
            spec[f.name] = tf.io.FixedLenFeature([], tf.string)
        else:
            spec[f.ids_key] = tf.io.RaggedFeature(tf.int64)
            spec[f.values_key] = tf.io.RaggedFeature(tf.float32)
    label_dtype = tf.float32 if schema.label.kind == "regression" else tf.int64
    spec[schema.label.name] = tf.io.FixedLenFeature([], label_dtype)
    return spec


def _parser(schema: Schema) -> Callable[[Any], tuple[dict[str, Any], Any]]:
    """serialized [batch] → (raw features, label), sparse features as SparseTensors."""
    parse = parse_features(schema, parse_spec(schema))
    return lambda serialized: parse(serialized, with_label=True)


def parse_features(schema: Schema, spec: dict[str, Any]) -> Callable[..., Any]:
    """serialized [batch] → raw features (and the label, when asked and in `spec`)."""
    tf = tensorflow()

    def parse(serialized, with_label: bool = False):
        parsed = tf.io.parse_example(serialized, spec)
        features = {}
        for f in schema.features:
            if f.kind == "sparse":
                features[f.name] = _to_sparse(parsed[f.ids_key], parsed[f.values_key], f.dimension)
            else:
                features[f.name] = parsed[f.name]
        return (features, parsed[schema.label.name]) if with_label else features

    return parse


def _to_sparse(ids, values, dimension: int):
    """Ragged rows of ids/values → SparseTensor [rows, dimension]; never densified."""
    tf = tensorflow()
    rows = tf.cast(ids.value_rowids(), tf.int64)
    indices = tf.stack([rows, ids.flat_values], axis=1)
    shape = tf.stack([tf.cast(ids.nrows(), tf.int64), tf.constant(dimension, tf.int64)])
    return tf.SparseTensor(indices, values.flat_values, shape)


def _shuffle_seed(seed: int, epoch: int) -> int:
    digest = hashlib.sha256(f"{seed}:{epoch}".encode()).digest()
    return int.from_bytes(digest[:7], "big")


def _entry(directory: Path, split: str) -> _Entry:
    schema_file = directory / "schema.json"
    stamp = schema_file.stat().st_mtime_ns if schema_file.exists() else 0
    key = (str(directory), split, stamp)
    if key not in _entries:
        schema = load_schema(directory)
        if split not in schema.splits:
            raise DataError(f"no split '{split}' (it has {sorted(schema.splits)})", where=directory)
        files = [directory / f for f in schema.splits[split].files]
        for path in files:
            check_matches_schema(schema, path)
        _entries[key] = _Entry(schema, files, list(schema.splits[split].file_rows))
    return _entries[key]


def dataset(
    directory: str | Path,
    split: str = "train",
    *,
    batch_size: int = 128,
    shuffle: bool = True,
    seed: int = 0,
    epoch: int = 0,
    cache: bool | None = None,
):
    """One epoch of (features, label) batches.

    Unshuffled, rows come in file order. Shuffled, the row order of an epoch is defined
    as: the shards interleaved, cut into blocks of SHUFFLE_BLOCK records, each block
    permuted by a stateless shuffle seeded from (seed, epoch, block). A cold process
    streams exactly that (and keeps what it parsed); a warm one applies the same
    permutation to its in-memory columns. Both give the same batches, so a trial resumed
    in a new process continues the uninterrupted trajectory.
    `cache=None` caches when the split's files fit TUNER_DATA_CACHE_BYTES.
    """
    if batch_size < 1:
        raise DataError(f"batch_size {batch_size}: expected 1 or more")
    directory = Path(directory).absolute()
    with _lock:
        entry = _entry(directory, split)
        if cache is None:
            cache = sum(p.stat().st_size for p in entry.files) <= MEMORY_BUDGET
        order_seed = _shuffle_seed(seed, epoch) if shuffle else None
        if cache and entry.parsed is None and entry.pending is not None:
            _settle(entry)
        if cache and entry.parsed is not None:
            return _from_memory(entry.parsed, batch_size, _order(entry, order_seed))
        return _stream(entry, batch_size, order_seed, keep=cache)


@contextlib.contextmanager
def reading(directory: str | Path, split: str = "train") -> Iterator[None]:
    """Wrap the consumer of `dataset(...)`: a corrupt or truncated shard met while
    iterating becomes a `DataError` that names the file and byte offset."""
    directory = Path(directory).absolute()
    with _lock:
        files = _entry(directory, split).files
    with _reading(files):
        yield


@contextlib.contextmanager
def _reading(files: list[Path]) -> Iterator[None]:
    tf = tensorflow()
    try:
        yield
    except tf.errors.DataLossError:
        for path in files:  # TensorFlow's message has the offset, not the file: find it
            count_records(path, compression_of(path))
        raise


def load_split(directory: str | Path, split: str = "train") -> ParsedSplit:
    """The whole split parsed in memory (parsing it now unless this process already has)."""
    directory = Path(directory).absolute()
    with _lock:
        entry = _entry(directory, split)
        if entry.parsed is None:
            if entry.pending is None:
                _stream(entry, 8192, None, keep=True)
            _settle(entry)
        assert entry.parsed is not None
        return entry.parsed


def _interleaved(shards, count: int, open_shard):
    """Shards interleaved, deterministically (the order does not depend on parallelism)."""
    tf = tensorflow()
    parallel = {"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": True} if count > 1 else {}
    return tf.data.Dataset.from_tensor_slices(shards).interleave(
        open_shard, cycle_length=min(count, CYCLE_LENGTH), **parallel
    )


def _block_order(length, order_seed: int, block):
    """The permutation applied to one shuffle block: stateless, from (seed, epoch, block)."""
    tf = tensorflow()
    seed = tf.stack([tf.constant(order_seed, tf.int64), tf.cast(block, tf.int64)])
    return tf.random.experimental.stateless_shuffle(tf.range(length, dtype=tf.int64), seed=seed)


def _interleave_order(entry: _Entry):
    """File-order row numbers in the order the interleaved stream reads them (cached)."""
    tf = tensorflow()
    if entry.read_order is None:
        rows = sum(entry.file_rows)
        if len(entry.files) == 1:
            entry.read_order = tf.range(rows, dtype=tf.int64)
        else:
            starts = [sum(entry.file_rows[:i]) for i in range(len(entry.file_rows))]
            replay = _interleaved(
                (tf.constant(starts, tf.int64), tf.constant(entry.file_rows, tf.int64)),
                len(entry.files),
                lambda start, count: tf.data.Dataset.range(start, start + count),
            )
            entry.read_order = tf.concat(list(replay.batch(1 << 20)), axis=0)
    return entry.read_order


def _order(entry: _Entry, order_seed: int | None):
    """The file-order row numbers of an epoch, exactly as `_stream` produces them."""
    tf = tensorflow()
    if order_seed is None:
        return tf.range(sum(entry.file_rows), dtype=tf.int64)
    read = _interleave_order(entry)
    rows = int(read.shape[0])
    parts = [
        start + _block_order(min(SHUFFLE_BLOCK, rows - start), order_seed, block)
        for block, start in enumerate(range(0, rows, SHUFFLE_BLOCK))
    ]
    return tf.gather(read, tf.concat(parts, axis=0))


def _stream(entry: _Entry, batch_size: int, order_seed: int | None, keep: bool):
    """Read → shuffle blocks → batch → parse, for a cold cache or a split too big for memory."""
    tf = tensorflow()
    compression = entry.schema.compression or ""
    files = [str(p) for p in entry.files]
    if order_seed is None:  # unshuffled means file order: predictions line up with rows
        records = tf.data.TFRecordDataset(files, compression_type=compression)
    else:
        records = _interleaved(
            files,
            len(files),
            lambda path: tf.data.TFRecordDataset(path, compression_type=compression),
        )
    # Parse in large batches (parse_example's cost is mostly per call), then cut them to
    # batch_size; SparseTensors cannot be cut that way, so sparse data parses at batch_size.
    sparse = any(f.kind == "sparse" for f in entry.schema.features)
    parse_batch = batch_size if sparse else max(batch_size, PARSE_BATCH)
    if order_seed is None:
        batches = records.batch(parse_batch)
    else:

        def permute(block, chunk):
            return tf.gather(chunk, _block_order(tf.shape(chunk, tf.int64)[0], order_seed, block))

        batches = records.batch(SHUFFLE_BLOCK).enumerate().map(permute).rebatch(parse_batch)
    ds = batches.map(_parser(entry.schema), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if keep:
        ds = ds.cache()
        entry.pending = ds
        entry.pending_order = order_seed
    if parse_batch != batch_size:
        ds = ds.rebatch(batch_size)
    # a known length lets Keras run many steps per call without "ran out of data" noise
    ds = ds.apply(tf.data.experimental.assert_cardinality(-(-sum(entry.file_rows) // batch_size)))
    return ds.prefetch(tf.data.AUTOTUNE)


def _settle(entry: _Entry) -> None:
    """Turn the last streamed epoch (served from tf.data's cache if it was read to the
    end, otherwise read again) into file-order columns."""
    global parse_count
    tf = tensorflow()
    schema = entry.schema
    with _reading(entry.files):
        batches = list(entry.pending)
    entry.pending = None
    if not batches:
        raise DataError("the split holds no records", where=entry.files[0])
    label = tf.concat([b[1] for b in batches], axis=0)
    rows = int(label.shape[0])
    if rows != sum(entry.file_rows):
        raise DataError(
            f"the split holds {rows} records, the schema says {sum(entry.file_rows)}",
            where=entry.files[0].parent,
            hint="the schema file does not match the records",
        )
    back = tf.argsort(_order(entry, entry.pending_order))  # stream position of each row

    def column(names: list[str]):
        if not names:
            return None
        stacked = tf.stack([tf.concat([b[0][n] for b in batches], axis=0) for n in names], axis=1)
        return tf.gather(stacked, back)

    sparse = {}
    for f in schema.features:
        if f.kind == "sparse":
            merged = tf.sparse.concat(0, [b[0][f.name] for b in batches])
            rowids = merged.indices[:, 0]
            ids = tf.RaggedTensor.from_value_rowids(merged.indices[:, 1], rowids, nrows=rows)
            values = tf.RaggedTensor.from_value_rowids(merged.values, rowids, nrows=rows)
            sparse[f.name] = (tf.gather(ids, back), tf.gather(values, back))
    entry.parsed = ParsedSplit(
        schema=schema,
        numeric=column([f.name for f in schema.features if f.kind == "numeric"]),
        categorical=column([f.name for f in schema.features if f.kind == "categorical"]),
        sparse=sparse,
        label=tf.gather(label, back),
        rows=rows,
    )
    entry.pending_order = None
    parse_count += 1


def _from_memory(parsed: ParsedSplit, batch_size: int, order):
    """Batches from the in-memory columns. Dense columns are put in the epoch's order
    once (one gather per column, per epoch), so a batch is a contiguous slice per
    feature — far cheaper than a gather per batch, which competes with training for the
    same cores. Sparse columns are gathered per batch."""
    tf = tensorflow()
    schema, n = parsed.schema, parsed.rows
    dims = {f.name: f.dimension for f in schema.features if f.kind == "sparse"}
    columns: dict[str, Any] = {}
    for kind, stacked in (("numeric", parsed.numeric), ("categorical", parsed.categorical)):
        names = [f.name for f in schema.features if f.kind == kind]
        if names:
            columns.update(zip(names, tf.unstack(tf.gather(stacked, order), axis=1), strict=True))
    label = tf.gather(parsed.label, order)

    def take(b):
        start = b * batch_size
        end = tf.minimum(start + batch_size, n)
        out = {name: column[start:end] for name, column in columns.items()}
        if parsed.sparse:
            index = order[start:end]
            for name, (ids, values) in parsed.sparse.items():
                out[name] = _to_sparse(tf.gather(ids, index), tf.gather(values, index), dims[name])
        return {f.name: out[f.name] for f in schema.features}, label[start:end]

    return (
        tf.data.Dataset.range(-(-n // batch_size))
        .map(take, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(tf.data.AUTOTUNE)
    )
