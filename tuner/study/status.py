"""What `tune status` and `tune ls` read from sweeps, as plain JSON-ready dicts (drawn by
tuner.cli.render):

- `sweep_status(study, budget_trials)`: trial counts against the budget, the best trial,
  elapsed and estimated remaining time, and the top of the leaderboard.
- `sweep_summary(study)`: one `tune ls` row (`tune status`/`tune ls` read through
  tuner/study/summary.py: its kept summary when current, else these).
- `find_sweep` / `resolve_name`: a sweep by name, archived ones included.

Counts: done = COMPLETE, running = RUNNING, pruned = PRUNED, failed = FAIL, waiting =
WAITING trials plus the part of the budget not yet asked for. The remaining-time
estimate is the mean duration of the finished (complete or pruned) trials × the trials
left in the budget / the concurrency (given, else the trials running now); None when any
of these is unknown (no budget, nothing finished yet, nothing running).

Optuna is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.errors import ConfigError
from tuner.study import storage
from tuner.study.ranking import finite, objective_value
from tuner.study.records import (
    SweepRecord,
    TrialRecord,
    epoch_values,
    own_trials,
    read_warm_start,
)

if TYPE_CHECKING:
    import optuna

DEFAULT_TOP = 10


# ---------------------------------------------------------------- formatting


# ---------------------------------------------------------------- from the study


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
        counts["waiting"] = max(budget - (len(trials) - counts["waiting"]), counts["waiting"])
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
    from tuner.study.ranking import last_value

    # a running trial shows its latest epoch's value; a failed one none
    value = objective_value(t)
    value = value if finite(value) or t.state.name == "FAIL" else last_value(t)
    row = {
        "number": t.number,
        "state": t.state.name,
        "value": value if finite(value) else None,
        "value_epoch": TrialRecord.of(t).value_epoch,  # (a told trial's: the value's epoch)
        "epochs": len(t.intermediate_values or epoch_values(t)),
        "params": dict(t.params),
    }
    reason = TrialRecord.of(t).reason
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
    from tuner.study.ranking import best_trial, duration_s, front_summary, ordered_trials

    record = SweepRecord.of(study)
    now = now or datetime.now()
    trials = ordered_trials(study, record.metric)
    counts = _counts(trials, budget_trials)
    best = best_trial(study, record.metric)
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
    status = {
        "name": study.study_name,
        "metric": record.metric_name,
        "goal": record.goal,
        "score": record.score,
        "mlflow_page": record.mlflow_page,
        "budget": budget_trials,
        "max_epochs": record.max_epochs,
        "concurrency": concurrency,
        "counts": counts,
        "epochs": sum(len(t.intermediate_values or epoch_values(t)) for t in trials),
        "best": None
        if best is None
        else {
            "number": best.number,
            "value": objective_value(best),
            "value_epoch": TrialRecord.of(best).value_epoch,
            "params": dict(best.params),
            "epochs": len(best.intermediate_values or epoch_values(best)),
        },
        "started": started.isoformat() if started else None,
        "last_activity": last.isoformat() if last else None,
        "elapsed_s": elapsed,
        "remaining_s": remaining_estimate(durations, left, concurrency or counts["running"]),
        "top": [_row(t) for t in trials[: max(top, 0)]],
    }
    if record.multi:  # the Pareto front's size and each objective's extreme on it
        status["front"] = front_summary(study)
    warm = read_warm_start(study)
    if warm is not None:  # what a warm start added (history: never counted above)
        status["warm_start"] = warm
    return status


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
# (tuner.sweep.driver.archive); the study in its journal keeps the original name.
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


def sweep_summary(study: optuna.Study) -> dict[str, Any]:
    """One `tune ls` row of a study."""
    from tuner.study.ranking import best_trial

    record = SweepRecord.of(study)
    trials = own_trials(study.get_trials(deepcopy=False))  # no warm-start history
    counts = _counts(trials, None)
    best = best_trial(study)
    last = _last_activity(trials)
    return {
        "name": study.study_name,
        "complete": counts["done"],
        "pruned": counts["pruned"],
        "failed": counts["failed"],
        "running": counts["running"],
        "best": None if best is None else objective_value(best),
        "best_number": None if best is None else best.number,
        "metric": record.metric_name,
        "goal": record.goal,
        "last_activity": last.isoformat() if last else None,
    }


# ---------------------------------------------------------------- live progress
