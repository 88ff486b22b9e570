"""The one reader: a converted data set and a split → `tf.data.Dataset` of raw features.

Records are parsed many at a time (`parse_example` on a batch), never one by one. A split
that fits the memory budget is loaded once per process — every shard read whole
(shards.py), parsed, kept as columns keyed by the data set — so every epoch and every
later trial in the same worker process cuts shuffled batches from memory without reading
or parsing again. Splits too large for memory are streamed each epoch: shards
interleaved, records shuffled in blocks seeded from (seed, epoch), batch, parse,
prefetch. Both give the same order, which depends on (seed, epoch) alone, so a resumed
trial sees the same batches as an uninterrupted one.

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

from tuner.errors import DataError
from tuner.tabular.data.records import check_matches_schema, compression_of, count_records, located
from tuner.tabular.data.schema import Schema, load_schema
from tuner.tabular.data.shards import read_records
from tuner.tabular.runtime import tensorflow

PARSE_BATCH = 1024  # records parsed per call when streaming
PARSE_CHUNK = 1 << 17  # records parsed per call when loading a split into memory
INTERLEAVE_BLOCK = 256  # records taken from one shard before moving to the next
SHUFFLE_BLOCK = 65_536  # records shuffled together; a smaller split is shuffled uniformly
CYCLE_LENGTH = 8  # shards read at once
# Splits whose shards exceed this many bytes on disk are never cached in memory.
MEMORY_BUDGET = int(os.environ.get("TUNER_DATA_CACHE_BYTES", 2 << 30))


@dataclass
class ParsedSplit:
    """A whole split parsed, in file order, one tensor per feature."""

    schema: Schema
    dense: dict[str, Any]  # name → Tensor [rows]: float32 numbers, string categories
    sparse: dict[str, tuple[Any, Any]]  # name → (ids, values) RaggedTensors [rows, None]
    label: Any
    rows: int

    def columns(self) -> dict[str, Any]:
        """name → the whole column: Tensor [rows], or (ids, values) RaggedTensors."""
        columns = {**self.dense, **self.sparse}
        return {f.name: columns[f.name] for f in self.schema.features}


@dataclass
class _Entry:
    """What this process knows of one split: its files and, once loaded, its columns."""

    schema: Schema
    files: list[Path]
    file_rows: list[int]
    fingerprints: list[str | None]
    parsed: ParsedSplit | None = None
    read_order: Any = None  # file-order row numbers in interleaved read order
    checked: bool = False  # the first record of every shard matched the schema


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
            ids_key, values_key = f.sparse_keys
            spec[ids_key] = tf.io.RaggedFeature(tf.int64)
            spec[values_key] = tf.io.RaggedFeature(tf.float32)
    label_dtype = tf.float32 if schema.label.kind == "regression" else tf.int64
    spec[schema.label.name] = tf.io.FixedLenFeature([], label_dtype)
    return spec


def _parser(
    schema: Schema, spec: dict[str, Any] | None = None
) -> Callable[[Any], tuple[dict[str, Any], Any]]:
    """serialized [batch] → (raw features, label or None when `spec` has none), sparse
    features as ragged (ids, values)."""
    spec = spec or parse_spec(schema)
    tf = tensorflow()

    def parse(serialized):
        parsed = tf.io.parse_example(serialized, spec)
        features = {
            f.name: (parsed[f.ids_key], parsed[f.values_key])
            if f.kind == "sparse"
            else parsed[f.name]
            for f in schema.features
        }
        return features, parsed.get(schema.label.name)

    return parse


def parse_features(schema: Schema, spec: dict[str, Any]) -> Callable[..., Any]:
    """serialized [batch] → raw features, sparse ones as SparseTensors (for prediction)."""
    parse = _parser(schema, spec)
    return lambda serialized: _sparse_out(schema, *parse(serialized))[0]


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
        info = schema.splits[split]
        files = [directory / f for f in info.files]
        fingerprints = list(info.fingerprints or [None] * len(files))
        _entries[key] = _Entry(schema, files, list(info.file_rows), fingerprints)
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
    as: the shards interleaved INTERLEAVE_BLOCK records at a time, cut into blocks of
    SHUFFLE_BLOCK records, each block permuted by a stateless shuffle seeded from
    (seed, epoch, block). A split held in memory applies that permutation to its columns;
    a split streamed from disk produces exactly the same order. Either way a trial
    resumed in a new process continues the uninterrupted trajectory.
    `cache=None` holds the split in memory when its files fit TUNER_DATA_CACHE_BYTES.
    """
    if batch_size < 1:
        raise DataError(f"batch_size {batch_size}: expected 1 or more")
    directory = Path(directory).absolute()
    with _lock:
        entry = _entry(directory, split)
        if cache is None:
            cache = sum(p.stat().st_size for p in entry.files) <= MEMORY_BUDGET
        order_seed = _shuffle_seed(seed, epoch) if shuffle else None
        if cache:
            return _from_memory(_load(entry), batch_size, _order(entry, order_seed))
        return _stream(entry, batch_size, order_seed)


@contextlib.contextmanager
def reading(directory: str | Path, split: str = "train") -> Iterator[None]:
    """Wrap the consumer of `dataset(...)`: a corrupt or truncated shard met while
    streaming becomes a `DataError` that names the file and byte offset."""
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
        return _load(_entry(directory, split))


def _load(entry: _Entry) -> ParsedSplit:
    """Read every shard whole, parse it in large batches, keep the file-order columns."""
    global parse_count
    if entry.parsed is not None:
        return entry.parsed
    tf = tensorflow()
    schema = entry.schema
    parse = _parser(schema)
    batches = []
    for path, fingerprint in zip(entry.files, entry.fingerprints, strict=True):
        with located(path):  # a corrupt shard: an error naming it and the byte
            records = read_records(path, fingerprint, schema.compression)
            count = int(records.shape[0])
            if count:
                check_matches_schema(schema, path, records[0].numpy())
            if count <= PARSE_CHUNK:  # a slice would copy every record
                batches.append(parse(records))
            else:
                batches += [
                    parse(records[start : start + PARSE_CHUNK])
                    for start in range(0, count, PARSE_CHUNK)
                ]
    rows = sum(int(label.shape[0]) for _, label in batches)
    if rows != sum(entry.file_rows):
        raise DataError(
            f"the split holds {rows} records, the schema says {sum(entry.file_rows)}",
            where=entry.files[0].parent,
            hint="the schema file does not match the records",
        )
    if not rows:
        raise DataError("the split holds no records", where=entry.files[0])

    def joined(pieces: list[Any]) -> Any:
        return tf.concat(pieces, axis=0) if len(pieces) > 1 else pieces[0]

    def column(name: str, part: int | None = None):
        return joined([b[0][name] if part is None else b[0][name][part] for b in batches])

    entry.parsed = ParsedSplit(
        schema=schema,
        dense={f.name: column(f.name) for f in schema.features if f.kind != "sparse"},
        sparse={
            f.name: (column(f.name, 0), column(f.name, 1))
            for f in schema.features
            if f.kind == "sparse"
        },
        label=joined([label for _, label in batches]),
        rows=rows,
    )
    parse_count += 1
    return entry.parsed


def _interleaved(shards, count: int, open_shard):
    """Shards interleaved a block of records at a time, deterministically. Blocks, not
    records: handing single records between threads costs more than reading them."""
    tf = tensorflow()
    parallel = {"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": True} if count > 1 else {}
    return tf.data.Dataset.from_tensor_slices(shards).interleave(
        lambda *shard: open_shard(*shard).batch(INTERLEAVE_BLOCK),
        cycle_length=min(count, CYCLE_LENGTH),
        **parallel,
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
            entry.read_order = tf.concat(list(replay), axis=0)
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


def _stream(entry: _Entry, batch_size: int, order_seed: int | None):
    """Read → shuffle blocks → batch → parse, for a split too big for memory."""
    tf = tensorflow()
    if not entry.checked:
        for path in entry.files:
            check_matches_schema(entry.schema, path)
        entry.checked = True
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

        batches = records.rebatch(SHUFFLE_BLOCK).enumerate().map(permute).rebatch(parse_batch)
    parse = _parser(entry.schema)
    ds = batches.map(
        lambda serialized: _sparse_out(entry.schema, *parse(serialized)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if parse_batch != batch_size:
        ds = ds.rebatch(batch_size)
    # a known length lets Keras run many steps per call without "ran out of data" noise
    ds = ds.apply(tf.data.experimental.assert_cardinality(-(-sum(entry.file_rows) // batch_size)))
    return ds.prefetch(tf.data.AUTOTUNE)


def _sparse_out(schema: Schema, features: dict[str, Any], label):
    """Parsed ragged (ids, values) → the SparseTensor [batch, dimension] models take."""
    out = dict(features)
    for f in schema.features:
        if f.kind == "sparse":
            ids, values = features[f.name]
            out[f.name] = _to_sparse(ids, values, f.sparse_dimension)
    return out, label


def _from_memory(parsed: ParsedSplit, batch_size: int, order):
    """Batches from the in-memory columns. Each dense column is gathered once per epoch
    straight into a [batches, batch_size] block (plus the short last batch), so a batch
    costs one slice per feature — far less than a gather per batch, which competes with
    training for the same cores. (Gathering in chunks on tf.data's threads instead, to
    overlap it with training, measured slower: per-element costs of `unbatch` and
    `flat_map` outweigh the gathers.) Sparse columns are gathered per batch."""
    tf = tensorflow()
    schema, n = parsed.schema, parsed.rows
    full = n - n % batch_size
    head, tail = tf.reshape(order[:full], [full // batch_size, batch_size]), order[full:]
    columns = {**parsed.dense, "": parsed.label}

    def batches(rows):
        gathered = {k: tf.gather(v, rows) for k, v in columns.items()}
        label = gathered.pop("")
        return (gathered, label, rows) if parsed.sparse else (gathered, label)

    ds = tf.data.Dataset.from_tensor_slices(batches(head))
    if full < n:
        ds = ds.concatenate(tf.data.Dataset.from_tensors(batches(tail)))
    if parsed.sparse:
        dims = {f.name: f.sparse_dimension for f in schema.features if f.kind == "sparse"}

        def with_sparse(features, label, rows):
            for name, (ids, values) in parsed.sparse.items():
                features[name] = _to_sparse(
                    tf.gather(ids, rows), tf.gather(values, rows), dims[name]
                )
            return {f.name: features[f.name] for f in schema.features}, label

        ds = ds.map(with_sparse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.prefetch(tf.data.AUTOTUNE)
    # Slices of in-memory tensors: nothing to prefetch, tune or rewrite, and tf.data's
    # autotuning and default rewrites cost ~40 % of each batch here (bench/data_reader.py).
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    return ds.with_options(options)
