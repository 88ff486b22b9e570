"""Per-trial overhead of a sweep, measured in one process (JSON on stdout).

1. N trials of a no-op objective (`tests.sweep.cheap:noop`, 1 epoch) through the full
   `tune run` path (`run_sweep`: the Optuna study in its journal file, MLflow parent and
   child runs in a SQLite store, our searcher and pruner scheduler, plots at the end),
   against, in the same process and on the same Ray instance:
   - plain Ray Tune: `OptunaSearch` + `reuse_actors=True` on an equivalent no-op function
     trainable, with Ray's defaults (its per-trial loggers, experiment snapshots);
   - the same with the Ray settings `tune run` uses (`tuner.sweep.driver._RAY_ENV`), which
     separates what those settings buy from what our own code costs;
   - plain Optuna in one process (in-memory study, `study.optimize`).
   All use TPE (seed 7) and the median pruner, at the same concurrency. Ray is started
   once, before anything is timed (`ray.init` is reported, not counted); a 2-trial Ray
   run warms up the driver's lazy imports first. ms per trial = wall time from building
   the run (for ours: the `run_sweep` call) to the end of the last trial, over N; the
   end of the sweep (leaderboard, plots, artifacts) is reported on its own. "steady" is
   the time between the first and the last trial's end over N - 1 (no start-up).
   Timers around our pieces (bridge, tracker, MLflow client, journal, Optuna) and Ray's
   (controller step, result processing, actor reset, snapshots, waiting on workers)
   say where the time goes; `--profile` adds the driver's cProfile top entries.
   Ours runs twice: with the MLflow writes in the writer process (the default,
   tuner/tracking/writer.py; its start — a fresh interpreter importing MLflow, which in
   `tune run` overlaps `ray.init` — is reported as `writer_start_wait_s`, not counted)
   and with them in the driver (`TUNER_MLFLOW_WRITER=inline`, as before the writer).
2. The makespan of S one-second trials (`tests.sweep.cheap:train`, sleep 1.0, 1 epoch)
   through `run_sweep` at concurrency 2 (from the call to the last trial's end), against
   the ideal S × 1 s / 2, with the writer process and inline; plain Ray Tune (as above,
   sleeping 1 s) is the reference.

3. The study's store (`--stores`): the driver's per-trial storage work (ask, a param, three
   trial attributes, one report per epoch, tell; TPE seed 7) in Optuna alone against the
   journal file (the default), SQLite (rollback journal) and SQLite in WAL mode, and the
   run of 1. end to end through `run_sweep` with each store (`--storage`); the journal's
   repair check on open (tuner/study/journal.py) timed on the journal that run wrote.

Ray workers import the objectives from the repository root (cwd and PYTHONPATH are set
here and passed on by `tuner.sweep.driver.ensure_ray`); everything is written to a temporary
folder, removed at the end.
Usage: python bench/overhead.py [--quick] [--trials N] [--sleep-trials S] [--concurrency C]
                                [--stores journal,sqlite,sqlite-wal]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import load

ROOT = Path(__file__).resolve().parent.parent
SEED = 7

NOOP_SPACE = """\
name: {name}
objective: tests.sweep.cheap:noop
metric: {{name: score, goal: maximize}}
budget: {{trials: {trials}, max_epochs: 1}}
concurrency: {concurrency}
resources: {{cpu: 1, gpu: 0}}
sampler: {{type: tpe, seed: {seed}}}
pruner: {{type: median}}
params:
  x: {{float: [0.0, 1.0]}}
"""

SLEEP_SPACE = """\
name: {name}
objective: tests.sweep.cheap:train
metric: {{name: score, goal: maximize}}
budget: {{trials: {trials}, max_epochs: 1}}
concurrency: 2
resources: {{cpu: 1, gpu: 0}}
sampler: {{type: tpe, seed: {seed}}}
pruner: {{type: none}}
fixed: {{sleep: 1.0}}
params:
  x: {{float: [0.0, 1.0]}}
"""


def ms(seconds: float, trials: int) -> float:
    return round(1000 * seconds / max(trials, 1), 1)


class Timers:
    """Inclusive wall time and call counts of wrapped methods (timers nest: a bridge call
    includes the tracker and journal calls made inside it). A call made on the main
    thread inside a `scope` method is also counted as `<scope>/<name>`."""

    def __init__(self) -> None:
        self.data: dict[str, list[float]] = {}
        self.scope: str | None = None
        self._restore: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, attr: str, name: str, scope: str | None = None) -> None:
        original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        data, main = self.data, threading.main_thread()

        def timed(*args: Any, **kwargs: Any) -> Any:
            outer = self.scope
            on_main = threading.current_thread() is main
            if scope and on_main and outer is None:
                self.scope = scope
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                seconds = time.perf_counter() - start
                self.scope = outer if on_main else self.scope
                keys = [name, f"{outer}/{name}"] if outer and on_main else [name]
                for key in keys:
                    entry = data.setdefault(key, [0, 0.0])
                    entry[0] += 1
                    entry[1] += seconds

        setattr(owner, attr, timed)
        self._restore.append((owner, attr, original))

    def reset(self) -> None:
        self.data.clear()

    def report(self, trials: int) -> dict[str, dict[str, float]]:
        return {
            name: {"calls": int(calls), "ms_per_trial": ms(seconds, trials)}
            for name, (calls, seconds) in sorted(self.data.items(), key=lambda kv: -kv[1][1])
        }

    def undo(self) -> None:
        for owner, attr, original in reversed(self._restore):
            setattr(owner, attr, original)
        self._restore.clear()


def instrument(timers: Timers) -> None:
    import mlflow.tracking
    import optuna
    import ray
    from optuna.storages.journal import JournalFileBackend, JournalStorage
    from ray.tune.callback import CallbackList
    from ray.tune.execution.tune_controller import TuneController
    from ray.tune.search.optuna import OptunaSearch

    import tuner.search.distributions
    import tuner.sweep.driver
    from tuner.sweep.bridge import Bridge
    from tuner.sweep.progress import Progress
    from tuner.tracking.runs import Tracker

    for attr in ("ask", "record", "finish"):
        timers.wrap(Bridge, attr, f"ours.bridge.{attr}", scope="bridge")
    for attr in ("start_trial", "log_metrics", "set_tags", "end_trial", "_write"):
        timers.wrap(Tracker, attr, f"ours.tracker.{attr}")
    for attr in ("create_run", "log_batch", "set_terminated"):
        timers.wrap(mlflow.tracking.MlflowClient, attr, f"mlflow.client.{attr}")
    for attr in ("trial_started", "epoch", "trial_finished"):
        timers.wrap(Progress, attr, f"ours.progress.{attr}")
    timers.wrap(tuner.search.distributions, "suggest", "ours.space.suggest")
    timers.wrap(tuner.sweep.driver, "_study", "ours.sweep.open_study")
    timers.wrap(optuna.study.Study, "ask", "optuna.study.ask")
    timers.wrap(optuna.study.Study, "tell", "optuna.study.tell")
    for attr in ("report", "should_prune", "set_user_attr"):
        timers.wrap(optuna.trial.Trial, attr, f"optuna.trial.{attr}")
    timers.wrap(optuna.samplers.TPESampler, "sample_independent", "optuna.tpe.sample_independent")
    timers.wrap(optuna.samplers.TPESampler, "sample_relative", "optuna.tpe.sample_relative")
    timers.wrap(JournalFileBackend, "append_logs", "optuna.journal.append (fsync)")
    timers.wrap(JournalStorage, "_sync_with_backend", "optuna.journal.read")
    for attr in ("suggest", "on_trial_result", "on_trial_complete"):
        timers.wrap(OptunaSearch, attr, f"ray_baseline.OptunaSearch.{attr}")
    for attr in ("step", "checkpoint", "_process_trial_result", "_schedule_trial_reset"):
        timers.wrap(TuneController, attr, f"ray.controller.{attr}")
    timers.wrap(TuneController, "_maybe_update_trial_queue", "ray.controller.ask_searcher")
    timers.wrap(TuneController, "_maybe_add_actors", "ray.controller.add_actors")
    for attr in ("on_trial_result", "on_trial_complete", "on_trial_start", "on_step_end"):
        timers.wrap(CallbackList, attr, f"ray.callbacks.{attr}")
    timers.wrap(ray, "wait", "ray.wait (driver idle: waiting on workers)")


@contextlib.contextmanager
def ray_defaults() -> Iterator[None]:
    """Ray's own driver-side defaults for one run (per-trial loggers, snapshot period,
    metric checks: every TUNE_* setting `tune run` exports in `tuner.sweep.driver._RAY_ENV`).
    The RAY_* ones stay: workers and the Ray instance were started with them."""
    from tuner.sweep.driver import _RAY_ENV

    keys = [k for k in _RAY_ENV if k.startswith("TUNE_")]
    saved = {k: os.environ.pop(k) for k in keys if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def ray_noop(config: dict[str, Any]) -> None:
    """The no-op function trainable of the Ray baseline (pickled by value: no import)."""
    from ray import tune

    if config.get("sleep"):
        time.sleep(config["sleep"])
    tune.report({"score": config["x"], "loss": 0.0, "epoch": 1})


def ray_baseline(
    trials: int,
    concurrency: int,
    work: Path,
    name: str,
    timers: Timers,
    plain: bool,
    sleep: float = 0.0,
) -> dict[str, Any]:
    import optuna
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    ends: list[float] = []

    class Ends(tune.Callback):
        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any):
            ends.append(time.perf_counter())

    timers.reset()
    with ray_defaults() if plain else contextlib.nullcontext():
        start = time.perf_counter()
        searcher = OptunaSearch(
            metric="score",
            mode="max",
            sampler=optuna.samplers.TPESampler(seed=SEED),
        )
        runner = tune.Tuner(
            tune.with_resources(ray_noop, {"cpu": 1}),
            param_space={"x": tune.uniform(0.0, 1.0), "sleep": sleep},
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                num_samples=trials,
                max_concurrent_trials=concurrency,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=name, storage_path=str(work / "ray"), verbose=0, callbacks=[Ends()]
            ),
        )
        grid = runner.fit()
        total = time.perf_counter() - start
    done = sum(r.metrics.get("score") is not None for r in grid)
    return {
        "trials_done": done,
        "ms_per_trial": ms(total, trials),
        "steady_ms_per_trial": ms(ends[-1] - ends[0], len(ends) - 1) if len(ends) > 1 else None,
        "first_trial_end_s": round(ends[0] - start, 2) if ends else None,
        "until_last_trial_s": round(ends[-1] - start, 2) if ends else None,
        "wall_s": round(total, 2),
        "timers": timers.report(trials),
    }


def plain_optuna(trials: int, timers: Timers) -> dict[str, Any]:
    import optuna

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.report(x, 1)
        if trial.should_prune():
            raise optuna.TrialPruned()
        return x

    timers.reset()
    start = time.perf_counter()
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=SEED),
        pruner=optuna.pruners.MedianPruner(),
    )
    study.optimize(objective, n_trials=trials)
    total = time.perf_counter() - start
    return {"ms_per_trial": ms(total, trials), "timers": timers.report(trials)}


def ours(
    text: str,
    results: Path,
    timers: Timers,
    trials: int,
    plots: bool,
    profile: bool,
    store: str | None = None,
) -> dict[str, Any]:
    """One `run_sweep` of a space file's text: ms per trial up to the last trial's end,
    the end of the sweep on its own, and the timers."""
    import tuner.sweep.driver
    from tuner.space.load import parse_spec
    from tuner.sweep.bridge import Bridge
    from tuner.sweep.driver import RunOptions, run_sweep
    from tuner.tracking.writer import RemoteTracker

    spec = parse_spec(text, results / "space.yaml")
    marks: dict[str, float] = {"writer_wait": 0.0}
    ends: list[float] = []
    finish, end_of_sweep = Bridge.finish, tuner.sweep.driver._finish
    ready = RemoteTracker.ready

    def timed_ready(self: Any) -> Any:
        began = time.perf_counter()
        try:
            return ready(self)
        finally:
            marks["writer_wait"] += time.perf_counter() - began

    def timed_finish(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return finish(self, *args, **kwargs)
        finally:
            ends.append(time.perf_counter())

    def timed_end(*args: Any, **kwargs: Any) -> Any:
        marks["fit_end"] = time.perf_counter()
        if profiler is not None:
            profiler.disable()
        try:
            return end_of_sweep(*args, **kwargs)
        finally:
            marks["end"] = time.perf_counter()

    Bridge.finish, tuner.sweep.driver._finish = timed_finish, timed_end
    RemoteTracker.ready = timed_ready  # type: ignore[method-assign]
    profiler = cProfile.Profile() if profile else None
    timers.reset()
    try:
        start = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        options = RunOptions(results=results, storage=store, quiet=True, track=True, plots=plots)
        outcome = run_sweep(spec, options)
    finally:
        Bridge.finish, tuner.sweep.driver._finish = finish, end_of_sweep
        RemoteTracker.ready = ready  # type: ignore[method-assign]
        if profiler is not None:
            profiler.disable()
    fit = marks["fit_end"] - start
    wait = marks["writer_wait"]
    out = {
        "trials": trials,
        "counts": outcome.counts,
        # (the writer process's start — a fresh interpreter importing MLflow — overlaps
        # `ray.init` in `tune run`; here Ray is up already, so it is reported on its own)
        "ms_per_trial": ms(fit - wait, trials),
        "ms_per_trial_with_writer_start": ms(fit, trials),
        "writer_start_wait_s": round(wait, 2),
        "steady_ms_per_trial": ms(ends[-1] - ends[0], len(ends) - 1) if len(ends) > 1 else None,
        "first_trial_end_s": round(ends[0] - start, 2) if ends else None,
        "until_last_trial_s": round(ends[-1] - start, 2) if ends else None,
        "end_of_sweep_s": round(marks["end"] - marks["fit_end"], 2),
        "plots": len(outcome.plots),
        "timers": timers.report(trials),
    }
    if profiler is not None:
        out["profile_top_tottime"] = top_entries(profiler, trials)
    return out


def inline(run: Any, *args: Any) -> Any:
    """`run(*args)` with the MLflow writes in the driver (`TUNER_MLFLOW_WRITER=inline`),
    as before the writer process: the comparison the writer has to win."""
    os.environ["TUNER_MLFLOW_WRITER"] = "inline"
    try:
        return run(*args)
    finally:
        del os.environ["TUNER_MLFLOW_WRITER"]


def top_entries(profiler: cProfile.Profile, trials: int, count: int = 25) -> list[str]:
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    for (path, line, func), (_, ncalls, tottime, cumtime, _) in stats.stats.items():
        where = f"{Path(path).parent.name}/{Path(path).name}:{line}({func})"
        rows.append((tottime, cumtime, ncalls, where))
    rows.sort(reverse=True)
    return [
        f"{ms(t, trials):7.2f} ms/trial self, {ms(c, trials):7.2f} cum, {n:6d} calls  {w}"
        for t, c, n, w in rows[:count]
    ]


def breakdown(run: dict[str, Any], ray_floor: dict[str, Any] | None) -> dict[str, Any]:
    """ms per trial of one `ours` run, split by its timers: our code (the bridge's ask,
    record and finish, which hold every MLflow and journal call of the trials) and the
    rest (Ray's controller, its first actor's start, waiting on the worker)."""

    def get(*names: str) -> float:
        return sum(run["timers"].get(n, {}).get("ms_per_trial", 0.0) for n in names)

    code = get("ours.bridge.ask", "ours.bridge.record", "ours.bridge.finish")
    mlflow = get("bridge/mlflow.client.create_run", "bridge/mlflow.client.log_batch")
    mlflow += get("bridge/mlflow.client.set_terminated")
    journal = get("bridge/optuna.journal.append (fsync)", "bridge/optuna.journal.read")
    sampling = get("bridge/optuna.tpe.sample_independent", "bridge/optuna.tpe.sample_relative")
    out: dict[str, Any] = {
        "total": run["ms_per_trial"],
        "ours_code": round(code, 1),
        "ours_code_mlflow_calls": round(mlflow, 1),
        "ours_code_journal_io": round(journal, 1),
        "ours_code_tpe_sampling": round(sampling, 1),
        "ours_code_other": round(code - mlflow - journal - sampling, 1),
        "ray_and_the_rest": round(run["ms_per_trial"] - code, 1),
    }
    if ray_floor is not None:
        out["ray_first_actor_start_share"] = ms(ray_floor["first_trial_end_s"], run["trials"])
        out["ray_steady_floor_with_our_settings"] = ray_floor["steady_ms_per_trial"]
    return out


STORES = ("journal", "sqlite", "sqlite-wal")


def store_url(kind: str, folder: Path) -> str:
    """A fresh study store of a kind in `folder`; WAL mode is a property of the SQLite file
    (it persists once set), so it is set before Optuna creates its tables."""
    import sqlite3

    folder.mkdir(parents=True, exist_ok=True)
    if kind == "journal":
        return f"journal:{folder / 'study.journal'}"
    path = folder / "study.db"
    if kind == "sqlite-wal":
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("PRAGMA journal_mode=WAL")
    return f"sqlite:///{path}"


def storage_alone(kind: str, trials: int, folder: Path, epochs: int = 3) -> dict[str, Any]:
    """ms per trial of what a sweep's driver asks of its study per trial, in Optuna alone."""
    import optuna

    from tuner.study import storage

    url = store_url(kind, folder)
    start = time.perf_counter()
    study = optuna.create_study(
        study_name="s",
        storage=storage.open_storage(url),
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=SEED),
    )
    opened = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(trials):
        trial = study.ask()
        x = trial.suggest_float("x", 0.0, 1.0)
        for key, value in (("config", {"x": x}), ("ray_trial_id", f"t{i}"), ("run_id", "r")):
            trial.set_user_attr(key, value)
        for epoch in range(1, epochs + 1):
            trial.report(x * epoch, epoch)
        study.tell(trial, x * epochs)
    total = time.perf_counter() - start
    start = time.perf_counter()
    optuna.load_study(study_name="s", storage=storage.open_storage(url)).get_trials()
    return {
        "ms_per_trial": ms(total, trials),
        "create_s": round(opened, 3),
        "reopen_and_read_s": round(time.perf_counter() - start, 3),
    }


def repair_check(journal: Path, rounds: int = 5) -> dict[str, Any]:
    """The cost of the torn-journal check every open pays (a scan of a whole journal)."""
    from tuner.study.journal import scan

    start = time.perf_counter()
    for _ in range(rounds):
        assert scan(journal.read_bytes()) is None
    seconds = (time.perf_counter() - start) / rounds
    lines = journal.read_bytes().count(b"\n")
    return {
        "journal_bytes": journal.stat().st_size,
        "journal_lines": lines,
        "scan_ms": round(1000 * seconds, 2),
    }


def mlflow_store(results: Path) -> float:
    """Create the MLflow store (schema) once, as any earlier sweep in `results` would."""
    from tuner.tracking.runs import Tracker, default_tracking_uri

    start = time.perf_counter()
    Tracker(default_tracking_uri(results), results / "mlartifacts")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 no-op and 10 sleep trials")
    parser.add_argument("--trials", type=int, help="no-op trials per run (default 100)")
    parser.add_argument("--sleep-trials", type=int, help="one-second trials (default 40)")
    parser.add_argument("--concurrency", type=int, default=1, help="for the no-op runs")
    parser.add_argument("--no-plots", action="store_true", help="skip the end-of-sweep plots")
    parser.add_argument("--profile", action="store_true", help="cProfile ours (driver)")
    parser.add_argument(
        "--stores",
        default="journal,sqlite,sqlite-wal",
        help="study stores to compare in 3 (comma-separated; '' skips 3)",
    )
    args = parser.parse_args()
    trials = args.trials or (30 if args.quick else 100)
    sleepers = args.sleep_trials or (10 if args.quick else 40)
    if trials < 2 or sleepers < 2:
        sys.exit("bench: --trials and --sleep-trials must be 2 or more")
    stores = [k for k in args.stores.split(",") if k]
    if set(stores) - set(STORES):
        sys.exit(f"bench: --stores takes {', '.join(STORES)}")
    args.stores = stores
    started = time.perf_counter()
    load_before = load()

    # Ray workers import tests.sweep.cheap from the repository root: cwd and PYTHONPATH
    # (passed on to workers by ensure_ray). Our own local Ray, whatever RAY_ADDRESS says.
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    os.environ.pop("RAY_ADDRESS", None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    work = Path(tempfile.mkdtemp(prefix="tuner-bench-overhead-"))
    try:
        result = measure(args, trials, sleepers, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["load_average"] = {"before": load_before, "after": load()}
    result["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=2))


def measure(args: argparse.Namespace, trials: int, sleepers: int, work: Path) -> dict[str, Any]:
    from tuner.sweep.driver import _RAY_ENV, ensure_ray

    start = time.perf_counter()
    ray = ensure_ray()
    ray_init_s = time.perf_counter() - start
    try:
        start = time.perf_counter()
        import matplotlib  # noqa: F401  (what the end of a sweep imports for its plots)
        import mlflow  # noqa: F401
        import optuna
        import ray.tune
        import ray.tune.search.optuna

        import tuner.sweep.bridge
        import tuner.sweep.ray_adapters
        import tuner.tracking.runs  # noqa: F401

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        imports_s = time.perf_counter() - start
        timers = Timers()
        instrument(timers)
        start = time.perf_counter()
        ray_baseline(2, args.concurrency, work, "warmup", timers, plain=True)
        warmup_s = time.perf_counter() - start
        results = work / "results"
        store_s = mlflow_store(results)

        c = args.concurrency
        noop = NOOP_SPACE.format(name="noop", trials=trials, concurrency=c, seed=SEED)
        runs = {
            "ray_plain": ray_baseline(trials, c, work, "plain", timers, plain=True),
            "ours": ours(noop, results, timers, trials, not args.no_plots, args.profile),
            "ours_mlflow_inline": inline(
                ours,
                NOOP_SPACE.format(name="noop_inline", trials=trials, concurrency=c, seed=SEED),
                results,
                timers,
                trials,
                not args.no_plots,
                False,
            ),
            "ray_with_our_settings": ray_baseline(trials, c, work, "tuned", timers, plain=False),
            "optuna_plain": plain_optuna(trials, timers),
        }
        sleep_text = SLEEP_SPACE.format(name="sleep", trials=sleepers, seed=SEED)
        sleep = ours(sleep_text, results, timers, sleepers, False, False)
        sleep_text = SLEEP_SPACE.format(name="sleep_inline", trials=sleepers, seed=SEED)
        sleep_inline = inline(ours, sleep_text, results, timers, sleepers, False, False)
        ray_sleep = ray_baseline(sleepers, 2, work, "sleep", timers, plain=True, sleep=1.0)
        stores: dict[str, Any] = {"alone": {}, "end_to_end": {}}
        for kind in args.stores:
            stores["alone"][kind] = storage_alone(kind, trials, work / "alone" / kind)
            name = f"noop_{kind.replace('-', '_')}"
            text = NOOP_SPACE.format(name=name, trials=trials, concurrency=c, seed=SEED)
            url = None if kind == "journal" else store_url(kind, work / "stores" / kind)
            run = ours(text, results, timers, trials, False, False, store=url)
            stores["end_to_end"][kind] = {
                k: run[k] for k in ("ms_per_trial", "steady_ms_per_trial", "counts")
            }
        if "journal" in args.stores:
            journal = results / "noop_journal" / "study.journal"
            stores["journal_repair_check"] = repair_check(journal)
        timers.undo()
    finally:
        ray.shutdown()

    mine, plain, tuned = runs["ours"], runs["ray_plain"], runs["ray_with_our_settings"]
    ideal = sleepers * 1.0 / 2
    makespan = sleep["until_last_trial_s"]
    targets = {"ours_over_ray_plain_max": 1.0, "makespan_over_ideal_max": 1.10}
    ratios = {
        "ours_over_ray_plain": round(mine["ms_per_trial"] / plain["ms_per_trial"], 2),
        "ours_with_writer_start_over_ray_plain": round(
            mine["ms_per_trial_with_writer_start"] / plain["ms_per_trial"], 2
        ),
        "ours_mlflow_inline_over_ray_plain": round(
            runs["ours_mlflow_inline"]["ms_per_trial"] / plain["ms_per_trial"], 2
        ),
        "makespan_mlflow_inline_over_ideal": round(sleep_inline["until_last_trial_s"] / ideal, 3),
        "ours_over_ray_with_our_settings": round(mine["ms_per_trial"] / tuned["ms_per_trial"], 2),
        "ours_over_optuna_plain": round(
            mine["ms_per_trial"] / runs["optuna_plain"]["ms_per_trial"], 1
        ),
        "steady_ours_over_ray_plain": round(
            mine["steady_ms_per_trial"] / plain["steady_ms_per_trial"], 2
        ),
        "makespan_over_ideal": round(makespan / ideal, 3),
        "ray_plain_makespan_over_ideal": round(ray_sleep["until_last_trial_s"] / ideal, 3),
    }
    return {
        "bench": "overhead",
        "quick": args.quick,
        "setup": {
            "trials": trials,
            "concurrency": args.concurrency,
            "plots": not args.no_plots,
            "sampler": f"TPE (seed {SEED}) everywhere; median pruner everywhere",
            "cpus": os.cpu_count(),
            "ray_init_s": round(ray_init_s, 2),
            "imports_s": round(imports_s, 2),
            "ray_warmup_run_s": round(warmup_s, 2),
            "mlflow_store_creation_s": round(store_s, 2),
            "ray_settings_of_ours": _RAY_ENV,
        },
        "1_noop_trials": {
            "ms_per_trial": {k: v["ms_per_trial"] for k, v in runs.items()},
            "steady_ms_per_trial": {
                k: v.get("steady_ms_per_trial") for k, v in runs.items() if k != "optuna_plain"
            },
            "first_trial_end_s": {
                k: v.get("first_trial_end_s") for k, v in runs.items() if k != "optuna_plain"
            },
            "ours_end_of_sweep_s": mine["end_of_sweep_s"],
            "ours_counts": mine["counts"],
            "where_the_time_goes_ms_per_trial": breakdown(mine, tuned),
            "runs": runs,
        },
        "2_makespan": {
            "trials": sleepers,
            "concurrency": 2,
            "seconds_per_trial": 1.0,
            "ideal_s": ideal,
            "makespan_s": makespan,
            "first_trial_end_s": sleep["first_trial_end_s"],
            "end_of_sweep_s": sleep["end_of_sweep_s"],
            "counts": sleep["counts"],
            "makespan_mlflow_inline_s": sleep_inline["until_last_trial_s"],
            "ray_plain_makespan_s": ray_sleep["until_last_trial_s"],
            "ray_plain_first_trial_end_s": ray_sleep["first_trial_end_s"],
            "ours_code_ms_per_trial": breakdown(sleep, None)["ours_code"],
        },
        "3_storage": stores,
        "ratios": ratios,
        "targets": targets,
        "met": {
            "ours_over_ray_plain": ratios["ours_over_ray_plain"]
            <= targets["ours_over_ray_plain_max"],
            "makespan": ratios["makespan_over_ideal"] <= targets["makespan_over_ideal_max"],
        },
    }


if __name__ == "__main__":
    main()
