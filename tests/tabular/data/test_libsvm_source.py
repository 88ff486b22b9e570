"""LIBSVM parsing: sparse rows, index base and dimension from the training file."""

from __future__ import annotations

import pytest

from tests.conftest import write
from tuner.errors import DataError
from tuner.tabular.data.libsvm_source import read_libsvm


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
        ("1 3:1\n0 4:nan\n", {}, r"bad\.libsvm:2: feature 4: 'nan' is not a finite number"),
        ("1 3:inf\n", {}, r"bad\.libsvm:1: feature 3: 'inf' is not a finite number"),
        ("1 3:-1e39\n", {}, r"bad\.libsvm:1: feature 3: '-1e39' is beyond the 32-bit float"),
        (
            "1 3:1\n\n0 99999999999:1\n",
            {},
            r"bad\.libsvm:3: feature id 99999999999 is above the bound of 16,777,216 feature ids"
            r".*--max-dimension",
        ),
        ("1 1" + "0" * 30 + ":1\n", {}, r"bad\.libsvm:1: feature id 10+ is above the bound"),
        (
            "1 0:1 8:1\n",
            {"max_dimension": 8},
            r"bad\.libsvm:1: feature id 8 is above the bound of 8",
        ),
        ("1 9:1\n", {"max_dimension": 8}, r"bad\.libsvm:1: feature id 9 is above the bound of 8"),
    ],
)
def test_bad_libsvm(tmp_path, text, kwargs, message):
    with pytest.raises(DataError, match=message):
        read_libsvm(write(tmp_path / "bad.libsvm", text), **kwargs)


def test_the_bound_is_inclusive_and_can_be_raised(tmp_path):
    table, _ = read_libsvm(write(tmp_path / "t.libsvm", "1 8:1\n"), max_dimension=8)  # 1-based
    assert table.sparse["features"].dimension == 8
    table, _ = read_libsvm(write(tmp_path / "t.libsvm", "1 0:1 7:1\n"), max_dimension=8)
    assert table.sparse["features"].dimension == 8
    table, _ = read_libsvm(write(tmp_path / "t.libsvm", "1 30000000:1\n"), max_dimension=1 << 25)
    assert table.sparse["features"].dimension == 30_000_000
