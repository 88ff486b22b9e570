"""Every table and line the user reads in a terminal: `tune status`, `tune ls`, `tune
best`, and the formatting of values, params, durations and times they share with the
live progress of `tune run` (those live in tuner.text, the floor both use). Plain
functions from JSON-ready dicts to text, so the queries that build the dicts
(tuner.study) stay free of presentation."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tuner.text import cut as _cut
from tuner.text import fmt_duration, fmt_front, fmt_param, fmt_params, fmt_value


def fmt_time(iso: str | None, now: datetime | None = None) -> str:
    """'2025-06-01 14:03 (5m ago)' from an ISO timestamp."""
    if not iso:
        return "-"
    moment = datetime.fromisoformat(iso)
    ago = ((now or datetime.now()) - moment).total_seconds()
    return f"{moment:%Y-%m-%d %H:%M} ({fmt_duration(ago)} ago)"


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


# a column of a trials table: its header, and its cell of a row
_Column = tuple[str, Callable[[Mapping[str, Any]], str]]
_NO_BEST = "best     - (no complete trial yet)"


def _best_line(metric: str, best: Mapping[str, Any]) -> str:
    """`best     #3 val_auc=0.9512 (epoch 5)  lr=0.01`: the epoch is the one its value
    (and its model) is from, when the study recorded it."""
    epoch = best.get("value_epoch")
    at = f" (epoch {epoch})" if epoch is not None else ""
    return (
        f"best     #{best['number']} {metric}={fmt_value(best['value'])}{at}  "
        f"{fmt_params(best['params'])}".rstrip()
    )


def _trials_table(
    rows: Sequence[Mapping[str, Any]], columns: list[_Column], right: Iterable[int]
) -> list[str]:
    """`tune status`'s and `tune best`'s table: their own columns, then one per param
    (in the order the rows first name them: a conditional param is absent from some)."""
    names: dict[str, None] = {}
    for r in rows:
        names.update(dict.fromkeys(r["params"]))
    headers = [header for header, _ in columns] + list(names)
    cells = [
        [cell(r) for _, cell in columns] + [_cut(fmt_param(r["params"].get(k))) for k in names]
        for r in rows
    ]
    return table(headers, cells, right=right)


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
    lines.append(_best_line(metric, best) if best is not None else _NO_BEST)
    if status.get("front") is not None:
        lines.append(f"pareto   {fmt_front(status['front'])}")
    page = status.get("mlflow_page")
    if page:  # (on 127.0.0.1:5000: the store `tune ui` serves)
        lines.append(f"mlflow   {page}" + ("  (tune ui)" if "//127.0.0.1:5000/" in page else ""))
    warm = status.get("warm_start")
    if warm:
        first = ", ".join(f"#{n}" for n in warm.get("first") or []) or "none"
        lines.append(
            f"warm     from {', '.join(warm.get('from') or [])}: {warm.get('history', 0)}"
            f" earlier trials as history (not counted above); run first: {first}"
        )
    rows = list(status.get("top") or [])[:top] if top is not None else list(status["top"] or [])
    if rows:
        columns: list[_Column] = [
            ("#", lambda r: str(r["number"])),
            ("state", lambda r: r["state"]),
            (metric, lambda r: fmt_value(r["value"])),
            ("@epoch", lambda r: str(r.get("value_epoch") or "-")),
            ("epochs", lambda r: str(r["epochs"])),
        ]
        lines.append("")
        lines.extend(_with_reasons(_trials_table(rows, columns, right=(0, 2, 3, 4)), rows))
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


def render_ls(rows: Sequence[Mapping[str, Any]], now: datetime | None = None) -> str:
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


def render_best(table_data: dict[str, Any]) -> str:
    """The text of `tune best`: a head line, the best trial, then the top K as a table."""
    metric, rows = table_data["metric"], table_data["trials"]
    head = f"sweep {table_data['name']}  ·  {metric} ({table_data['goal']})  ·  "
    head += f"{table_data['complete']} complete of {table_data['total']} trials"
    if table_data.get("running"):
        head += f" ({table_data['running']} running: best so far)"
    lines = [head]
    if not rows:
        lines.append(_NO_BEST)
        return "\n".join(lines)
    best = rows[0]
    lines.append(_best_line(metric, best))
    score = {"best": "  ·  scored by its best epoch", "last": "  ·  scored by its last epoch"}
    note = score.get(table_data.get("score") or "", "")
    lines.append(f"epochs   {best['epochs']}{note}  ·  state {best['state']}")
    lines.append(f"mlflow   {best['mlflow_run_id'] or '-'}")
    lines.append(f"folder   {best['trial_dir']}")
    if len(rows) > 1:
        columns: list[_Column] = [
            ("#", lambda r: str(r["number"])),
            (metric, lambda r: fmt_value(r["value"])),
            ("@epoch", lambda r: str(r.get("value_epoch") or "-")),
            ("epochs", lambda r: str(r["epochs"])),
            ("state", lambda r: r["state"]),
            ("mlflow run", lambda r: r["mlflow_run_id"] or "-"),
        ]
        lines.append("")
        lines.extend(_trials_table(rows, columns, right=(0, 1, 2, 3)))
    if table_data.get("constraints"):
        lines.append(
            f"within  {', '.join(table_data['constraints'])}  ·  "
            f"{table_data.get('infeasible', 0)} complete trial(s) outside"
        )
    if "front" in table_data:
        lines.extend(["", *_front_lines(table_data)])
    return "\n".join(lines)


def render_mattered(
    metric: str,
    best_params: Mapping[str, Any],
    spread: Any = None,
    importances: Mapping[str, float] | None = None,
) -> list[str]:
    """`tune run`'s closing lines on what the sweep showed: the best trial's params, the
    spread of the complete trials (best, median, worst) and each param's importance
    (`spread`: a tuner.study.spread.Spread)."""
    lines = []
    if best_params:
        lines.append(f"  params: {fmt_params(best_params)}")
    if spread is not None:
        lines.append(
            f"spread of the {spread.complete} complete trials: {metric} best "
            f"{fmt_value(spread.best)}, median {fmt_value(spread.median)}, "
            f"worst {fmt_value(spread.worst)}"
        )
    if importances:
        shares = ", ".join(f"{name} {share:.0%}" for name, share in importances.items())
        lines.append(f"what mattered (param importance for {metric}): {shares}")
    return lines


def _value_of(name: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda r: fmt_value(r["values"].get(name))


def _front_lines(table_data: dict[str, Any]) -> list[str]:
    """The Pareto front of a sweep over several metrics, best first metric first."""
    front = table_data["front"]
    goals = ", ".join(f"{m['name']} ({m['goal']})" for m in table_data["metrics"])
    lines = [f"Pareto front: {len(front)} trial(s) no other beats on every one of {goals}"]
    if not front:
        return lines
    columns: list[_Column] = [("#", lambda r: str(r["number"]))]
    for m in table_data["metrics"]:
        columns.append((m["name"], _value_of(m["name"])))
    columns.append(("epochs", lambda r: str(r["epochs"])))
    lines.extend(_trials_table(front, columns, right=tuple(range(len(columns)))))
    lines.append(f"the best above is {table_data['rule']}; export one: --export --trial N")
    return lines
