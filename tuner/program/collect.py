"""One stream of epochs out of a program's three metric routes: its output lines (fed
by the runner's reader thread), the TensorBoard event files and the `tuner.report` file
(polled). An epoch is handed out once, by whichever route delivers it first, and only
after the last one handed out (a route that repeats an epoch, or lags, adds nothing).

Event files are written per metric and per folder (Keras: `train/` and `validation/`),
so an epoch read there is held until it is whole: until a later epoch appears, until it
has every metric the earlier epochs had, until nothing new came for QUIET_S seconds, or
until the program ended.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tuner.program.channel import ReportTail
from tuner.program.events import EventTail
from tuner.program.lines import LineParser

QUIET_S = 3.0


class Collector:
    def __init__(
        self,
        metrics: tuple[str, ...],
        events_root: Path,
        report_file: Path,
        pattern: str | None = None,
    ):
        self.metrics = frozenset(metrics)
        self.lines = LineParser(metrics, pattern)
        self.events = EventTail(events_root)
        self.reports = ReportTail(report_file)
        self.last = 0  # the last epoch handed out
        self.first = 0  # the first one
        self.shift: int | None = None  # +1 when the output counts epochs from 0
        self._ready: list[tuple[int, dict[str, float]]] = []
        self._held: dict[int, dict[str, float]] = {}  # event-file epochs not yet whole
        self._seen_at: dict[int, float] = {}
        self._names: set[str] = set()  # the metrics whole event-file epochs had
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        """A line of the program's output (the reader thread)."""
        found = self.lines.feed(text)
        with self._lock:
            for epoch, metrics in found:
                self._offer(self._numbered(epoch), metrics)

    def poll(self, final: bool = False) -> list[tuple[int, dict[str, float]]]:
        """The epochs ready now (`final`: the program ended: everything held too)."""
        with self._lock:
            if final:
                for epoch, metrics in self.lines.flush():
                    self._offer(self._numbered(epoch), metrics)
            for epoch, metrics in self.reports.poll():
                self._offer(epoch, metrics)
            for name, epoch, value in self.events.poll():
                if name in self.metrics:
                    self._held.setdefault(epoch, {})[name] = value
                    self._seen_at.setdefault(epoch, time.monotonic())
            self._release(final)
            ready, self._ready = self._ready, []
            return ready

    def pending(self) -> bool:
        """Whether epochs wait to be handed out (the runner is woken for them)."""
        with self._lock:
            return bool(self._ready)

    def _numbered(self, epoch: int | None) -> int:
        if epoch is None:
            return self.last + 1
        if self.shift is None:
            self.shift = 1 if epoch == 0 else 0
        return epoch + self.shift

    def _offer(self, epoch: int, metrics: dict[str, float]) -> None:
        metrics = {k: v for k, v in metrics.items() if k in self.metrics}
        if epoch <= self.last or not metrics:
            return
        self.last = epoch
        self.first = self.first or epoch
        self._ready.append((epoch, metrics))
        for old in [e for e in self._held if e <= epoch]:  # (another route was first)
            del self._held[old]

    def _release(self, final: bool) -> None:
        now = time.monotonic()
        for epoch in sorted(self._held):
            metrics = self._held[epoch]
            later = any(e > epoch for e in self._held)
            whole = bool(self._names) and self._names <= set(metrics)
            quiet = now - self._seen_at.get(epoch, now) >= QUIET_S
            if not (final or later or whole or quiet):
                break
            del self._held[epoch]
            self._names |= set(metrics)
            self._offer(epoch, metrics)
