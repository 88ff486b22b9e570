"""What `tune run` shows while trials run. On a terminal one status line is redrawn (at
most ~4×/s; a background tick keeps the clock moving); elsewhere one plain line per
finished trial; nothing with `quiet`. Thread-safe: the driver may call it from Ray's
callback thread."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from tuner.study.ranking import finite, objective_value
from tuner.study.status import remaining_estimate
from tuner.text import cut, fmt_duration, fmt_front, fmt_params, fmt_value

if TYPE_CHECKING:
    import optuna

_STATES = {"COMPLETE": "COMPLETE", "PRUNED": "PRUNED", "FAIL": "FAIL", "FAILED": "FAIL"}


class Progress:
    """The live display of `tune run` (see the module text). `concurrency`, when given,
    is used for the remaining-time estimate (else the number of trials running now)."""

    TTY_INTERVAL = 0.25  # seconds between redraws on a terminal
    TICK = 1.0  # the clock is redrawn at least this often on a terminal

    def __init__(
        self,
        total_trials: int | None,
        metric_name: str,
        stream: IO[str] | None = None,
        quiet: bool = False,
        interactive: bool | None = None,
        *,
        concurrency: int | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.total = total_trials
        self.metric = metric_name
        self.stream = stream if stream is not None else sys.stdout
        self.quiet = quiet
        if interactive is None:
            try:
                interactive = bool(self.stream.isatty())
            except (AttributeError, ValueError):
                interactive = False
        self.interactive = interactive and not quiet
        self.concurrency = concurrency
        self._clock = clock
        self._lock = threading.RLock()
        self._t0 = clock()
        self._running: dict[int, float] = {}  # number → when it started
        self._epochs: dict[int, int] = {}
        self._last: dict[int, float] = {}
        self.counts = {"complete": 0, "pruned": 0, "failed": 0}
        # finished trials' durations, summed (the estimate's mean: a list of them made
        # each redraw's cost grow with the sweep)
        self._spent, self._timed = 0.0, 0
        # value, number, params: the sweep's best as the bridge (which owns it) last said
        self.best: tuple[float, int, dict[str, Any]] | None = None
        # several metrics: the Pareto front's size and extremes (ranking.front_summary)
        self.front: dict[str, Any] | None = None
        self._drawn_at: float | None = None
        self._dirty = False
        self._closed = False
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # -- seeding from an earlier run (resume)

    def load(self, study: optuna.Study) -> None:
        """Count the trials an earlier run already finished, and its best (resume)."""
        from tuner.study.ranking import best_trial, duration_s, front_summary
        from tuner.study.records import own_trials

        best = best_trial(study)
        front = front_summary(study)
        with self._lock:
            self.front = front
            value = objective_value(best) if best is not None else None
            if best is not None and value is not None:
                self.best = (value, best.number, dict(best.params))
            for t in own_trials(study.get_trials(deepcopy=False)):  # no warm-start history
                state = t.state.name
                if state not in _STATES:
                    continue
                self._count(state)
                if state != "FAIL" and (d := duration_s(t)) is not None:
                    self._spent, self._timed = self._spent + d, self._timed + 1

    # -- events

    def trial_started(self, number: int, params: Mapping[str, Any]) -> None:
        """A trial started (its `params` are the bridge's to keep: the display shows
        only the best's, which the bridge passes with `trial_finished`)."""
        with self._lock:
            self._running[number] = self._clock()
            self._changed()

    def epoch(self, number: int, epoch: int, value: float | None) -> None:
        with self._lock:
            if number not in self._running:
                self._running[number] = self._clock()
            self._epochs[number] = max(epoch, self._epochs.get(number, 0))
            if value is not None:
                self._last[number] = value
            self._changed()

    def trial_finished(
        self,
        number: int,
        state: Any,
        value: float | None = None,
        reason: str | None = None,
        *,
        best: tuple[float, int, dict[str, Any]] | None = None,
        front: dict[str, Any] | None = None,
    ) -> None:
        """A trial ended; `best`: the sweep's new best (value, number, params) when this
        trial is it (the bridge decides, by the study's metric), else None; `front`: the
        Pareto front now (several metrics)."""
        name = str(getattr(state, "name", state)).upper()
        state = _STATES.get(name, name)
        with self._lock:
            started = self._running.pop(number, None)
            if value is None and state == "PRUNED":
                value = self._last.get(number)
            epochs = self._epochs.pop(number, 0)
            self._last.pop(number, None)
            if started is not None and state in ("COMPLETE", "PRUNED"):
                self._spent += self._clock() - started
                self._timed += 1
            self._count(state)
            if best is not None:
                self.best = best
            if front is not None:
                self.front = front
            if self.quiet:
                return
            if self.interactive:
                if state == "FAIL":
                    self._above(self._trial_line(number, state, value, epochs, reason))
                self._draw()
            else:
                line = self._trial_line(number, state, value, epochs, reason)
                self._write(f"{line} [{self._summary(', ')}]\n")

    def close(self) -> None:
        """Stop the display (the terminal keeps the last status line). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
            ticker = self._ticker
            if self.interactive and self._drawn_at is not None:
                self._draw()
                self._write("\n")
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join(timeout=2)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- figures

    def elapsed(self) -> float:
        return self._clock() - self._t0

    def remaining(self) -> float | None:
        with self._lock:
            if self.total is None:
                return None
            finished = sum(self.counts.values())
            mean = [self._spent / self._timed] if self._timed else []
            return remaining_estimate(
                mean, self.total - finished, self.concurrency or len(self._running)
            )

    # -- internals (called with the lock held)

    def _count(self, state: str) -> None:
        key = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}.get(state)
        if key is not None:
            self.counts[key] += 1

    def _summary(self, sep: str) -> str:
        # "done" is every finished trial, the budget's unit (a sweep that prunes most
        # of its trials is near its end, not at a fraction of it); how many of them
        # were pruned or failed follows
        of = f"/{self.total}" if self.total is not None else ""
        done = f"{sum(self.counts.values())}{of} done"
        ended = [f"{self.counts[k]} {k}" for k in ("pruned", "failed") if self.counts[k]]
        if ended:
            done += f" ({', '.join(ended)})"
        parts = [done, f"{len(self._running)} running", f"{fmt_duration(self.elapsed())} elapsed"]
        remaining = self.remaining()
        if remaining is not None and len(self._running) + sum(self.counts.values()):
            parts.append(f"~{fmt_duration(remaining)} left")
        return sep.join(parts)

    def _trial_line(
        self, number: int, state: str, value: Any, epochs: int, reason: str | None
    ) -> str:
        line = f"trial {number} {state}"
        if state == "PRUNED" and epochs:
            line += f" at epoch {epochs}"
        if state == "FAIL" and epochs:
            line += f" after {epochs} epoch{'s' if epochs != 1 else ''}"
        if finite(value) and state != "FAIL":
            line += f" {self.metric}={fmt_value(value)}"
        if reason:  # (a COMPLETE trial has one when it lies outside a constraint)
            line += f": {' '.join(str(reason).split())}"
        if self.best is not None:
            line += f" (best {fmt_value(self.best[0])} #{self.best[1]})"
        if self.front is not None:
            line += f" ({fmt_front(self.front)})"
        return line

    def _status_line(self) -> str:
        line = f"trials {self._summary(' · ')}"
        if self.best is not None:
            value, number, params = self.best
            line += f"  │  best {self.metric}={fmt_value(value)} #{number}"
            if params and self.front is None:
                line += f" ({fmt_params(params)})"
        if self.front is not None:
            line += f"  │  {fmt_front(self.front)}"
        return line

    def _changed(self) -> None:
        if not self.interactive or self._closed:
            return
        self._dirty = True
        if self._drawn_at is None or self._clock() - self._drawn_at >= self.TTY_INTERVAL:
            self._draw()
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, name="tuner-progress", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(self.TTY_INTERVAL):
            with self._lock:
                if self._closed:
                    return
                due = self._drawn_at is None or self._clock() - self._drawn_at >= self.TICK
                if self._dirty or due:
                    self._draw()

    def _draw(self) -> None:
        columns = shutil.get_terminal_size((100, 24)).columns
        line = cut(self._status_line(), max(columns - 1, 20))
        self._write(f"\r{line}\x1b[K")
        self._drawn_at = self._clock()
        self._dirty = False

    def _above(self, text: str) -> None:
        """A permanent line above the status line."""
        self._write(f"\r\x1b[K{text}\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stream must not stop the sweep
