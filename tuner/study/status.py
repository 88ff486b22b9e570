"""The user's view of sweeps: `tune status`, `tune ls`, and the live progress of `tune run`.

- `sweep_status(study, budget_trials)` → a plain dict (JSON-ready) read from the study:
  trial counts against the budget, the best trial, elapsed and estimated remaining time,
  and the top of the leaderboard; `render_status` draws it as a table.
- `sweep_summary(study)` / `ls_rows(results)` → one row per sweep; `render_ls` draws them.
- `Progress`: what `tune run` shows while trials run. On a terminal one status line is
  redrawn (at most ~4×/s; a background tick keeps the clock moving); elsewhere one plain
  line per finished trial; nothing with `quiet`. Thread-safe: the driver may call it
  from Ray's callback thread.

Counts: done = COMPLETE, running = RUNNING, pruned = PRUNED, failed = FAIL, waiting =
WAITING trials plus the part of the budget not yet asked for. The remaining-time
estimate is the mean duration of the finished (complete or pruned) trials × the trials
left in the budget / the concurrency (given, else the trials running now); None when any
of these is unknown (no budget, nothing finished yet, nothing running).

Optuna is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import math
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tuner.errors import ConfigError
from tuner.study import storage
from tuner.study.storage import ATTR_GOAL, ATTR_MAX_EPOCHS, ATTR_METRIC, ATTR_SPACE

if TYPE_CHECKING:
    import optuna

# study attributes the driver may set for the command-line overrides (--trials,
# --concurrency); without them the budget and concurrency come from the space file text.
ATTR_TRIALS = storage.ATTR_TRIALS
ATTR_CONCURRENCY = storage.ATTR_CONCURRENCY

DEFAULT_TOP = 10
_CELL = 24  # widest table cell before it is cut with …


# ---------------------------------------------------------------- formatting


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


def fmt_time(iso: str | None, now: datetime | None = None) -> str:
    """'2025-06-01 14:03 (5m ago)' from an ISO timestamp."""
    if not iso:
        return "-"
    moment = datetime.fromisoformat(iso)
    ago = ((now or datetime.now()) - moment).total_seconds()
    return f"{moment:%Y-%m-%d %H:%M} ({fmt_duration(ago)} ago)"


def _cut(text: str, width: int = _CELL) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def table(headers: list[str], rows: list[list[str]], right: Iterable[int] = ()) -> list[str]:
    """Plain-text table lines; columns in `right` are right-aligned."""
    right = set(right)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(headers), *(line(r) for r in rows)]


# ---------------------------------------------------------------- from the study


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def study_goal(study: optuna.Study) -> str:
    from tuner.study.results import maximize

    goal = study.user_attrs.get(ATTR_GOAL)
    if goal in ("maximize", "minimize"):
        return goal
    return "maximize" if maximize(study) else "minimize"


def study_budget(study: optuna.Study) -> tuple[int | None, int | None]:
    """(budget trials, concurrency) the sweep was run with, from its study attributes,
    else from the space file text kept in the study; None where unknown."""
    attrs = study.user_attrs
    trials, concurrency = attrs.get(ATTR_TRIALS), attrs.get(ATTR_CONCURRENCY)
    if (trials is None or concurrency is None) and attrs.get(ATTR_SPACE):
        import yaml

        try:
            space = yaml.safe_load(attrs[ATTR_SPACE])
        except yaml.YAMLError:
            space = None
        if isinstance(space, dict):
            budget = space.get("budget")
            if trials is None and isinstance(budget, dict):
                trials = budget.get("trials")
            if concurrency is None:
                concurrency = space.get("concurrency", 1)

    def whole(value: Any) -> int | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        return value if ok else None

    return whole(trials), whole(concurrency)


def _counts(trials: list[optuna.trial.FrozenTrial], budget: int | None) -> dict[str, int]:
    states = [t.state.name for t in trials]
    counts = {
        "done": states.count("COMPLETE"),
        "running": states.count("RUNNING"),
        "pruned": states.count("PRUNED"),
        "failed": states.count("FAIL"),
        "waiting": states.count("WAITING"),
    }
    if budget is not None:
        counts["waiting"] += max(budget - (len(trials) - counts["waiting"]), 0)
    counts["total"] = len(trials)
    return counts


def _started(trials: list[optuna.trial.FrozenTrial]) -> datetime | None:
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    return min(starts) if starts else None


def _last_activity(trials: list[optuna.trial.FrozenTrial]) -> datetime | None:
    moments = [m for t in trials for m in (t.datetime_start, t.datetime_complete) if m is not None]
    return max(moments) if moments else None


def remaining_estimate(
    durations: list[float], left: int | None, concurrency: int | None
) -> float | None:
    """Mean finished-trial duration × trials left / concurrency (None if unknown)."""
    if left is None:
        return None
    if left <= 0:
        return 0.0
    if not durations or not concurrency:
        return None
    return sum(durations) / len(durations) * left / concurrency


def _row(t: optuna.trial.FrozenTrial) -> dict[str, Any]:
    from tuner.study.results import last_value

    # a running trial shows its latest epoch's value; a failed one none
    value = t.value if _finite(t.value) or t.state.name == "FAIL" else last_value(t)
    row = {
        "number": t.number,
        "state": t.state.name,
        "value": value if _finite(value) else None,
        "epochs": len(t.intermediate_values),
        "params": dict(t.params),
    }
    reason = t.user_attrs.get(storage.TRIAL_REASON)
    if reason:
        row["reason"] = str(reason)  # why it failed or was pruned, in full
    return row


def sweep_status(
    study: optuna.Study,
    budget_trials: int | None,
    *,
    concurrency: int | None = None,
    top: int = DEFAULT_TOP,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A sweep's state, read from its study (see the module text for the counts and the
    estimate). `top` leaderboard rows are included (value: the trial's value, or its
    last intermediate value while running). Timestamps are local ISO texts."""
    from tuner.study.results import best_trial, duration_s, ordered_trials

    now = now or datetime.now()
    trials = ordered_trials(study)
    counts = _counts(trials, budget_trials)
    best = best_trial(study)
    started, last = _started(trials), _last_activity(trials)
    elapsed = None
    if started is not None:
        end = now if counts["running"] else (last or now)
        elapsed = (end - started).total_seconds()
    finished = counts["done"] + counts["pruned"] + counts["failed"]
    durations = [
        d
        for t in trials
        if t.state.name in ("COMPLETE", "PRUNED") and (d := duration_s(t)) is not None
    ]
    left = None if budget_trials is None else budget_trials - finished
    return {
        "name": study.study_name,
        "metric": str(study.user_attrs.get(ATTR_METRIC) or "value"),
        "goal": study_goal(study),
        "budget": budget_trials,
        "max_epochs": study.user_attrs.get(ATTR_MAX_EPOCHS),
        "concurrency": concurrency,
        "counts": counts,
        "epochs": sum(len(t.intermediate_values) for t in trials),
        "best": None
        if best is None
        else {
            "number": best.number,
            "value": best.value,
            "params": dict(best.params),
            "epochs": len(best.intermediate_values),
        },
        "started": started.isoformat() if started else None,
        "last_activity": last.isoformat() if last else None,
        "elapsed_s": elapsed,
        "remaining_s": remaining_estimate(durations, left, concurrency or counts["running"]),
        "top": [_row(t) for t in trials[: max(top, 0)]],
    }


def render_status(status: Mapping[str, Any], top: int | None = None) -> str:
    """`tune status`: the counts line, the time line, the best line, then the top rows."""
    metric, counts = status["metric"], status["counts"]
    budget = status.get("budget")
    head = f"sweep {status['name']}  ·  {metric} ({status['goal']})"
    if budget is not None:
        head += f"  ·  budget {budget} trials"
    if status.get("max_epochs"):
        head += f" × {status['max_epochs']} epochs"
    of = f" of {budget}" if budget is not None else ""
    lines = [
        head,
        f"trials   {counts['done']} done · {counts['running']} running · "
        f"{counts['pruned']} pruned · {counts['failed']} failed · "
        f"{counts['waiting']} waiting{of}  ({status['epochs']} epochs trained)",
    ]
    if status.get("started"):
        remaining = status.get("remaining_s")
        time_line = f"time     {fmt_duration(status.get('elapsed_s'))} elapsed"
        if remaining is not None:
            time_line += f" · ~{fmt_duration(remaining)} remaining"
        time_line += f" · last activity {fmt_time(status.get('last_activity'))}"
        lines.append(time_line)
    best = status.get("best")
    if best is None:
        lines.append("best     - (no complete trial yet)")
    else:
        lines.append(
            f"best     #{best['number']} {metric}={fmt_value(best['value'])}  "
            f"{fmt_params(best['params'])}".rstrip()
        )
    rows = list(status.get("top") or [])[:top] if top is not None else list(status["top"] or [])
    if rows:
        names: dict[str, None] = {}
        for r in rows:
            for k in r["params"]:
                names.setdefault(k, None)
        headers = ["#", "state", metric, "epochs", *names]
        cells = [
            [
                str(r["number"]),
                r["state"],
                fmt_value(r["value"]),
                str(r["epochs"]),
                *(_cut(fmt_param(r["params"].get(k))) for k in names),
            ]
            for r in rows
        ]
        lines.append("")
        lines.extend(_with_reasons(table(headers, cells, right=(0, 2, 3)), rows))
        shown, total = len(rows), counts["total"]
        if shown < total:
            lines.append(f"({shown} of {total} trials shown)")
    return "\n".join(lines)


def _with_reasons(lines: list[str], rows: list[Mapping[str, Any]]) -> list[str]:
    """A last column `reason` for FAIL rows (the error, as the leaderboard has it), cut
    to the terminal's width; `--json` has it in full."""
    reasons = [
        " ".join(str(r.get("reason") or "").split()) if r["state"] == "FAIL" else "" for r in rows
    ]
    if not any(reasons):
        return lines
    used = max(len(line) for line in lines)
    width = max(24, shutil.get_terminal_size((120, 24)).columns - used - 3)
    return [
        f"{line.ljust(used)}  {cell}".rstrip()
        for line, cell in zip(lines, ["reason", *(_cut(r, width) for r in reasons)], strict=True)
    ]


def resolve_name(results: Path, name: str | None, url: str | None = None) -> str:
    """The sweep `tune status` means: NAME, or the only sweep there is."""
    if name:
        return name
    if url:
        import optuna

        from tuner.redact import mask_url

        names = optuna.get_all_study_names(storage.open_storage(url, write=False))
        where = mask_url(url)
    else:
        names = storage.list_sweeps(results)
        where = str(results)
    if len(names) == 1:
        return names[0]
    if not names:
        raise ConfigError(f"no sweeps in {where}", hint="run one with `tune run SPACE.yaml`")
    raise ConfigError(
        f"{len(names)} sweeps in {where}: {', '.join(names)}", hint="name one: tune status NAME"
    )


# `tune run --fresh` renames a sweep's folder to `<name>.archived-<YYYYmmdd-HHMMSS>`
# (tuner.run.driver.archive); the study in its journal keeps the original name.
_ARCHIVED = re.compile(r"^(?P<name>.+)\.archived-\d{8}-\d{6}$")


def find_sweep(results: Path, name: str, url: str | None = None) -> optuna.Study:
    """`storage.find_study`, also for an archived sweep's name as `tune run --fresh`
    prints it: its folder's journal opened, the study in it by its original name, and
    the study named as archived (its trial folders are `<results>/<archived>/trials/`).
    With --storage the archive is a copy of the study under the archived name: found as
    it is."""
    match = _ARCHIVED.match(name)
    journal = storage.sweep_dir(results, name) / storage.JOURNAL
    if url is None and match and journal.exists():
        import optuna

        try:
            study = optuna.load_study(
                study_name=match["name"],
                storage=storage.open_storage(storage.storage_url(results, name), write=False),
            )
        except KeyError:
            raise ConfigError(
                f"the archived sweep '{name}' holds no study '{match['name']}'", where=journal
            ) from None
        study.study_name = name
        return study
    return storage.find_study(results, name, url)


def load_status(
    results: Path, name: str | None, url: str | None = None, *, top: int = DEFAULT_TOP
) -> dict[str, Any]:
    """`tune status [NAME]`: the status of a sweep found under `results` or at `url`."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = resolve_name(results, name, url)
    study = find_sweep(results, name, url)
    trials, concurrency = study_budget(study)
    return sweep_status(study, trials, concurrency=concurrency, top=top)


def sweep_summary(study: optuna.Study) -> dict[str, Any]:
    """One `tune ls` row of a study."""
    from tuner.study.results import best_trial

    trials = study.get_trials(deepcopy=False)
    counts = _counts(trials, None)
    best = best_trial(study)
    last = _last_activity(trials)
    return {
        "name": study.study_name,
        "complete": counts["done"],
        "pruned": counts["pruned"],
        "failed": counts["failed"],
        "running": counts["running"],
        "best": None if best is None else best.value,
        "best_number": None if best is None else best.number,
        "metric": str(study.user_attrs.get(ATTR_METRIC) or "value"),
        "goal": study_goal(study),
        "last_activity": last.isoformat() if last else None,
    }


def ls_rows(results: Path) -> list[dict[str, Any]]:
    """`tune ls`: a summary of every sweep under `results` (a study that cannot be read
    is listed with its error)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []
    for name in storage.list_sweeps(results):
        try:
            rows.append(sweep_summary(find_sweep(results, name)))
        except Exception as exc:
            rows.append({"name": name, "error": f"{type(exc).__name__}: {exc}"})
    return rows


def render_ls(rows: list[Mapping[str, Any]], now: datetime | None = None) -> str:
    """The `tune ls` table: name, trials (complete/pruned/failed/running), best value,
    metric, last activity."""
    if not rows:
        return "no sweeps"
    arrow = {"maximize": "max", "minimize": "min"}
    cells = []
    for r in rows:
        if "error" in r:
            cells.append([r["name"], "?", "-", "-", f"unreadable: {_cut(r['error'], 60)}"])
            continue
        best = fmt_value(r["best"])
        if r.get("best_number") is not None:
            best += f" #{r['best_number']}"
        cells.append(
            [
                r["name"],
                f"{r['complete']}/{r['pruned']}/{r['failed']}/{r['running']}",
                best,
                f"{r['metric']} ({arrow.get(r['goal'], r['goal'])})",
                fmt_time(r.get("last_activity"), now),
            ]
        )
    headers = ["name", "trials c/p/f/r", "best", "metric", "last activity"]
    return "\n".join(table(headers, cells, right=(1, 2)))


# ---------------------------------------------------------------- live progress

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
        goal: str,
        stream: IO[str] | None = None,
        quiet: bool = False,
        interactive: bool | None = None,
        *,
        concurrency: int | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.total = total_trials
        self.metric = metric_name
        self.higher = goal == "maximize"
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
        self._running: dict[int, tuple[float, dict[str, Any]]] = {}
        self._epochs: dict[int, int] = {}
        self._last: dict[int, float] = {}
        self.counts = {"done": 0, "pruned": 0, "failed": 0}
        self._durations: list[float] = []
        self.best: tuple[float, int, dict[str, Any]] | None = None  # value, number, params
        self._drawn_at: float | None = None
        self._dirty = False
        self._closed = False
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # -- seeding from an earlier run (resume)

    def load(self, study: optuna.Study) -> None:
        """Count the trials an earlier run already finished (resume)."""
        from tuner.study.results import duration_s

        with self._lock:
            for t in study.get_trials(deepcopy=False):
                state = t.state.name
                if state not in _STATES:
                    continue
                self._count(state, t.number, t.value, dict(t.params))
                if state != "FAIL" and (d := duration_s(t)) is not None:
                    self._durations.append(d)

    # -- events

    def trial_started(self, number: int, params: Mapping[str, Any]) -> None:
        with self._lock:
            self._running[number] = (self._clock(), dict(params))
            self._changed()

    def epoch(self, number: int, epoch: int, value: float | None) -> None:
        with self._lock:
            if number not in self._running:
                self._running[number] = (self._clock(), {})
            self._epochs[number] = max(epoch, self._epochs.get(number, 0))
            if value is not None:
                self._last[number] = value
            self._changed()

    def trial_finished(
        self, number: int, state: Any, value: float | None = None, reason: str | None = None
    ) -> None:
        name = str(getattr(state, "name", state)).upper()
        state = _STATES.get(name, name)
        with self._lock:
            started, params = self._running.pop(number, (None, {}))
            if value is None and state == "PRUNED":
                value = self._last.get(number)
            epochs = self._epochs.pop(number, 0)
            self._last.pop(number, None)
            if started is not None and state in ("COMPLETE", "PRUNED"):
                self._durations.append(self._clock() - started)
            self._count(state, number, value, params)
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
            return remaining_estimate(
                self._durations, self.total - finished, self.concurrency or len(self._running)
            )

    # -- internals (called with the lock held)

    def _count(self, state: str, number: int, value: Any, params: dict[str, Any]) -> None:
        key = {"COMPLETE": "done", "PRUNED": "pruned", "FAIL": "failed"}.get(state)
        if key is None:
            return
        self.counts[key] += 1
        if state == "COMPLETE" and _finite(value) and self._better(value):
            self.best = (value, number, params)

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best[0] if self.higher else value < self.best[0]

    def _summary(self, sep: str) -> str:
        of = f"/{self.total}" if self.total is not None else ""
        parts = [
            f"{self.counts['done']}{of} done",
            f"{len(self._running)} running",
            f"{self.counts['pruned']} pruned",
            f"{self.counts['failed']} failed",
            f"{fmt_duration(self.elapsed())} elapsed",
        ]
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
        if _finite(value) and state != "FAIL":
            line += f" {self.metric}={fmt_value(value)}"
        if reason and state != "COMPLETE":
            line += f": {' '.join(str(reason).split())}"
        if self.best is not None:
            line += f" (best {fmt_value(self.best[0])} #{self.best[1]})"
        return line

    def _status_line(self) -> str:
        line = f"trials {self._summary(' · ')}"
        if self.best is not None:
            value, number, params = self.best
            line += f"  │  best {self.metric}={fmt_value(value)} #{number}"
            if params:
                line += f" ({fmt_params(params)})"
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
        line = _cut(self._status_line(), max(columns - 1, 20))
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
