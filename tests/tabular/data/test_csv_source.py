"""CSV parsing rules: kinds, missing values, labels, and located errors. No TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import write
from tuner.errors import DataError
from tuner.tabular.data.csv_source import read_csv
from tuner.tabular.data.table import derive_features, derive_label, encode_labels

CSV = """age, city, score, label
 39, Paris , 1.5, yes
 ?, Rome, NA, no
 25, , 3, yes
"""


def test_kinds_missing_values_and_whitespace(tmp_path):
    table = read_csv(write(tmp_path / "a.csv", CSV), label="label")
    assert table.order == ["age", "city", "score"]
    np.testing.assert_array_equal(table.numeric["age"], [39.0, np.nan, 25.0])
    assert table.categorical["city"].tolist() == ["Paris", "Rome", ""]
    np.testing.assert_array_equal(table.numeric["score"], [1.5, np.nan, 3.0])
    assert table.lines.tolist() == [2, 3, 4]


def test_overrides_and_columns_without_header(tmp_path):
    path = write(tmp_path / "n.csv", "1,2,0\n3,4,1\n")
    table = read_csv(path, columns=["zip", "x", "y"], categorical=["zip"])
    assert table.categorical["zip"].tolist() == ["1", "3"]
    assert table.label_name == "y"  # the last column by default


def test_statistics_and_vocabulary(tmp_path):
    table = read_csv(write(tmp_path / "a.csv", CSV), label="label")
    age, city, _ = derive_features(table)
    assert (age.mean, age.min, age.max, age.missing) == (32.0, 25.0, 39.0, 1)
    assert city.vocabulary == ("Paris", "Rome") and city.missing == 1


def test_label_classes_and_trailing_period(tmp_path):
    train = read_csv(write(tmp_path / "t.csv", "x,y\n1,<=50K\n2,>50K\n"))
    label = derive_label(train, None)
    assert (label.kind, label.classes) == ("binary", ("<=50K", ">50K"))
    test = read_csv(write(tmp_path / "v.csv", "x,y\n1,>50K.\n2,<=50K.\n"), kinds={"x": "numeric"})
    assert encode_labels(test, label).tolist() == [1, 0]


def test_unknown_label_value_names_row_and_suggests_label_map(tmp_path):
    train = read_csv(write(tmp_path / "t.csv", "x,y\n1,a\n2,b\n"))
    label = derive_label(train, None)
    test = read_csv(write(tmp_path / "v.csv", "x,y\n1,a\n2,c\n"), kinds={"x": "numeric"})
    with pytest.raises(DataError, match=r"v\.csv:3: label 'y': 'c' is not one of .*--label-map"):
        encode_labels(test, label)


def test_label_map(tmp_path):
    table = read_csv(
        write(tmp_path / "t.csv", "x,y\n1,pos\n2,neg\n"), label_map={"pos": "1", "neg": "0"}
    )
    assert derive_label(table, None).classes == ("0", "1")


def test_numeric_label_kinds(tmp_path):
    reg = read_csv(write(tmp_path / "r.csv", "x,y\n1,0.5\n2,1.5\n3,7\n"))
    assert derive_label(reg, None).kind == "regression"
    multi = read_csv(write(tmp_path / "m.csv", "x,y\n1,a\n2,b\n3,c\n"))
    assert derive_label(multi, None).classes == ("a", "b", "c")


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("a,b\n1,2\n3\n", {}, r"bad\.csv:3: expected 2 fields, found 1"),
        (
            "a,label\n1,x\n",
            {"label": "lable"},
            r"label column 'lable' does not exist.*did you mean 'label'",
        ),
        (
            "a,b,c\n1,2,x\nq,4,y\n",
            {"numeric": ["a"]},
            r"bad\.csv:3: column 'a': 'q' is not a number",
        ),
        ("a,b\n1,?\n", {}, r"bad\.csv:2: label 'b' is missing"),
        ("a,b\n", {}, r"no data rows"),
        ("\n\n", {}, r"only blank lines"),
        ("a,b\n1,x\n", {"categorical": ["zz"]}, r"column 'zz' does not exist"),
        ("a,b,c\n1,2,x\ninf,4,y\n", {}, r"bad\.csv:3: column 'a': 'inf' is not a finite number"),
        ("a,b\n1,x\n-Infinity,y\n", {}, r"bad\.csv:3: column 'a': '-Infinity' is not a finite"),
        ("a,b\n1e39,x\n", {}, r"bad\.csv:2: column 'a': '1e39' is beyond the 32-bit float"),
        ("a,,c\n1,2,x\n", {}, r"bad\.csv:1: column 2 has no name.*--columns"),
        ("a,c\n1,x\n", {"columns": ["a", ""]}, r"bad\.csv: column 2 has no name"),
    ],
)
def test_bad_csv(tmp_path, text, kwargs, message):
    with pytest.raises(DataError, match=message):
        read_csv(write(tmp_path / "bad.csv", text), **kwargs)


def test_missing_and_empty_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        read_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match=r"empty\.csv: the file is empty"):
        read_csv(write(tmp_path / "empty.csv", ""))


def test_validation_value_not_numeric_in_training_numeric_column(tmp_path):
    with pytest.raises(DataError, match=r"v\.csv:3: column 'x': 'abc' is not a number"):
        read_csv(write(tmp_path / "v.csv", "x,y\n1,a\nabc,b\n"), kinds={"x": "numeric"})


def test_infinity_in_a_categorical_column_is_text_and_nan_spellings_are_missing(tmp_path):
    table = read_csv(write(tmp_path / "a.csv", "a,b,c\ninf,NAN,x\nhigh,1,y\n"))
    assert table.categorical["a"].tolist() == ["inf", "high"]
    np.testing.assert_array_equal(table.numeric["b"], [np.nan, 1.0])
    forced = read_csv(write(tmp_path / "f.csv", "a,c\ninf,x\n2,y\n"), categorical=["a"])
    assert forced.categorical["a"].tolist() == ["inf", "2"]


def test_a_thousand_columns_stay_a_short_line(tmp_path):
    header = ",".join(f"column_{i}" for i in range(1000))
    path = write(tmp_path / "wide.csv", header + "\n" + ",".join(["1"] * 1000) + "\n")
    with pytest.raises(DataError) as missing:
        read_csv(path, label="nope")
    assert len(str(missing.value)) < 250 and "the 1000 columns are column_0" in str(missing.value)
    kinds = {f"column_{i}": "numeric" for i in range(999)} | {"other": "numeric"}
    with pytest.raises(DataError) as extra:
        read_csv(
            path, label="column_999", kinds={k: v for k, v in kinds.items() if k != "column_5"}
        )
    assert len(str(extra.value)) < 250, str(extra.value)
