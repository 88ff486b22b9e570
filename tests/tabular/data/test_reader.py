"""The reader: shuffling by (seed, epoch), one parse per process, streaming, located errors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import write
from tuner.errors import DataError
from tuner.tabular.data import reader
from tuner.tabular.data.convert import ConvertOptions, convert


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reader")
    rows = "\n".join(f"{i},{'abc'[i % 3]},{i % 2}" for i in range(500))
    out = tmp / "ds"
    convert(write(tmp / "s.csv", "x,c,y\n" + rows + "\n"), out, ConvertOptions(shards=3))
    return out


def order(directory, **kwargs):
    return np.concatenate(
        [f["x"].numpy() for f, _ in reader.dataset(directory, batch_size=64, **kwargs)]
    )


def test_streamed_and_in_memory_epochs_give_the_same_order(dataset, monkeypatch):
    monkeypatch.setattr(reader, "SHUFFLE_BLOCK", 100)  # several blocks, batches across them
    monkeypatch.setattr(reader, "INTERLEAVE_BLOCK", 16)  # shards interleaved in many blocks
    monkeypatch.setattr(reader, "PARSE_CHUNK", 64)  # a shard parsed in several calls
    reader.clear_cache()
    streamed = [order(dataset, seed=3, epoch=e, cache=False) for e in range(2)]
    warm = [order(dataset, seed=3, epoch=e) for e in range(2)]
    reader.clear_cache()
    resumed = order(dataset, seed=3, epoch=1)  # a new process resuming at epoch 1
    np.testing.assert_array_equal(streamed[0], warm[0])
    np.testing.assert_array_equal(streamed[1], warm[1])
    np.testing.assert_array_equal(resumed, warm[1])
    assert not np.array_equal(warm[0], warm[1])
    assert sorted(warm[1].tolist()) == list(map(float, range(500)))
    assert not np.array_equal(order(dataset, seed=4, epoch=1), warm[1])


def test_in_memory_batches_have_a_known_count_and_a_short_last_batch(dataset):
    reader.clear_cache()
    ds = reader.dataset(dataset, batch_size=64, seed=0)
    assert int(ds.cardinality()) == 8  # 500 rows: 7 × 64 + 52
    sizes = [int(label.shape[0]) for _, label in ds]
    assert sizes == [64] * 7 + [52]
    exact = reader.dataset(dataset, batch_size=100, seed=0)
    assert [int(label.shape[0]) for _, label in exact] == [100] * 5


def test_sparse_batches_from_memory_match_the_stream(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "PARSE_CHUNK", 20)
    text = "".join(f"{i % 2} {i % 5 + 1}:{i} {i % 3 + 6}:1\n" for i in range(90))
    out = tmp_path / "ds"
    convert(write(tmp_path / "t.libsvm", text), out, ConvertOptions(shards=2))
    reader.clear_cache()

    def batches(**kwargs):
        return [
            (tf_dense(f["features"]), y.numpy())
            for f, y in reader.dataset(out, batch_size=32, seed=5, epoch=1, **kwargs)
        ]

    memory, streamed = batches(), batches(cache=False)
    assert [len(y) for _, y in memory] == [32, 32, 26]
    for (a, ya), (b, yb) in zip(memory, streamed, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ya, yb)


def tf_dense(sparse):
    from tuner.tabular.runtime import tensorflow

    return tensorflow().sparse.to_dense(sparse).numpy()


def test_trials_in_one_process_parse_a_data_set_once(dataset):
    reader.clear_cache()
    before = reader.parse_count
    for trial in range(3):  # three "trials", two epochs each
        for epoch in range(2):
            order(dataset, seed=trial, epoch=epoch)
    assert reader.parse_count - before == 1


def test_unshuffled_is_file_order_and_streaming_matches(dataset):
    np.testing.assert_array_equal(order(dataset, shuffle=False), np.arange(500, dtype=np.float32))
    streamed = order(dataset, seed=1, epoch=2, cache=False)
    np.testing.assert_array_equal(streamed, order(dataset, seed=1, epoch=2))


def test_corrupt_tfrecord_is_located(tmp_path):
    rows = "\n".join(f"{i},{i % 2}" for i in range(200))
    out = tmp_path / "ds"
    convert(write(tmp_path / "s.csv", "x,y\n" + rows + "\n"), out, ConvertOptions())
    shard = out / "train-00000-of-00001.tfrecord"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with (
        pytest.raises(
            DataError,
            match=r"train-00000-of-00001\.tfrecord: TFRecord corrupt \(CRC mismatch\) at byte \d+",
        ),
        reader.reading(out),
    ):
        list(reader.dataset(out, batch_size=50))
    shard.write_bytes(bytes(data[: len(data) // 3]))
    reader.clear_cache()
    with pytest.raises(DataError, match=r"TFRecord truncated at byte \d+"):
        reader.load_split(out)


def test_schema_that_does_not_match_the_records(tmp_path):
    out = tmp_path / "ds"
    convert(write(tmp_path / "s.csv", "x,y\n1,0\n2,1\n"), out, ConvertOptions())
    schema = out / "schema.json"
    schema.write_text(schema.read_text().replace('"name": "x"', '"name": "z"'))
    reader.clear_cache()
    with pytest.raises(DataError, match=r"record 0 has no feature 'z'.*schema file does not match"):
        reader.dataset(out)
    (out / "schema.json").write_text('{\n  "format_version": 1\n}')
    with pytest.raises(
        DataError, match=r"schema\.json: key '\(top level\)': 'source_format' is a required"
    ):
        reader.dataset(out)


def test_parse_features_gives_raw_features_without_the_label(tmp_path):
    """What `tune predict` uses on a bare TFRecord file: sparse as SparseTensor, no label."""
    from tuner.tabular.runtime import tensorflow

    tf = tensorflow()
    out = tmp_path / "ds"
    convert(write(tmp_path / "t.libsvm", "1 3:1 1:0.5\n0 2:2\n"), out, ConvertOptions())
    schema = reader.load_schema(out)
    spec = reader.parse_spec(schema)
    spec.pop(schema.label.name)
    records = tf.data.TFRecordDataset(str(out / schema.splits["train"].files[0])).batch(8)
    features = reader.parse_features(schema, spec)(next(iter(records)))
    assert list(features) == ["features"]
    assert tf.sparse.to_dense(features["features"]).numpy().tolist() == [
        [0.5, 0, 1],
        [0, 2, 0],
    ]
