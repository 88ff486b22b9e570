"""The identifier and date rules of `tune data convert`'s column warnings, at their edges."""

from __future__ import annotations

import numpy as np

from tuner.tabular.data.columns import column_warning, warn_columns
from tuner.tabular.data.table import Table


def _column(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=object)


def test_an_identifier_needs_fifty_values_and_half_of_them_distinct():
    ids = [f"id{i}" for i in range(50)]
    said = column_warning("Individual ID", _column(ids))
    assert said is not None and said.startswith(
        "column 'Individual ID' looks like an identifier: 50 distinct values in 50 rows"
    )
    assert said.endswith("(--ignore 'Individual ID' leaves it out)")  # as a shell takes it
    assert column_warning("id", _column(ids[:49])) is None  # too few rows to tell
    half = [f"v{i // 2}" for i in range(100)]  # 50 values, each twice: still one
    assert column_warning("v", _column(half)) is not None
    assert column_warning("v", _column([*half[:-2], "v0", "v0"])) is None  # 49 of 100
    # missing values are not values: 50 ids and 200 blanks are 50 of 50
    assert column_warning("id", _column(ids + [""] * 200)) is not None


def test_dates_need_ten_distinct_days_in_one_format():
    days = [f"2016-07-{d:02d}" for d in range(1, 11)]
    said = column_warning("date", _column(days * 3))
    assert said == (
        "column 'date' holds dates (2016-07-01 …): as text it is a 10-value category that "
        "a date the training rows lack never matches (--dates date makes it numbers: year, "
        "month, day of week, day of year; --ignore date leaves it out)"
    )
    assert column_warning("wave", _column(days[:9] * 3)) is None  # a few survey dates
    assert column_warning("date", _column([*days, "soon"])) is None


def test_a_column_made_categorical_on_purpose_is_not_warned_about():
    table = Table(source="t.csv")
    table.categorical = {"name": _column([f"n{i}" for i in range(60)])}
    said: list[str] = []
    warn_columns(table, {"name"}, said.append)
    assert said == []
    warn_columns(table, set(), said.append)
    assert len(said) == 1
