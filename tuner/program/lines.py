"""Metrics read from a program's output, line by line (a pure parser: text in, epochs
out).

The rule (documented in the README's "your own program"):
- a line reports an epoch when it names the epoch and at least one declared metric, as
  `name=value` or `name: value` pairs: `epoch=3 val_auc=0.912 val_loss=0.31`, or
  `epoch: 3, val_auc: 0.912`;
- Keras's own output needs nothing new: its `Epoch 3/10` line names the epoch of the
  progress line that ends it (`32/32 - 1s - loss: 0.31 - val_auc: 0.9120`); a progress
  bar's updates are read as the bar ends (the last update of the epoch, which has the
  validation metrics), mid-epoch updates (`12/32 …`) never;
- other lines are the program's own business (a final `best val_auc=0.93` is no epoch);
- `pattern:` replaces the rule: a regular expression whose named groups are metrics
  (and `epoch`, else each match is the next epoch), matched anywhere in each line.
Only declared metrics are read; values are numbers (`nan` and `inf` too).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

Epoch = tuple[int | None, dict[str, float]]  # (its number, if the line said; its metrics)

_NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|NaN|inf|Inf)"
_PAIR = re.compile(rf"(?<![\w.])(?P<name>[A-Za-z_][\w.]*)\s*[=:]\s*(?P<value>{_NUMBER})(?![\w.])")
_HEADER = re.compile(r"^\s*Epoch\s+(\d+)(?:\s*/\s*\d+)?\s*$")
_PROGRESS = re.compile(r"^\s*(\d+)/(\d+)\s")


class LineParser:
    """Feed it the output's lines (split on newlines and carriage returns, as a progress
    bar redraws); it returns the epochs they complete."""

    def __init__(self, metrics: Iterable[str], pattern: str | None = None):
        self.metrics = frozenset(metrics)
        self.pattern = re.compile(pattern) if pattern else None
        self.header: int | None = None  # Keras's `Epoch N/M`: the epoch of the bar below
        self.bar: dict[str, float] | None = None  # the bar's last complete update

    def feed(self, line: str) -> list[Epoch]:
        if self.pattern is not None:
            return self._matched(line)
        header = _HEADER.match(line)
        if header:
            done = self.flush()
            self.header = int(header.group(1))
            return done
        progress = _PROGRESS.match(line)
        if progress:
            if progress.group(1) == progress.group(2) and self.header is not None:
                metrics = self._metrics(line)
                if metrics:
                    self.bar = metrics  # (the last update of the bar: validation too)
            return []
        done = self.flush()
        metrics = self._metrics(line)
        epoch = _epoch_of(line)
        if metrics and epoch is not None:
            done.append((epoch, metrics))
        return done

    def flush(self) -> list[Epoch]:
        """The epoch a finished progress bar holds (at the next line, or the end)."""
        if self.bar is None or self.header is None:
            return []
        done: list[Epoch] = [(self.header, self.bar)]
        self.bar = self.header = None
        return done

    def _metrics(self, line: str) -> dict[str, float]:
        found = {}
        for match in _PAIR.finditer(line):
            name = match.group("name")
            if name in self.metrics:
                found[name] = float(match.group("value"))
        return found

    def _matched(self, line: str) -> list[Epoch]:
        assert self.pattern is not None
        done: list[Epoch] = []
        for match in self.pattern.finditer(line):
            groups = {k: v for k, v in match.groupdict().items() if v is not None}
            metrics = {}
            for name, text in groups.items():
                if name in self.metrics:
                    try:
                        metrics[name] = float(text)
                    except ValueError:
                        continue
            epoch = groups.get("epoch")
            if metrics:
                done.append((int(epoch) if epoch and epoch.isdigit() else None, metrics))
        return done


def _epoch_of(line: str) -> int | None:
    for match in _PAIR.finditer(line):
        if match.group("name").lower() == "epoch":
            value = float(match.group("value"))
            if math.isfinite(value) and value == int(value) and value >= 0:
                return int(value)
    return None
