"""tuner as a library: what `tune run`, `tune resume` and `tune best` do, as functions.

    import tuner

    spec = tuner.load_space("search_spaces/tiny.yaml")
    outcome = tuner.run(spec, results="results", quiet=True)
    best = tuner.best_trial(outcome.name, results="results")
    print(best.number, best.value, best.config)
    tuner.export_best(outcome.name, results="results")  # results/<name>/best/

The command line calls these same functions and only adds the printing. Errors are the
`tuner.errors` hierarchy (a `ConfigError` for a bad space file, and so on); nothing here
prints except the sweep's own progress (off with `quiet=True`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.errors import ConfigError

if TYPE_CHECKING:
    from tuner.space.model import SweepSpec
    from tuner.sweep.driver import Outcome

PathLike = str | Path


def _at_least_one(**values: int | None) -> None:
    for option, value in values.items():
        if value is not None and value < 1:
            raise ConfigError(f"--{option} {value}: expected 1 or more")


def load_space(
    path: PathLike, *, trials: int | None = None, concurrency: int | None = None
) -> SweepSpec:
    """Read and check a space file completely (its objective included), as `tune run`
    does before anything starts; `trials`/`concurrency` override its budget."""
    from tuner.space.load import load_spec

    _at_least_one(trials=trials, concurrency=concurrency)
    return load_spec(Path(path), trials=trials, concurrency=concurrency)


def run(
    space: PathLike | SweepSpec,
    *,
    results: PathLike | None = None,
    storage: str | None = None,
    tracking_uri: str | None = None,
    trials: int | None = None,
    concurrency: int | None = None,
    fresh: bool = False,
    address: str | None = None,
    trial_storage: PathLike | None = None,
    quiet: bool = False,
    warm_start_from: Sequence[str] = (),
    warm_start_storage: str | None = None,
) -> Outcome:
    """Run the sweep of `space` (a space file or a loaded spec) to its budget, or resume
    it if its study exists (same name, same space); `fresh` archives an existing one and
    starts over. `warm_start_from` (replacing the file's `warm_start` list) names earlier
    sweeps whose history a new sweep starts from, found in `warm_start_storage` (default:
    where this sweep's study is). Returns the Outcome: counts, the best trial, the
    leaderboard's path, and whether (and by which signal) it was interrupted."""
    from tuner.space.load import is_sweep_name
    from tuner.space.model import SweepSpec

    _at_least_one(trials=trials, concurrency=concurrency)
    for name in warm_start_from:
        if not is_sweep_name(name):
            raise ConfigError(
                f"--warm-start-from {name!r}: not a sweep name",
                hint="letters, digits, '.', '_' or '-', as `tune ls` lists them",
            )
    if isinstance(space, SweepSpec):
        spec = space.with_overrides(trials=trials, concurrency=concurrency)
    else:
        spec = load_space(space, trials=trials, concurrency=concurrency)
    spec = spec.with_warm_start(tuple(warm_start_from), warm_start_storage)
    return _run(spec, results, storage, tracking_uri, fresh, address, trial_storage, quiet)


def resume(
    name: str,
    *,
    results: PathLike | None = None,
    storage: str | None = None,
    tracking_uri: str | None = None,
    trials: int | None = None,
    concurrency: int | None = None,
    address: str | None = None,
    trial_storage: PathLike | None = None,
    quiet: bool = False,
) -> Outcome:
    """Continue sweep `name` from its study alone (it keeps its space file): unfinished
    trials continue from their checkpoints, the rest of the budget runs."""
    from tuner.study.records import SweepRecord
    from tuner.study.storage import find_study, results_dir

    _at_least_one(trials=trials, concurrency=concurrency)
    study = find_study(results_dir(results), name, storage)
    spec = SweepRecord.of(study).spec(check_objective=True)
    if spec is None:
        raise ConfigError(f"sweep '{name}' keeps no space file", hint="run it with `tune run`")
    spec = spec.with_overrides(trials=trials, concurrency=concurrency)
    return _run(spec, results, storage, tracking_uri, False, address, trial_storage, quiet)


def _run(
    spec: SweepSpec,
    results: PathLike | None,
    storage: str | None,
    tracking_uri: str | None,
    fresh: bool,
    address: str | None,
    trial_storage: PathLike | None,
    quiet: bool,
) -> Outcome:
    import os

    from tuner.atomic import writable_folder
    from tuner.study.storage import results_dir
    from tuner.sweep import cluster
    from tuner.sweep.driver import RunOptions, run_sweep
    from tuner.tracking.uri import check_writable_store, resolve_tracking_uri

    # a cluster address where nothing answers: one line at once, before anything is written
    cluster.check_reachable(address or os.environ.get("RAY_ADDRESS"))
    folder = results_dir(results)
    uri = resolve_tracking_uri(folder, tracking_uri)
    if f"{folder}{os.sep}" in uri:  # the default store in the results folder
        writable_folder(folder, "--results")
    check_writable_store(uri)  # before the results folder is made for another store
    writable_folder(folder, "--results")
    options = RunOptions(
        results=folder,
        storage=storage,
        tracking_uri=tracking_uri,
        address=address,
        trial_storage=Path(trial_storage) if trial_storage else None,
        quiet=quiet,
    )
    return run_sweep(spec, options, fresh=fresh)


@dataclass(frozen=True)
class BestTrial:
    """A sweep's best COMPLETE trial (so far, on a running sweep)."""

    sweep: str
    number: int
    metric: str
    goal: str
    value: float
    params: dict[str, Any]  # as sampled (a list choice as its list)
    config: dict[str, Any]  # the complete config it ran with: retrain it with `tune train`
    epochs: int
    trial_dir: Path
    mlflow_run_id: str | None
    value_epoch: int | None = None  # the epoch its value (and its model) is from


def best_trial(
    name: str,
    *,
    results: PathLike | None = None,
    storage: str | None = None,
    number: int | None = None,
) -> BestTrial:
    """The best COMPLETE trial of sweep `name` (or COMPLETE trial `number`); a
    ConfigError if it has none."""
    from tuner.study import best
    from tuner.study.ranking import objective_value
    from tuner.study.records import SweepRecord
    from tuner.study.storage import results_dir, trial_root

    folder = results_dir(results)
    study = best.load_sweep(folder, name, storage)
    trial = best.pick_trial(study, number)
    row = best.trial_row(trial, trial_root(study, folder), name)
    metric = SweepRecord.of(study).metric
    value = objective_value(trial)
    assert value is not None  # pick_trial returns a COMPLETE trial with a finite value
    return BestTrial(
        sweep=name,
        number=trial.number,
        metric=metric.name,
        goal=metric.goal,
        value=float(value),
        params=row["params"],
        config=best.trial_config(study, trial),
        epochs=row["epochs"],
        trial_dir=Path(row["trial_dir"]),
        mlflow_run_id=row["mlflow_run_id"],
        value_epoch=row["value_epoch"],
    )


def export_best(
    name: str,
    out: PathLike | None = None,
    *,
    results: PathLike | None = None,
    storage: str | None = None,
    number: int | None = None,
) -> Path:
    """`tune best NAME --export`: the best (or COMPLETE trial `number`) trial's config,
    servable model, metrics and narrowed space file in `out` (default
    results/<name>/best/), written all at once; returns the folder."""
    from tuner.study import best
    from tuner.study.storage import results_dir

    folder = results_dir(results)
    study = best.load_sweep(folder, name, storage)
    return best.export_best(study, folder, name, out, number)
