"""`tune run`: one sweep, wired end to end.

The Optuna study (in persistent storage) is the source of truth; Ray Tune runs the
trials in reused worker processes, with our searcher asking the study and our scheduler
asking the study's pruner; MLflow gets one parent run per sweep and one child run per
trial. Every path is absolute before Ray starts (Ray changes trial working directories
and would otherwise write to ~/ray_results), and Ray's own per-trial loggers and
frequent experiment snapshots are off: the study and MLflow already hold all of it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tuner import storage
from tuner.redact import mask_text, strip_credentials
from tuner.spec import SweepSpec
from tuner.sweep_lock import SweepLock, check_same_sweep

# Set before Ray is imported: no per-trial result.json/progress.csv/event files, no
# chdir into trial folders, experiment snapshots rarely (the study is the record).
_RAY_ENV = {
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_CHDIR_TO_TRIAL_DIR": "0",
    "TUNE_GLOBAL_CHECKPOINT_S": "600",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "1000000",
    "RAY_DEDUP_LOGS": "0",
    "TUNE_DISABLE_SIGINT_HANDLER": "1",  # tuner owns Ctrl-C (graceful first, then at once)
    "RAY_TRAIN_V2_ENABLED": "0",
    "RAY_AIR_NEW_OUTPUT": "0",  # the old reporter honours verbose=0: no banner tables
    # A failing trial's last report carries its reason, not the metric: Ray's strict
    # check would raise on it and end the whole sweep (the bridge checks metrics itself).
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",
}


@dataclass
class RunOptions:
    results: Path | None = None
    storage: str | None = None
    tracking_uri: str | None = None
    address: str | None = None  # a Ray cluster (HOST:PORT or auto); default: $RAY_ADDRESS
    trial_storage: Path | None = None  # holds <name>/trials/<n>; every node must reach it
    quiet: bool = False
    stream: TextIO = field(default_factory=lambda: sys.stdout)
    track: bool = True  # MLflow on (off only for overhead measurements)
    plots: bool = True


@dataclass
class Outcome:
    name: str
    study: Any
    results: Path
    counts: dict[str, int]
    epochs: int
    elapsed: float
    best_value: float | None
    best_number: int | None
    leaderboard: Path | None
    plots: list[Path]
    runs_url: str | None
    stopped: str | None
    interrupted: bool = False


UI_BASE = "http://127.0.0.1:5000"  # where `tune ui` serves


def configure_ray_env() -> None:
    for key, value in _RAY_ENV.items():
        os.environ.setdefault(key, value)


def ensure_ray(num_cpus: int | None = None, address: str | None = None) -> Any:
    """Connect to the cluster at `address` (HOST:PORT or `auto`; default: $RAY_ADDRESS), or
    start a local Ray, unless already up. A cluster started with token authentication
    needs RAY_AUTH_MODE=token and its token (~/.ray/auth_token, RAY_AUTH_TOKEN or
    RAY_AUTH_TOKEN_PATH) in this process's environment, as on every node."""
    configure_ray_env()
    import ray

    if not ray.is_initialized():
        path = [os.getcwd(), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        address = address or os.environ.get("RAY_ADDRESS") or None
        _mask_ray_entrypoint()
        ray.init(
            address=address,
            num_cpus=None if address else num_cpus,  # a cluster has its own
            include_dashboard=False,
            log_to_driver=False,
            logging_level="ERROR",
            runtime_env={"env_vars": _worker_env(path)},
        )
    return ray


def _mask_ray_entrypoint() -> None:
    """Ray keeps the driver's command line in the cluster's job table (dashboard, `ray
    list jobs`): keep it there without the passwords of --storage/--tracking-uri."""
    try:
        from ray._private import utils
    except ImportError:  # pragma: no cover - a Ray without it records nothing to mask
        return
    original = getattr(utils, "get_entrypoint_name", None)
    if original is None or getattr(original, "tuner_masked", False):
        return

    def masked() -> str:
        return mask_text(original())

    masked.tuner_masked = True  # type: ignore[attr-defined]
    utils.get_entrypoint_name = masked


def _worker_env(path: list[str]) -> dict[str, str]:
    # TUNER_DRIVER_PID: for faults.point in workers. Only the workers get it: set in this
    # process's environment, a later child of the driver (a `tune best` run by a test,
    # say) would inherit it and kill the driver instead of itself.
    env = {"PYTHONPATH": os.pathsep.join(path), "TUNER_DRIVER_PID": str(os.getpid())}
    for key in ("TUNER_FAULT", "TUNER_DETERMINISTIC", "TUNER_CACHE_DIR"):
        if os.environ.get(key):
            env[key] = os.environ[key]
    return env


def _resources(spec: SweepSpec, ray: Any, warn: TextIO) -> dict[str, float]:
    gpu = spec.resources.gpu
    if gpu and not ray.cluster_resources().get("GPU"):
        print(
            f"tune: warning: resources.gpu={gpu} but the Ray cluster has no GPU; "
            "running on CPUs (a GPU request would wait forever)",
            file=warn,
        )
        gpu = 0
    return {"cpu": spec.resources.cpu, "gpu": gpu}


def _study(spec: SweepSpec, url: str) -> Any:
    import optuna

    from tuner.space import make_pruner, make_sampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        study_name=spec.name,
        storage=storage.open_storage(url),
        sampler=make_sampler(spec),
        pruner=make_pruner(spec),
        direction=spec.metric.direction,
        load_if_exists=True,
    )


def _describe(study: Any, spec: SweepSpec) -> None:
    """Keep in the study what other verbs (status, best, resume) need."""
    import uuid

    attrs = {
        storage.ATTR_SPACE: spec.source,
        storage.ATTR_SPACE_PATH: str(spec.path) if spec.path else None,
        storage.ATTR_OBJECTIVE: spec.objective,
        storage.ATTR_METRIC: spec.metric.name,
        storage.ATTR_GOAL: spec.metric.goal,
        storage.ATTR_MAX_EPOCHS: spec.budget.max_epochs,
        storage.ATTR_TRIALS: spec.budget.trials,
        storage.ATTR_CONCURRENCY: spec.concurrency,
    }
    if storage.ATTR_UID not in study.user_attrs:
        attrs[storage.ATTR_UID] = uuid.uuid4().hex
    for key, value in attrs.items():
        if study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)


def archive(spec: SweepSpec, results: Path, url: str) -> str:
    """--fresh: move the old sweep aside under `<name>.archived-<time>` (never delete)."""
    import optuna

    name = f"{spec.name}.archived-{time.strftime('%Y%m%d-%H%M%S')}"
    directory = storage.sweep_dir(results, spec.name)
    default = url == storage.storage_url(results, spec.name)
    trials = None  # the old sweep's trial folders, when they live outside `results`
    if not default or (directory / storage.JOURNAL).exists():
        try:
            old = optuna.load_study(study_name=spec.name, storage=storage.open_storage(url))
            root = storage.trial_root(old, results)
            trials = storage.sweep_dir(root, spec.name) if root != results else None
        except KeyError:
            pass
    if not default:
        try:
            optuna.copy_study(
                from_study_name=spec.name,
                from_storage=storage.open_storage(url),
                to_storage=storage.open_storage(url),
                to_study_name=name,
            )
            optuna.delete_study(study_name=spec.name, storage=storage.open_storage(url))
        except KeyError:
            pass  # no such study yet: nothing to archive
    if directory.exists():
        directory.rename(storage.sweep_dir(results, name))
    if trials is not None and trials.exists():
        trials.rename(trials.with_name(name))
    return name


def _stopper(bridge: Any, time_budget: float | None) -> Any:
    from ray.tune.stopper import Stopper

    class BudgetStopper(Stopper):
        """Ends the sweep cleanly when its time is up or too many trials failed."""

        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            return False

        def stop_all(self) -> bool:
            if bridge.stopping:
                return True
            if time_budget is not None and time.monotonic() - bridge.started >= time_budget:
                bridge.stopping = "the sweep's time budget ran out"
            elif bridge.too_many_failures():
                bridge.stopping = f"{bridge.counts.failed} trials failed (budget.max_failures)"
            return bridge.stopping is not None

    return BudgetStopper()


def _asha(spec: SweepSpec) -> Any:
    from ray.tune.schedulers import ASHAScheduler

    options = dict(spec.scheduler.options)
    return ASHAScheduler(
        time_attr="epoch",
        metric=spec.metric.name,
        mode="max" if spec.metric.goal == "maximize" else "min",
        max_t=spec.budget.max_epochs,
        grace_period=options.get("grace_period", 1),
        reduction_factor=options.get("reduction_factor", 3),
    )


def run_sweep(
    spec: SweepSpec, options: RunOptions | None = None, *, fresh: bool = False
) -> Outcome:
    """Run (or resume: same name, same space) a sweep to its budget. Nothing starts — not
    even Ray — before the existing study, if any, is checked and locked."""
    options = options or RunOptions()
    results = storage.results_dir(options.results)
    directory = storage.sweep_dir(results, spec.name)
    url = storage.storage_url(results, spec.name, options.storage)
    if fresh:
        archived = archive(spec, results, url)
        print(f"tune: the earlier sweep '{spec.name}' is archived as '{archived}'", file=sys.stderr)
    directory.mkdir(parents=True, exist_ok=True)
    study = _study(spec, url)
    check_same_sweep(study, spec)
    lock = SweepLock(study)
    lock.acquire()
    try:
        tracker = _tracker(options, results)  # a bad tracking URI fails before Ray starts
        ray = ensure_ray(address=options.address)
        from ray import tune

        return _run_locked(spec, options, study, results, url, tracker, ray, tune)
    finally:
        lock.release()


def _tracker(options: RunOptions, results: Path) -> Any:
    if not options.track:
        return None
    import logging

    from tuner.tracking import Tracker, resolve_tracking_uri

    for noisy in ("mlflow", "alembic"):  # schema-migration chatter on a new store
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return Tracker(resolve_tracking_uri(results, options.tracking_uri), results / "mlartifacts")


def _run_locked(
    spec: SweepSpec,
    options: RunOptions,
    study: Any,
    results: Path,
    url: str,
    tracker: Any,
    ray: Any,
    tune: Any,
) -> Outcome:
    from tuner.bridge import Bridge
    from tuner.pruning import PrunerScheduler
    from tuner.search import StudySearcher
    from tuner.status import Progress
    from tuner.worker import trainable

    _describe(study, spec)
    root = _trial_storage(study, results, options.trial_storage, spec.name)
    parent = None
    if tracker is not None:
        parent = tracker.start_sweep(
            spec.name,
            spec.source,
            str(spec.path) if spec.path else None,
            study.user_attrs[storage.ATTR_UID],
            url,
            _sweep_params(spec),
        )
    progress = Progress(
        spec.budget.trials,
        spec.metric.name,
        spec.metric.goal,
        stream=options.stream,
        quiet=options.quiet,
        concurrency=spec.concurrency,
    )
    progress.load(study)
    bridge = Bridge(spec, study, results, tracker, parent, progress)
    resources = _resources(spec, ray, sys.stderr)
    bridge.gpu = resources["gpu"]
    inner = _asha(spec) if spec.scheduler.type == "asha" else None

    def name(trial: Any) -> str:
        return f"trial_{trial.config['number']}"

    tuner = tune.Tuner(
        tune.with_resources(trainable, resources),
        tune_config=tune.TuneConfig(
            search_alg=StudySearcher(bridge),
            scheduler=PrunerScheduler(bridge, inner),
            num_samples=-1,
            max_concurrent_trials=spec.concurrency,
            reuse_actors=True,
            trial_name_creator=name,
            trial_dirname_creator=name,
        ),
        run_config=tune.RunConfig(
            name="ray",
            storage_path=str(storage.sweep_dir(root, spec.name) / ".ray"),
            stop=_stopper(bridge, spec.budget.time),
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=0),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            log_to_file=False,
        ),
    )
    started = time.monotonic()
    status = "FINISHED"
    previous = _graceful_ctrl_c(bridge)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tuner.fit()
        if bridge.interrupted:
            status = "KILLED"
    except KeyboardInterrupt:
        bridge.stopping, bridge.interrupted = "interrupted (Ctrl-C twice)", True
        status = "KILLED"
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        bridge.close()
        progress.close()
        outcome = _finish(spec, study, bridge, tracker, parent, results, options, status)
        outcome.elapsed = time.monotonic() - started
    return outcome


def _trial_storage(study: Any, results: Path, explicit: Path | None, name: str) -> Path:
    """The folder under which trial folders go (`<root>/<name>/trials/<n>`), kept in the
    study so that a resume from any node finds the checkpoints: --trial-storage, else the
    one the sweep used before (if it is still there), else the results folder."""
    root = Path(explicit).absolute() if explicit else storage.trial_root(study, results)
    kept = study.user_attrs.get(storage.ATTR_TRIAL_STORAGE)
    if kept and not explicit and Path(kept) != root:
        print(
            f"tune: warning: the sweep's trial storage {kept} is not reachable here; "
            f"trial folders go under {root} (unfinished trials start over)",
            file=sys.stderr,
        )
    (storage.sweep_dir(root, name) / "trials").mkdir(parents=True, exist_ok=True)
    if study.user_attrs.get(storage.ATTR_TRIAL_STORAGE) != str(root):
        study.set_user_attr(storage.ATTR_TRIAL_STORAGE, str(root))
    return root


def _graceful_ctrl_c(bridge: Any) -> Any:
    """The first Ctrl-C ends the sweep after the running trials' current epoch (they stay
    RUNNING in the study and continue on resume); a second one stops at once."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        if bridge.interrupted:
            raise KeyboardInterrupt
        bridge.stopping, bridge.interrupted = "interrupted (Ctrl-C)", True
        print(
            "\ntune: stopping after the running trials' current epoch "
            "(Ctrl-C again to stop at once); `tune run` on the same space file resumes",
            file=sys.stderr,
            flush=True,
        )

    return signal.signal(signal.SIGINT, handler)


def _sweep_params(spec: SweepSpec) -> dict[str, Any]:
    return {
        **{f"fixed.{k}": v for k, v in spec.fixed.items()},
        "dataset": spec.dataset,
        "objective": spec.objective,
        "metric": spec.metric.name,
        "goal": spec.metric.goal,
        "sampler": spec.sampler.type,
        "pruner": spec.pruner.type,
        "scheduler": spec.scheduler.type,
        "budget.trials": spec.budget.trials,
        "budget.max_epochs": spec.budget.max_epochs,
        "concurrency": spec.concurrency,
        "params": ", ".join(spec.param_names),
    }


def _finish(
    spec: SweepSpec,
    study: Any,
    bridge: Any,
    tracker: Any,
    parent: str | None,
    results: Path,
    options: RunOptions,
    status: str,
) -> Outcome:
    from tuner.results import best_trial, write_leaderboard, write_plots

    directory = storage.sweep_dir(results, spec.name)
    board = write_leaderboard(study, directory / "leaderboard.csv")
    quick = status == "KILLED" and bridge.stopping == "interrupted (Ctrl-C twice)"
    plots = write_plots(study, directory / "plots") if options.plots and not quick else []
    url = None
    if tracker is not None and parent is not None:
        tracker.end_sweep(parent, status, [board, *plots])
        server = tracker.tracking_uri.startswith(("http://", "https://"))
        url = tracker.runs_url(strip_credentials(tracker.tracking_uri) if server else UI_BASE)
    best = best_trial(study)
    return Outcome(
        name=spec.name,
        study=study,
        results=results,
        counts=dict(bridge.counts.by_state),
        epochs=bridge.counts.epochs,
        elapsed=0.0,
        best_value=best.value if best else None,
        best_number=best.number if best else None,
        leaderboard=board,
        plots=plots,
        runs_url=url,
        stopped=bridge.stopping,
        interrupted=bridge.interrupted,
    )
