"""Which text columns are dates, and in which format (no TensorFlow)."""

from __future__ import annotations

from datetime import datetime

import pytest

from tuner.tabular.data.dates import DAY_PARTS, date_format, date_parts, parse, parts_of


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["2016-07-02", "2016-12-31"], "iso"),
        (["2014-09-02 13:40:36", "2014-09-02T13:40", "2014-09-02 13:40:36.5Z"], "iso"),
        (["2016/07/02"], "y/m/d"),
        (["1/1/2002", "12/31/2002"], "m/d/y"),  # Stat2Data's Marathon
        (["1/3/11", "12/30/11"], "m/d/y"),  # openintro's pm25_2011_durham
        (["1/3/2011", "31/12/2011"], "d/m/y"),  # a first field above 12: day first
        (["02.07.2016", "31.12.2016"], "d.m.y"),
        (["2016-07-02", "7/2/2016"], None),  # two formats in one column
        (["2016-13-02"], None),  # no month 13
        (["01/01/2006 - 01/12/2012"], None),  # a range (Ecdat's breaches)
        (["38:31:00"], None),  # a duration
        (["N100A1", "2015-000001", "1234", ""], None),
        ([], None),
    ],
)
def test_date_format(values, fmt):
    assert date_format(values) == fmt


def test_two_digit_years_follow_r_and_strptime():
    assert parse("1/3/11", "m/d/y") == datetime(2011, 1, 3)
    assert parse("1/3/69", "m/d/y") == datetime(1969, 1, 3)
    assert parse("2016-07-02", "m/d/y") is None


def test_date_parts_of_text_timestamps_and_missing_values():
    import math

    values = ["2016-07-02 13:30", "", "?", None, float("nan"), datetime(2017, 1, 1), "x", 3]
    parts, bad = date_parts(values, "iso", ["year", "day_of_week", "hour"], missing=("", "?"))
    assert bad == 6  # "x": the first value that is no date (its parts are NaN)
    assert parts["year"][0] == 2016 and parts["day_of_week"][0] == 5
    assert parts["hour"][0] == 13.5 and parts["year"][5] == 2017
    assert all(math.isnan(parts["year"][i]) for i in (1, 2, 3, 4, 6, 7))
    assert parts_of([datetime(2016, 7, 2)]) == DAY_PARTS
    assert parts_of([datetime(2016, 7, 2), datetime(2016, 7, 2, 0, 0, 1)])[-1] == "hour"
