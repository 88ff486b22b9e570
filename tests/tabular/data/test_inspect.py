"""`tune data inspect` on converted data sets and on schema-less TFRecords (TF 1.x files)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import write


def test_tf1_cancer_records(cli, shared_data):
    for name, rows in (("cancer_train.csv.tfrecords", 497), ("cancer_test.csv.tfrecords", 151)):
        code, out, err = cli("data", "inspect", shared_data / "cancer" / name, "--json")
        assert code == 0, err
        info = json.loads(out)
        assert info["rows"] == rows
        assert info["features"]["features"]["dtype"] == "float32"
        assert info["features"]["features"]["length"] == 9
        assert info["features"]["label"]["dtype"] == "int64"
        assert info["features"]["label"]["length"] == 1


def test_tf1_a8a_records(cli, shared_data):
    for name, rows in (
        ("a8a_train.libsvm.tfrecords", 22_696),
        ("a8a_test.libsvm.tfrecords", 9_865),
    ):
        code, out, _ = cli("data", "inspect", shared_data / "a8a" / name, "--json", "--head", "1")
        info = json.loads(out)
        assert code == 0 and info["rows"] == rows
        feats = info["features"]
        assert (feats["ids"]["dtype"], feats["ids"]["length"]) == ("int64", None)
        assert (feats["values"]["dtype"], feats["label"]["dtype"]) == ("float32", "int64")
        assert len(info["head"][0]["ids"]) == len(info["head"][0]["values"])


def test_adult_converts_with_its_test_file(cli, adult):
    code, out, _ = cli("data", "inspect", adult, "--json")
    info = json.loads(out)
    assert code == 0
    assert info["rows"] == {"train": 32_561, "validation": 16_281}
    schema = info["schema"]
    kinds = [f["kind"] for f in schema["features"]]
    assert (kinds.count("categorical"), kinds.count("numeric")) == (8, 6)
    assert schema["label"] == {"name": "ltgt50k", "kind": "binary", "classes": ["<=50K", ">50K"]}
    code, text, _ = cli("data", "inspect", adult)
    assert "features  14 (6 numeric, 8 categorical)" in text and "validation     16,281" in text


def test_a8a_converts_with_dimension_123_in_both(cli, shared_data, tmp_path):
    a8a = shared_data / "a8a"
    code, _, err = cli(
        "data",
        "convert",
        a8a / "a8a_train.libsvm",
        "--validation",
        a8a / "a8a_test.libsvm",
        "--out",
        tmp_path / "a8a",
    )
    assert code == 0, err
    info = json.loads(cli("data", "inspect", tmp_path / "a8a", "--json")[1])
    assert info["rows"] == {"train": 22_696, "validation": 9_865}
    assert info["schema"]["features"][0]["dimension"] == 123
    from tuner.tabular.data import reader

    for split in ("train", "validation"):
        batch, _ = next(iter(reader.dataset(tmp_path / "a8a", split, batch_size=8)))
        assert batch["features"].dense_shape.numpy().tolist() == [8, 123]


def test_corrupt_and_empty_files(cli, tmp_path, shared_data):
    data = (shared_data / "cancer" / "cancer_test.csv.tfrecords").read_bytes()
    bad = tmp_path / "bad.tfrecords"
    bad.write_bytes(data[:500] + bytes([data[500] ^ 0xFF]) + data[501:])
    code, _, err = cli("data", "inspect", bad)
    assert code == 2 and f"{bad}: TFRecord corrupt (CRC mismatch) at byte" in err
    bad.write_bytes(data[:1000])
    code, _, err = cli("data", "inspect", bad)
    assert code == 2 and "TFRecord truncated at byte" in err
    code, _, err = cli("data", "inspect", write(tmp_path / "empty.tfrecord", ""))
    assert code == 2 and "the file is empty" in err


@pytest.mark.parametrize("what", ["missing", "emptydir"])
def test_nothing_to_inspect(cli, tmp_path, what):
    (tmp_path / "emptydir").mkdir()
    code, _, err = cli("data", "inspect", tmp_path / what)
    assert code == 2 and err.count("\n") == 1
    assert ("no such file or directory" if what == "missing" else "no TFRecord files here") in err


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("a.csv", b"age,city,label\n39,Paris,yes\n25,Rome,no\n"),
        ("a.csv.gz", __import__("gzip").compress(b"age,city,label\n39,Paris,yes\n", mtime=0)),
        ("tiny.tfrecord", b"ab"),
        ("model.keras", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(200)),
    ],
    ids=["csv", "gzip", "tfrecord", "keras"],  # (the same on every xdist worker)
)
def test_a_file_that_is_no_tfrecord_file_says_so(cli, tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    code, _, err = cli("data", "inspect", path)
    assert code == 2 and err.count("\n") == 1, err
    assert f"{path}: not a TFRecord file" in err and "tune data convert" in err, err
    assert "CRC" not in err
    if name == "a.csv":
        assert "it starts with the text 'age,city,lab'" in err
