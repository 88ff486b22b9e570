"""LIBSVM parsing: sparse rows, index base and dimension from the training file."""

from __future__ import annotations

import pytest

from tests.conftest import write
from tuner.data.libsvm_source import read_libsvm
from tuner.errors import DataError


def test_sparse_rows_are_kept_sparse_and_zero_based(tmp_path):
    table, base = read_libsvm(
        write(tmp_path / "t.libsvm", "1 3:1 1:0.5\n0 2:2 # comment\n\n-1 5:1\n")
    )
    col = table.sparse["features"]
    assert base == 1
    assert col.indptr.tolist() == [0, 2, 3, 4]
    assert col.ids.tolist() == [0, 2, 1, 4]  # sorted within a row, 0-based
    assert col.values.tolist() == [0.5, 1.0, 2.0, 1.0]
    assert col.dimension == 5
    assert table.labels.tolist() == ["1", "0", "-1"]
    assert table.lines.tolist() == [1, 2, 4]


def test_validation_takes_base_and_dimension_from_training(tmp_path):
    test, _ = read_libsvm(write(tmp_path / "v.libsvm", "1 2:1\n"), index_base=1, dimension=123)
    assert test.sparse["features"].dimension == 123


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("1 3:1 x\n", {}, r"bad\.libsvm:1: token 'x' is not id:value"),
        ("1 3:1\n0 4:a\n", {}, r"bad\.libsvm:2: token '4:a' is not id:value"),
        ("1 3:1 3:2\n", {}, r"bad\.libsvm:1: a feature id appears twice"),
        (
            "1 9:1\n",
            {"index_base": 1, "dimension": 5},
            r"bad\.libsvm:1: feature id 9 is beyond the dimension 5",
        ),
        ("# only a comment\n", {}, r"no rows"),
    ],
)
def test_bad_libsvm(tmp_path, text, kwargs, message):
    with pytest.raises(DataError, match=message):
        read_libsvm(write(tmp_path / "bad.libsvm", text), **kwargs)
