"""Label inference as users of scikit-learn, AutoGluon and pandas expect it, and label
errors that stay one short line however many classes there are. No TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest

from tuner.errors import DataError
from tuner.tabular.data.schema import Label
from tuner.tabular.data.table import (
    Table,
    class_limit,
    derive_label,
    describe_label,
    encode_labels,
    few,
)


def table(labels, name="y") -> Table:
    return Table(source="t.csv", label_name=name, labels=np.array(labels, dtype=object))


@pytest.mark.parametrize(
    ("labels", "kind", "classes"),
    [
        (["yes", "no"] * 5, "binary", ("no", "yes")),
        (["a", "b", "c"] * 4, "multiclass", ("a", "b", "c")),
        (["0.5", "1.5"] * 3, "binary", ("0.5", "1.5")),  # two numbers: binary
        (["-1", "+1"] * 3, "binary", ("-1", "1")),  # LIBSVM's labels
        ([str(i % 3) for i in range(178)], "multiclass", ("0", "1", "2")),  # wine
        ([f"{i % 3 + 1}.0" for i in range(60)], "multiclass", ("1", "2", "3")),  # 2.0 is 2
        (["10", "9", "100"] * 10, "multiclass", ("9", "10", "100")),  # sorted by value
        ([str(i % 25) for i in range(1000)], "regression", None),  # above 20 classes
        ([str(i % 4) for i in range(20)], "regression", None),  # 4 values in 20 rows: > 2
        ([str(i % 3 + 0.5) for i in range(300)], "regression", None),  # not integers
        (["0", "1.0", "1", "0.0"], "binary", ("0", "1")),  # one class, two spellings
    ],
)
def test_inferred_kind(labels, kind, classes):
    label = derive_label(table(labels), None)
    assert (label.kind, label.classes) == (kind, classes)


def test_the_class_limit_grows_with_rows_up_to_20():
    assert [class_limit(n) for n in (3, 20, 50, 178, 200, 10_000)] == [2, 2, 5, 17, 20, 20]


def test_task_overrides_the_inference():
    wine = table([str(i % 3) for i in range(178)])
    assert derive_label(wine, "regression").kind == "regression"
    many = table([str(i % 25) for i in range(1000)])
    assert len(derive_label(many, "multiclass").classes) == 25


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["1"] * 5, r"t\.csv: label 'y' has the single value '1' in every training row"),
        (["cat"] * 5, r"label 'y' has the single value 'cat'"),
        (["1", "1.0"], r"label 'y' has the single value '1'"),
        (["1", "2", "inf", "3"], r"t\.csv:3: label 'y': 'inf' is not a finite number"),
        (["1", "-Infinity"], r"t\.csv:2: label 'y': '-Infinity' is not a finite number"),
        (["1", "2", "1e39"], r"t\.csv:3: label 'y': '1e39' is beyond the 32-bit float range"),
    ],
)
def test_labels_that_cannot_train(labels, message):
    with pytest.raises(DataError, match=message):
        derive_label(table(labels), None)


def test_regression_values_that_are_not_finite_name_the_row():
    label = Label("y", "regression")
    with pytest.raises(DataError, match=r"t\.csv:2: label 'y': 'inf' is not a finite number"):
        encode_labels(table(["1.5", "inf"]), label)
    with pytest.raises(DataError, match=r"t\.csv:3: label 'y': 'x' is not a number"):
        encode_labels(table(["1.5", "2", "x"]), label)
    assert encode_labels(table(["1.5", "-2"]), label).tolist() == [1.5, -2.0]


def test_a_thousand_classes_stay_a_short_line():
    names = [f"class-{i:04d}" for i in range(1000)]
    with pytest.raises(DataError) as binary:
        derive_label(table(names), "binary")
    text = str(binary.value)
    assert len(text) < 250 and text.count("\n") == 0, text
    assert (
        "1000 classes (class-0000, class-0001, class-0002, class-0003, class-0004 … (995 more))"
        in text
    )
    label = derive_label(table(names), None)
    with pytest.raises(DataError) as unknown:
        encode_labels(table(["class-0001", "class-9999"]), label)
    text = str(unknown.value)
    assert len(text) < 250 and "'class-9999' is not one of the 1000 training classes" in text
    assert "… (995 more)" in text


def test_few():
    assert few(["a", "b"]) == "a, b"
    assert few(range(8), shown=3) == "0, 1, 2 … (5 more)"


def test_describe_says_what_was_inferred():
    multi = Label("target", "multiclass", ("0", "1", "2"))
    assert describe_label(multi, inferred=True) == (
        "label 'target': multiclass, 3 classes (0, 1, 2) (inferred; --task overrides)"
    )
    assert describe_label(Label("y", "regression"), inferred=False) == (
        "label 'y': regression (from --task)"
    )
