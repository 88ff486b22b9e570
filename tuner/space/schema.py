"""The space file's published JSON Schema and the rules read from it that other layers
use too (a duration: `budget.time`, a program's `timeout`). Its own module, under the
loader: a program's spec reads durations without importing the loader, which imports
the program's spec."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from tuner.errors import ConfigError

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schemas" / "space.schema.json"


@cache
def space_schema() -> dict[str, Any]:
    """The published JSON Schema of the space file."""
    return json.loads(SCHEMA_FILE.read_text())


def parse_duration(text: str, where: str | None = None, key: str = "budget.time") -> float:
    """'90s', '30m', '2h', '1h30m', '1.5h', '2d' → seconds (> 0), read with the schema's
    own pattern for budget.time (so the published rule and this one cannot drift)."""
    match = _duration().match(text) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ConfigError(
            f"key '{key}': {text!r} is not a duration",
            where=where,
            hint="expected e.g. 90s, 30m, 2h or 1h30m",
        )
    # the pattern's groups: (a number and its unit, the number's decimals) per unit
    d, h, m, s = (float(g.rstrip("dhms \t")) if g else 0.0 for g in match.groups()[::2])
    seconds = ((d * 24 + h) * 60 + m) * 60 + s
    if seconds <= 0:
        raise ConfigError(f"key '{key}': {text!r} is no time at all", where=where)
    return seconds


@cache
def _duration() -> re.Pattern[str]:
    return re.compile(space_schema()["properties"]["budget"]["properties"]["time"]["pattern"])
