"""Short text for people, shared by every layer: metric values, params, durations, a
cut table cell, a Pareto front's summary line, and "did you mean". The floor of the
package (it imports nothing of tuner), so the live line of `tune run` (tuner.sweep), the
tables of `tune status` (tuner.cli) and the error messages of the space file, the trial
contract and the objectives all format alike without importing each other."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

CELL = 24  # widest table cell before it is cut with …


def fmt_value(value: Any) -> str:
    """A metric value: 4 decimals in the usual range, 4 significant digits outside it."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else str(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:.4f}"
    return f"{value:.4g}"


def fmt_param(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not isinstance(value, bool):
        return f"{value:.4g}"
    return str(value)


def fmt_params(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={fmt_param(v)}" for k, v in params.items())


def fmt_duration(seconds: float | None) -> str:
    """42s, 1m12s, 2h03m, 1d04h."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def cut(text: str, width: int = CELL) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def fmt_front(front: Mapping[str, Any]) -> str:
    """`front 4 trials · best val_auc 0.9912 #3 · best predict_ms 0.41 #7`: the Pareto
    front's size and each objective's extreme on it."""
    parts = [f"front {front['size']} trial{'s' if front['size'] != 1 else ''}"]
    for e in front["extremes"]:
        if e["number"] is not None:
            parts.append(f"best {e['metric']} {fmt_value(e['value'])} #{e['number']}")
    return " · ".join(parts)


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The choice `word` was most likely meant to be ("did you mean"), or None."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return close[0] if close else None
