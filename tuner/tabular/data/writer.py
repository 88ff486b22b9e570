"""Encoded tables → TFRecord shards of `tf.train.Example` records."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tuner.tabular.data.schema import Label
from tuner.tabular.data.table import Table


def shard_names(split: str, shards: int, compression: str | None) -> list[str]:
    suffix = ".tfrecord.gz" if compression == "GZIP" else ".tfrecord"
    return [f"{split}-{i:05d}-of-{shards:05d}{suffix}" for i in range(shards)]


def write_split(
    table: Table,
    labels: np.ndarray,
    label: Label,
    directory: Path,
    split: str,
    shards: int,
    compression: str | None,
) -> tuple[list[str], list[int]]:
    """Write `table` as `shards` contiguous shards (file order = source order).

    Returns the file names and the number of records in each.
    """
    from tuner.tabular.runtime import tensorflow

    tf = tensorflow()

    shards = max(1, min(shards, table.rows))
    names = shard_names(split, shards, compression)
    bounds = np.linspace(0, table.rows, shards + 1).astype(int)
    options = tf.io.TFRecordOptions(compression_type=compression or "")
    Feature, FloatList, Int64List, BytesList = (
        tf.train.Feature,
        tf.train.FloatList,
        tf.train.Int64List,
        tf.train.BytesList,
    )
    numeric = {k: v.astype(np.float32).tolist() for k, v in table.numeric.items()}
    categorical = {k: [s.encode() for s in v.tolist()] for k, v in table.categorical.items()}
    sparse = {k: (c.indptr.tolist(), c.ids, c.values) for k, c in table.sparse.items()}
    label_values = labels.tolist()
    regression = label.kind == "regression"
    for name, lo, hi in zip(names, bounds[:-1], bounds[1:], strict=True):
        with tf.io.TFRecordWriter(str(directory / name), options) as out:
            for i in range(lo, hi):
                feature = {
                    k: Feature(float_list=FloatList(value=[v[i]])) for k, v in numeric.items()
                }
                for k, v in categorical.items():
                    feature[k] = Feature(bytes_list=BytesList(value=[v[i]]))
                for indptr, ids, values in sparse.values():
                    a, b = indptr[i], indptr[i + 1]
                    feature["ids"] = Feature(int64_list=Int64List(value=ids[a:b]))
                    feature["values"] = Feature(float_list=FloatList(value=values[a:b]))
                feature[label.name] = (
                    Feature(float_list=FloatList(value=[label_values[i]]))
                    if regression
                    else Feature(int64_list=Int64List(value=[label_values[i]]))
                )
                example = tf.train.Example(features=tf.train.Features(feature=feature))
                out.write(example.SerializeToString())
    return names, np.diff(bounds).tolist()
