"""CSV/LIBSVM → TFRecords → reader round trips, splits, shards, atomic output, the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.conftest import write
from tuner.data import reader
from tuner.data.convert import ConvertOptions, convert
from tuner.data.schema import load_schema
from tuner.errors import ConfigError, DataError

CSV = """age,city,score,label
39,Paris,1.5,yes
?,Rome,NA,no
25,,3,yes
51,Oslo,-2.25,no
"""


def values(directory, split="train"):
    """All rows of a split as Python values, in file order."""
    features, labels = {}, []
    for batch, label in reader.dataset(directory, split, batch_size=3, shuffle=False):
        for name, col in batch.items():
            if hasattr(col, "indices"):
                rows = [[] for _ in range(int(col.dense_shape[0]))]
                for (r, i), v in zip(
                    col.indices.numpy().tolist(), col.values.numpy().tolist(), strict=True
                ):
                    rows[r].append((i, v))
                features.setdefault(name, []).extend(rows)
            else:
                features.setdefault(name, []).extend(col.numpy().tolist())
        labels.extend(label.numpy().tolist())
    return features, labels


def test_csv_round_trip_gives_back_exactly_what_was_written(tmp_path):
    out = tmp_path / "ds"
    schema = convert(write(tmp_path / "a.csv", CSV), out, ConvertOptions())
    features, labels = values(out)
    assert (
        features["age"][0] == 39.0
        and math.isnan(features["age"][1])
        and features["age"][2:] == [25.0, 51.0]
    )
    assert features["city"] == [b"Paris", b"Rome", b"", b"Oslo"]
    assert features["score"][0] == 1.5 and math.isnan(features["score"][1])
    assert features["score"][2:] == [3.0, -2.25]
    assert labels == [1, 0, 1, 0] and schema.label.classes == ("no", "yes")
    on_disk = json.loads((out / "schema.json").read_text())
    assert on_disk["rows"] == 4 and on_disk["splits"]["train"]["source_sha256"]
    assert {f["name"]: f["kind"] for f in on_disk["features"]} == {
        "age": "numeric",
        "city": "categorical",
        "score": "numeric",
    }


def test_libsvm_round_trip_sparse(tmp_path):
    out = tmp_path / "ds"
    text = "1 3:1 1:0.5\n0 2:2\n1 7:0.25\n"
    convert(
        write(tmp_path / "t.libsvm", text),
        out,
        ConvertOptions(validation=write(tmp_path / "v.libsvm", "0 2:1\n")),
    )
    features, labels = values(out)
    assert features["features"] == [[(0, 0.5), (2, 1.0)], [(1, 2.0)], [(6, 0.25)]]
    assert labels == [1, 0, 1]
    schema = load_schema(out)
    assert schema.feature("features").dimension == 7
    assert values(out, "validation")[0]["features"] == [[(1, 1.0)]]
    batch, _ = next(iter(reader.dataset(out, batch_size=2, shuffle=False)))
    assert batch["features"].dense_shape.numpy().tolist() == [2, 7]  # a SparseTensor, not dense


def test_split_statistics_come_from_training_rows_only(tmp_path):
    rows = "\n".join(f"{i},{'a' if i < 90 else 'b'},{i % 2}" for i in range(100))
    out = tmp_path / "ds"
    schema = convert(
        write(tmp_path / "s.csv", "x,c,y\n" + rows + "\n"), out, ConvertOptions(split=0.2, seed=7)
    )
    assert (schema.splits["train"].rows, schema.splits["validation"].rows) == (80, 20)
    train_x = values(out)[0]["x"]
    assert schema.feature("x").mean == pytest.approx(np.mean(train_x))
    assert sorted(train_x + values(out, "validation")[0]["x"]) == list(map(float, range(100)))


def test_shards_and_gzip(tmp_path):
    rows = "\n".join(f"{i},{i % 3}" for i in range(50))
    out = tmp_path / "ds"
    schema = convert(
        write(tmp_path / "s.csv", "x,y\n" + rows + "\n"),
        out,
        ConvertOptions(shards=4, compression="GZIP"),
    )
    files = schema.splits["train"].files
    assert len(files) == 4 and all(f.endswith(".tfrecord.gz") for f in files)
    assert sum(schema.splits["train"].file_rows) == 50
    assert values(out)[0]["x"] == list(map(float, range(50)))  # file order kept


def test_bad_input_leaves_nothing_behind(tmp_path):
    src = write(tmp_path / "a.csv", CSV)
    bad = write(tmp_path / "v.csv", "age,city,score,label\n1,x,2,maybe\n")
    with pytest.raises(DataError, match=r"v\.csv:2: label 'label': 'maybe'"):
        convert(src, tmp_path / "ds", ConvertOptions(validation=bad))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "v.csv"]


def test_existing_output_needs_force(tmp_path):
    src = write(tmp_path / "a.csv", CSV)
    convert(src, tmp_path / "ds", ConvertOptions())
    with pytest.raises(ConfigError, match=r"already exists.*--force"):
        convert(src, tmp_path / "ds", ConvertOptions())
    convert(src, tmp_path / "ds", ConvertOptions(force=True, shards=2))
    assert len(load_schema(tmp_path / "ds").splits["train"].files) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "ds"]


def test_cli_convert_and_inspect(cli, tmp_path):
    src = write(tmp_path / "a.csv", CSV)
    code, out, err = cli(
        "data", "convert", src, "--out", tmp_path / "ds", "--label", "label", "--categorical", "age"
    )
    assert code == 0, err
    assert "train 4 rows; 3 features (1 categorical, 1 numeric" in out or "3 features" in out
    code, out, _ = cli("data", "inspect", tmp_path / "ds", "--json", "--head", "2")
    info = json.loads(out)
    assert info["rows"] == {"train": 4} and len(info["head"]) == 2
    assert info["schema"]["features"][0] == {
        "name": "age",
        "kind": "categorical",
        "vocabulary": ["25", "39", "51"],
        "missing": 1,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv"], r"missing\.csv: no such file"),
        (["empty.csv"], r"empty\.csv: the file is empty"),
        (["a.txt"], r"cannot tell the format from the extension '\.txt'"),
        (["a.csv", "--label", "nope"], r"label column 'nope' does not exist"),
        (["a.csv", "--split", "1.5"], r"--split 1\.5: expected a fraction"),
        (["a.csv", "--label-map", "oops"], r"--label-map 'oops': expected OLD=NEW"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a.csv", CSV)
    write(tmp_path / "a.txt", CSV)
    write(tmp_path / "empty.csv", "")
    code, _, err = cli("data", "convert", *args, "--out", "ds")
    assert code == 2
    assert err.startswith("tune: error: ") and err.count("\n") == 1, err
    assert __import__("re").search(message, err), err
    assert not (tmp_path / "ds").exists()
