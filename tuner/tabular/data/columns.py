"""Text columns a model learns little from, said at conversion: identifiers and dates.

A categorical feature gets one embedding row per training value. A column of names or
ids (a car's name, a sample id) has nearly one value per row: each is seen once or
twice, and new rows rarely match any, so it adds parameters and noise, not signal. A
column of dates is one value per day: rows of days the training data never saw (every
validation row of a later period) match none. Neither is refused (a user may know
better, and `--categorical COL` says so and silences the word); each is one warning
naming the column and what to do: `--ignore COL`, and for dates `--dates COL` (its year,
month, day of week and day of year as numbers: on modeldata's Chicago ridership they cut
the RMSE by a fifth against leaving the column out; see the README).

The rules (training rows only, missing values aside):
- dates: every value is a date (or date-time) in one format (dates.py) and there are
  at least `DATE_MIN_DISTINCT` of them (a few survey dates are a fine category);
- an identifier: at least `IDENTIFIER_MIN_ROWS` values, and distinct values at least
  `IDENTIFIER_SHARE` of them, so that a value is seen twice at most on average
  (ISLR's Auto: 254 car names in 314 rows; openintro's cpu: 687 names in 700 rows;
  nycflights' tailnum, ~3,500 planes in 26k rows, is a category).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Collection

import numpy as np

from tuner.tabular.data.dates import date_format
from tuner.tabular.data.table import Table

IDENTIFIER_MIN_ROWS = 50
IDENTIFIER_SHARE = 0.5
DATE_MIN_DISTINCT = 10


def warn_columns(table: Table, chosen: Collection[str], warn: Callable[[str], None]) -> None:
    """One warning for each text column of the training `table` that holds dates or
    looks like an identifier, except those the user made categorical (`chosen`)."""
    for name, column in table.categorical.items():
        if name in chosen:
            continue
        message = column_warning(name, column)
        if message:
            warn(message)


def column_warning(name: str, column: np.ndarray) -> str | None:
    """What to say of a categorical column ("" = missing), or None."""
    present = column[column != ""]
    distinct = np.unique(present)
    ignore = f"--ignore {shlex.quote(name)}"
    fmt = date_format(distinct.tolist()) if len(distinct) >= DATE_MIN_DISTINCT else None
    if fmt is not None:
        return (
            f"column '{name}' holds dates ({present[0]} …): as text it is a "
            f"{len(distinct):,}-value category that a date the training rows lack never "
            f"matches (--dates {shlex.quote(name)} makes it numbers: year, month, day of week, "
            f"day of year; {ignore} leaves it out)"
        )
    rows = len(present)
    if rows >= IDENTIFIER_MIN_ROWS and len(distinct) >= IDENTIFIER_SHARE * rows:
        return (
            f"column '{name}' looks like an identifier: {len(distinct):,} distinct values in "
            f"{rows:,} rows, each seen about once, so a model learns little from it and new "
            f"rows rarely match one ({ignore} leaves it out)"
        )
    return None
