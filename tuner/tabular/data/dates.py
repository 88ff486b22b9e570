"""Telling a column of dates (or date-times) from other text, and its format.

A CSV holds dates as text; taken as a category, a date column is one value per day, and
rows of days the training data never saw (every validation row of a later period) match
none of them. `tune data convert` warns about such a column (csv_source), and this module
says whether a column is one: every present value written in the same one of a few
common formats. Standard library only.

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
