"""Telling a column of dates (or date-times) from other text, its format, and its parts.

A CSV holds dates as text; taken as a category, a date column is one value per day, and
rows of days the training data never saw (every validation row of a later period) match
none of them. `tune data convert` warns about such a column (columns.py), and this module
says whether a column is one: every present value written in the same one of a few
common formats. With `--dates COL` the column becomes numbers (`date_parts`): its year,
month, day of the week (Monday 0), day of the year (1-366) and, when the training values
have a time of day, the hour (13:30 → 13.5).

Standard library only: the MLflow model (tuner.tabular.serving) takes this module with it
(pickled by value) to compute the same parts from the same text as conversion and
`tune predict` do.

Formats, tried in this order (a column takes the first that reads every value):
ISO `2016-07-02`, `2016-07-02 13:40[:36[.123]]` (or `T`, an optional `Z` or offset),
`2016/07/02`, month first `7/2/2016` and `7/2/16` (R's and US spreadsheets' way), day
first `2/7/2016` and `2.7.2016` (read so only when some first field is above 12, or
with dots).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

# the shapes of the formats (a quick test before parsing)
_ISO = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?"
)
_YMD_SLASH = re.compile(r"\d{4}/\d{1,2}/\d{1,2}")
_SLASH = re.compile(r"\d{1,2}/\d{1,2}/(\d{2}|\d{4})")
_DOTS = re.compile(r"\d{1,2}\.\d{1,2}\.\d{4}")

FORMATS = ("iso", "y/m/d", "m/d/y", "d/m/y", "d.m.y")
DAY_PARTS = ("year", "month", "day_of_week", "day_of_year")
TIME_PARTS = ("hour",)


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _slash(text: str, month_first: bool) -> datetime:
    a, b, year = text.split("/")
    month, day = (a, b) if month_first else (b, a)
    y = int(year)
    if len(year) == 2:  # R's and Python's %y: 69-99 → 1900s, 00-68 → 2000s
        y += 1900 if y >= 69 else 2000
    return datetime(y, int(month), int(day))


def parse(text: str, fmt: str) -> datetime | None:
    """`text` read in format `fmt` (one of FORMATS), or None if it is not written so."""
    try:
        if fmt == "iso":
            return _iso(text) if _ISO.fullmatch(text) else None
        if fmt == "y/m/d":
            return datetime.strptime(text, "%Y/%m/%d") if _YMD_SLASH.fullmatch(text) else None
        if fmt in ("m/d/y", "d/m/y"):
            return _slash(text, fmt == "m/d/y") if _SLASH.fullmatch(text) else None
        if fmt == "d.m.y":
            return datetime.strptime(text, "%d.%m.%Y") if _DOTS.fullmatch(text) else None
    except ValueError:
        return None
    raise ValueError(f"unknown date format {fmt!r}")


def date_format(values: Iterable[str]) -> str | None:
    """The format every one of `values` (distinct, present values) is a date in, or None
    (no values, or some value is not a date in any one format)."""
    texts = list(values)
    if not texts:
        return None
    for fmt in FORMATS:
        if all(parse(t, fmt) is not None for t in texts):
            return fmt
    return None


def parts_of(moments: Iterable[datetime]) -> tuple[str, ...]:
    """The parts a column of these (training) values becomes: the hour too when some
    value has a time of day."""
    timed = any(m.hour or m.minute or m.second or m.microsecond for m in moments)
    return DAY_PARTS + (TIME_PARTS if timed else ())


def part(moment: datetime, name: str) -> float:
    if name == "year":
        return float(moment.year)
    if name == "month":
        return float(moment.month)
    if name == "day_of_week":
        return float(moment.weekday())
    if name == "day_of_year":
        return float(moment.timetuple().tm_yday)
    if name == "hour":
        return moment.hour + moment.minute / 60 + moment.second / 3600
    raise ValueError(f"unknown date part {name!r}")


def date_parts(
    values: Iterable[object], fmt: str, parts: Iterable[str], missing: Iterable[str] = ("",)
) -> tuple[dict[str, list[float]], int | None]:
    """Each part of each value as a float list, and the index of the first value that is
    no date in `fmt` (its parts NaN), or None. A value is text written in `fmt`, or a
    `datetime` (a pandas Timestamp: the MLflow model's caller may pass one); None, NaN,
    NaT and the texts in `missing` are missing (NaN parts)."""
    names = tuple(parts)
    absent = frozenset(missing)
    out: dict[str, list[float]] = {name: [] for name in names}
    cache: dict[str, datetime | None] = {}
    bad = None
    nan = float("nan")
    for i, value in enumerate(values):
        moment = None
        if isinstance(value, datetime):
            moment = value if value == value else None  # NaT is not equal to itself
        elif isinstance(value, str):
            if value not in absent:
                if value not in cache:
                    cache[value] = parse(value, fmt)
                moment = cache[value]
                bad = i if moment is None and bad is None else bad
        elif value is not None and value == value and bad is None:  # a number: no date
            bad = i
        for name in names:
            out[name].append(nan if moment is None else part(moment, name))
    return out, bad
