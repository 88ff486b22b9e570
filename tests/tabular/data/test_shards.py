"""Whole-shard reads: the bulk path gives exactly TFRecordDataset's records, and anything
it cannot vouch for goes through TFRecordDataset's checked read."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import write
from tuner.tabular.data import reader, shards
from tuner.tabular.data.convert import ConvertOptions, convert


def checked(path, compression=None):
    return [r.numpy() for r in shards._checked(path, compression)]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shards")
    rows = "\n".join(f"{i},{'ab'[i % 2] * (i % 7)},{i % 2}" for i in range(300))
    out = tmp / "ds"
    convert(write(tmp / "s.csv", "x,c,y\n" + rows + "\n"), out, ConvertOptions(shards=2))
    return out


def shard_and_fingerprint(directory, i=0):
    split = json.loads((directory / "schema.json").read_text())["splits"]["train"]
    return directory / split["files"][i], split["fingerprints"][i]


def test_convert_records_each_shards_fingerprint(converted):
    for i in range(2):
        path, recorded = shard_and_fingerprint(converted, i)
        assert recorded == shards.fingerprint(path)


def test_bulk_read_gives_exactly_the_records(converted, monkeypatch):
    path, fingerprint = shard_and_fingerprint(converted)
    expected = checked(path)
    monkeypatch.setattr(shards, "_checked", lambda *a: pytest.fail("took the checked read"))
    bulk = shards.read_records(path, fingerprint, None)
    assert list(bulk.numpy()) == expected
    assert len(expected) == 150


def test_without_a_matching_fingerprint_every_crc_is_checked(converted, tmp_path, monkeypatch):
    path, fingerprint = shard_and_fingerprint(converted)
    other, _ = shard_and_fingerprint(converted, 1)
    expected, expected_other = checked(path), checked(other)
    calls = []
    real = shards._checked
    monkeypatch.setattr(shards, "_checked", lambda *a: calls.append(a) or real(*a))
    # no fingerprint recorded (a data set from before fingerprints)
    assert list(shards.read_records(path, None, None).numpy()) == expected
    # a shard replaced by other valid records: the fingerprint no longer matches
    assert list(shards.read_records(other, fingerprint, None).numpy()) == expected_other
    assert len(calls) == 2


def test_framing_that_does_not_add_up():
    record = (3).to_bytes(8, "little") + b"\0" * 4 + b"abc" + b"\0" * 4
    starts, lengths = shards._frame(record * 2)
    assert starts.tolist() == [12, 31] and lengths.tolist() == [3, 3]
    assert shards._frame(record * 2 + b"x") is None
    assert shards._frame(record[:-1]) is None
    assert shards._frame(b"")[0].tolist() == []


def test_gzip_shards_read_the_same(tmp_path):
    rows = "\n".join(f"{i},{i % 2}" for i in range(100))
    source = write(tmp_path / "s.csv", "x,y\n" + rows + "\n")
    plain, gz = tmp_path / "plain", tmp_path / "gz"
    convert(source, plain, ConvertOptions())
    convert(source, gz, ConvertOptions(compression="GZIP"))
    reader.clear_cache()
    a = reader.load_split(plain)
    b = reader.load_split(gz)
    np.testing.assert_array_equal(a.dense["x"].numpy(), b.dense["x"].numpy())
    np.testing.assert_array_equal(a.label.numpy(), b.label.numpy())


def test_a_data_set_without_fingerprints_reads_the_same(converted, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(converted, old)
    schema = json.loads((old / "schema.json").read_text())
    del schema["splits"]["train"]["fingerprints"]
    (old / "schema.json").write_text(json.dumps(schema))
    reader.clear_cache()
    new_x = np.concatenate([f["c"].numpy() for f, _ in reader.dataset(converted, seed=2)])
    old_x = np.concatenate([f["c"].numpy() for f, _ in reader.dataset(old, seed=2)])
    np.testing.assert_array_equal(new_x, old_x)


def test_a_fingerprint_list_that_does_not_match_the_files(converted, tmp_path):
    import shutil

    from tuner.errors import DataError
    from tuner.tabular.data.schema import load_schema

    bad = tmp_path / "bad"
    shutil.copytree(converted, bad)
    schema = json.loads((bad / "schema.json").read_text())
    schema["splits"]["train"]["fingerprints"].pop()
    (bad / "schema.json").write_text(json.dumps(schema))
    with pytest.raises(DataError, match=r"schema\.json: split 'train': one fingerprint per file"):
        load_schema(bad)
