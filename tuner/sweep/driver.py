"""`tune run`: one sweep, wired end to end.

The Optuna study (in persistent storage) is the source of truth; Ray Tune runs the
trials in reused worker processes, with our searcher asking the study and our scheduler
asking the study's pruner; MLflow gets one parent run per sweep and one child run per
trial. Every path is absolute before Ray starts (Ray changes trial working directories
and would otherwise write to ~/ray_results), and Ray's own per-trial loggers and
frequent experiment snapshots are off: the study and MLflow already hold all of it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from tuner.compat.optuna import storage_of
from tuner.compat.ray import temp_dir_option
from tuner.redact import mask_text, strip_credentials
from tuner.space.model import SweepSpec
from tuner.study import records, storage
from tuner.study.lock import SweepLock, check_same_sweep
from tuner.study.records import SweepRecord
from tuner.sweep.bridge import Bridge, Stop
from tuner.timeline import mark
from tuner.trial import objective_name

if TYPE_CHECKING:
    import optuna

    from tuner.study.spread import Spread
    from tuner.study.warm_start import Source
    from tuner.sweep.listeners import SummaryListener
    from tuner.tracking.protocol import SweepTracker

# trials one Ray Tune run starts at most (see _fit): RAY_RUN_WAVES times the sweep's
# concurrency, at least RAY_RUN_TRIALS — the moment below full concurrency between two
# runs is then at most one wave in RAY_RUN_WAVES
RAY_RUN_TRIALS = 100
RAY_RUN_WAVES = 50

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
    # Ray starts a worker per CPU when the driver connects, but Ray Tune runs each trial
    # in its own runtime env, so none of them ever serves a trial: they only take the
    # CPUs while the driver and the trials' workers start (bench/startup.py --repeat 4:
    # the first epoch at 0.86x and the whole process at 0.91x of the time with them).
    "RAY_prestart_worker_first_driver": "0",
}


THREAD_TIMEOUT = "TUNE_FUNCTION_THREAD_TIMEOUT_S"


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
    study: optuna.Study
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
    exit_code: int = 0  # 128 + the signal that interrupted it (130 Ctrl-C, 143 SIGTERM)
    metric: str = "value"  # the metric best_value is of
    front: Path | None = None  # several metrics: the Pareto front's CSV
    # what mattered (tuner/study/spread.py): the best trial's params, the spread of the
    # complete trials' values, each param's importance
    best_params: dict[str, Any] = field(default_factory=dict)
    spread: Spread | None = None
    importances: dict[str, float] = field(default_factory=dict)


UI_BASE = "http://127.0.0.1:5000"  # where `tune ui` serves


def configure_ray_env() -> None:
    for key, value in _RAY_ENV.items():
        os.environ.setdefault(key, value)


# The local Ray this process started: its session folder, the watcher of it.
_LOCAL: dict[str, Any] = {"session": None, "watcher": None}


def local_session() -> Path | None:
    """The session folder of the local Ray this process started (None: it joined a
    cluster, or has no Ray)."""
    return cast("Path | None", _LOCAL["session"])


def ensure_ray(
    num_cpus: int | None = None,
    address: str | None = None,
    warm_up: str | None = None,
    sweep: Path | None = None,
    code: Path | None = None,
) -> Any:
    """Join the cluster at `address` (HOST:PORT or `auto`; default: $RAY_ADDRESS), or
    start a local Ray of this process's own, unless already up: never the cluster `ray
    start` last left in /tmp/ray/ray_current_cluster (Ray's own default), which would be
    a cluster the user never named, or a dead one waited on. The local Ray keeps its
    session folder in the sweep's folder `sweep` (tuner/sweep/local_ray.py), and a
    watcher process ends what is left of it when this process is gone. A cluster started
    with token authentication needs RAY_AUTH_MODE=token and its token (~/.ray/auth_token,
    RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH) in this process's environment, as on every
    node. `warm_up` (a `warm_up.plan`) makes every worker process this job starts warm
    itself up. `code` (a program's folder, or a user objective's space file's folder)
    reaches every node of a cluster through Ray's `working_dir` (`ship`)."""
    configure_ray_env()
    import ray

    if not ray.is_initialized():
        from tuner.sweep import warm_up as warming

        path = [os.getcwd(), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        address = address or os.environ.get("RAY_ADDRESS") or "local"
        env = _worker_env(path)
        if warm_up is not None:
            env[warming.ENV] = warm_up
        runtime_env: dict[str, Any] = {"env_vars": env}
        if warm_up is not None:
            runtime_env["worker_process_setup_hook"] = f"{warming.__name__}.start"
        _mask_ray_entrypoint()
        options: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR,  # what Ray makes of "ERROR"
            "runtime_env": runtime_env,
        }
        if address == "local":
            _start_local(ray, num_cpus, sweep, options)
        else:
            from tuner.sweep import cluster

            _LOCAL["session"] = None
            if code is not None:
                ship(runtime_env, code, sweep)
            cluster.join(ray, address, options)  # (a cluster has its own CPUs)
    _quiet_full_disk_snapshots()
    return ray


SHIPPED = "TUNER_SHIPPED_DIR"  # the folder shipped to the nodes, as the driver names it
# never shipped: what a project folder holds that no trial needs (Ray caps a working_dir
# at 500 MiB), in .gitignore syntax as Ray's `excludes` takes it
_NOT_SHIPPED = [".git/", ".venv/", "venv/", "__pycache__/", "mlruns/", "*.tfrecord*", "*.db"]


def code_folder(spec: SweepSpec) -> Path | None:
    """The folder a trial's code lives in, which a cluster's nodes need: a program's
    folder, a user objective's space file's folder; None for the built-in objective."""
    from tuner.program.spec import ProgramSpec, is_program

    if is_program(spec.objective):
        return Path(ProgramSpec.from_ref(spec.objective).cwd)
    if spec.objective == "tabular" or spec.path is None:
        return None
    return spec.path.parent


def ship(runtime_env: dict[str, Any], code: Path, sweep: Path | None) -> None:
    """Ray uploads `code` to the cluster and starts each worker in its node's copy (on
    its import path too); a program runs there (tuner/program/runner.py), not at the
    driver's path, which another machine does not have. The sweep's own folder and what
    no trial needs stay behind."""
    excludes = list(_NOT_SHIPPED)
    for folder in (sweep.parent if sweep is not None else None,):  # the results folder
        if folder is not None and folder.is_relative_to(code) and folder != code:
            excludes.append(f"/{folder.relative_to(code).as_posix()}/")
    runtime_env["working_dir"] = str(code)
    runtime_env["excludes"] = excludes
    runtime_env["env_vars"][SHIPPED] = str(code)


def _start_local(
    ray: Any, num_cpus: int | None, sweep: Path | None, options: dict[str, Any]
) -> None:
    """Start this process's own Ray, its session folder under the sweep's folder, and the
    watcher that ends what is left of it once this process is gone."""
    from tuner.sweep import local_ray

    temp = local_ray.temp_dir(sweep) if sweep is not None else None
    if temp is not None:
        options.update(temp_dir_option(str(temp)))
    with _hangup_spared():
        context = ray.init(address="local", num_cpus=num_cpus, **options)
    session = Path(context.address_info["session_dir"])
    _LOCAL["session"] = session
    if sweep is not None:
        local_ray.link_session(sweep, session)
    _LOCAL["watcher"] = local_ray.watch(session)


class _FullDiskSnapshot(logging.Filter):
    """Drops Ray's traceback for an experiment snapshot a full disk refused: Ray logs it
    and goes on, and the sweep's next write of its own stops it with the one line that
    says so (MLflow's writes run in their own process now, so Ray's snapshot may be the
    first write to meet the full disk)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from tuner.study.storage import disk_full

        error = record.exc_info[1] if record.exc_info else None
        return error is None or disk_full(error) is None


# Ray logs a refused snapshot twice: while the sweep runs (experiment_state), and with
# the whole stack at the end of the sweep's run (tune: "Experiment state snapshotting
# failed"), where the campaign saw 50 lines of it above the one line a full disk says
FULL_DISK_LOGGERS = ("ray.tune.execution.experiment_state", "ray.tune.tune")


def _quiet_full_disk_snapshots() -> None:
    for name in FULL_DISK_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _FullDiskSnapshot) for f in logger.filters):
            logger.addFilter(_FullDiskSnapshot())


@contextlib.contextmanager
def _hangup_spared() -> Iterator[None]:
    """A closed terminal sends SIGHUP to the whole job, and the local Ray's processes
    (GCS, raylet, workers) would die of it under the driver, which handles it to stop
    gracefully. Started with SIGHUP blocked, they inherit the mask (as Ray itself blocks
    SIGINT for them); the driver's own mask is restored at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _mask_ray_entrypoint() -> None:
    """Ray keeps the driver's command line in the cluster's job table (dashboard, `ray
    list jobs`): keep it there without the passwords of --storage/--tracking-uri."""
    from tuner.compat.ray import mask_entrypoint

    mask_entrypoint(mask_text)


def _worker_env(path: list[str]) -> dict[str, str]:
    # TUNER_DRIVER_PID: for faults.point in workers. Only the workers get it: set in this
    # process's environment, a later child of the driver (a `tune best` run by a test,
    # say) would inherit it and kill the driver instead of itself.
    env = {
        "PYTHONPATH": os.pathsep.join(path),
        "TUNER_DRIVER_PID": str(os.getpid()),
        # how long a reused worker waits for its last trial's thread to end before Ray
        # gives up reusing it (Ray's 2 s: often not enough for a stopped trial to unwind
        # under load; ray_adapters.TrialWatch catches what is still dropped)
        THREAD_TIMEOUT: os.environ.get(THREAD_TIMEOUT, "30"),
    }
    for key in ("TUNER_FAULT", "TUNER_DETERMINISTIC", "TUNER_CACHE_DIR", "TUNER_TIMELINE"):
        if os.environ.get(key):
            env[key] = os.environ[key]
    return env


def _resources(spec: SweepSpec, ray: Any, warn: TextIO) -> dict[str, float]:
    """What each trial asks Ray for, cut down to what the cluster can ever grant: a
    request no node can meet (more CPUs than the largest node, a GPU where there is none)
    would make Ray wait forever."""
    cpu, workers = spec.resources.cpu, spec.resources.workers
    nodes = [n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
    largest, total = max(nodes, default=0), sum(nodes)
    # a worker's bundle must fit on one node, and all of a trial's in the cluster
    fits = min(largest, total / workers)
    if cpu > fits > 0:
        each = "each trial" if workers == 1 else f"each of a trial's {workers} workers"
        where = (
            f"the largest Ray node has {largest:g} CPUs"
            if fits == largest
            else f"the Ray cluster has {total:g} CPUs"
        )
        print(
            f"tune: warning: resources.cpu={cpu:g}"
            + (f" × {workers} workers" if workers > 1 else "")
            + f" but {where}; {each} gets {fits:g} (a larger request would wait forever)",
            file=warn,
        )
        cpu = fits
    gpu = spec.resources.gpu
    if gpu and not ray.cluster_resources().get("GPU"):
        print(
            f"tune: warning: resources.gpu={gpu} but the Ray cluster has no GPU; "
            "running on CPUs (a GPU request would wait forever)",
            file=warn,
        )
        gpu = 0
    return {"cpu": cpu, "gpu": gpu}


def _placement(resources: dict[str, float], workers: int) -> Any:
    """A trial's request: its resources, or for a trial of several workers a placement
    group of one bundle per worker, so a trial gets all its workers at once or waits
    (PACK: on one node when they fit there, else spread over nodes; the objective starts
    each worker in its bundle)."""
    if workers <= 1:
        return resources
    from ray.tune import PlacementGroupFactory

    bundle = {"CPU": resources["cpu"], **({"GPU": resources["gpu"]} if resources["gpu"] else {})}
    return PlacementGroupFactory([dict(bundle) for _ in range(workers)], strategy="PACK")


def _study(spec: SweepSpec, url: str, opened: Any = None) -> optuna.Study:
    import optuna

    from tuner.search.distributions import make_pruner, make_sampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    backend = opened or storage.open_storage(url)
    sampler, pruner = make_sampler(spec), make_pruner(spec)
    # Load first: creating writes (under the journal's file lock) even when the study
    # exists, and a second driver must not write before it finds the sweep locked — nor
    # wait out, then break, the file lock of a driver stopped (SIGSTOP) mid-write.
    try:
        backend.get_study_id_from_name(spec.name)
    except KeyError:
        pass
    else:
        return optuna.load_study(
            study_name=spec.name, storage=backend, sampler=sampler, pruner=pruner
        )
    return optuna.create_study(
        study_name=spec.name,
        storage=backend,
        sampler=sampler,
        pruner=pruner,
        directions=[m.direction for m in spec.metrics],
        load_if_exists=True,
    )


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


def _stopper(bridge: Bridge, time_budget: float | None) -> Any:
    from ray.tune.stopper import Stopper

    class BudgetStopper(Stopper):
        """Ends the sweep cleanly when its time is up or too many trials failed."""

        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            return False

        def stop_all(self) -> bool:
            if bridge.halt is not None:
                return True
            if time_budget is not None and time.monotonic() - bridge.started >= time_budget:
                bridge.stop(Stop.TIME_BUDGET, "the sweep's time budget ran out")
            elif bridge.too_many_failures():
                failed = bridge.counts.failed
                bridge.stop(Stop.MAX_FAILURES, f"{failed} trials failed (budget.max_failures)")
            return bridge.halt is not None

    return BudgetStopper()


def _asha(spec: SweepSpec) -> Any:
    from ray.tune.schedulers import ASHAScheduler

    options = dict(spec.scheduler.options)
    return ASHAScheduler(
        time_attr="epoch",
        metric=spec.metric.name,
        mode=spec.metric.mode,
        max_t=spec.budget.max_epochs,
        grace_period=options.get("grace_period", 1),
        reduction_factor=options.get("reduction_factor", 3),
    )


@storage.stop_on_full_disk  # a full disk ends the sweep with one line, resumable
def run_sweep(
    spec: SweepSpec, options: RunOptions | None = None, *, fresh: bool = False
) -> Outcome:
    """Run (or resume: same name, same space) a sweep to its budget. Nothing starts — not
    even Ray — before the existing study, if any, is checked and locked.

    Start-up overlaps what does not depend on each other: the MLflow store opens (MLflow's
    import and a new store's schema: ~6 s here) in a background thread while the study
    is opened and locked and Ray starts; each worker process Ray starts for the trials
    begins importing the objective's framework and reading its data (`warm_up`) as it
    starts, beside Ray's own start-up in it. A tracking server is asked first, before
    anything is written; a database store that turns out unusable in the background
    removes the sweep it was started with, if this call created it and nothing ran."""
    mark("sweep_start")
    options = options or RunOptions()
    results = storage.results_dir(options.results)
    directory = storage.sweep_dir(results, spec.name)
    url = storage.storage_url(results, spec.name, options.storage)
    # Inputs first: a bad tracking server (or storage URL) fails before the study or the
    # sweep's folder exist (a left-behind study.journal would list as a sweep).
    tracker_ready, close_tracker = _open_tracker(options, results, spec.name)
    try:
        return _open_and_run(spec, options, results, directory, url, tracker_ready, fresh)
    finally:
        close_tracker(False)  # (after a lock lost, _run_locked closed it, discarding)


def _open_and_run(
    spec: SweepSpec,
    options: RunOptions,
    results: Path,
    directory: Path,
    url: str,
    tracker_ready: Callable[[], SweepTracker | None],
    fresh: bool,
) -> Outcome:
    opened = None if url.startswith("journal:") else storage.open_storage(url)
    sources = _warm_start_sources(spec, options, results, url, opened, fresh)
    if fresh:
        archived = archive(spec, results, url)
        print(f"tune: the earlier sweep '{spec.name}' is archived as '{archived}'", file=sys.stderr)
        sources = None if sources is None else [s.renamed(spec.name, archived) for s in sources]
    new_folder = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    study = _study(spec, url, opened)
    new_study = not study.get_trials(deepcopy=False) and SweepRecord.of(study).uid is None
    check_same_sweep(study, spec)
    budget = spec.budget
    spec = _last_budget(spec, study)
    if spec.budget != budget:  # (the sampler's random start is scaled to the budget)
        from tuner.search.distributions import make_sampler

        study.sampler = make_sampler(spec)
    lock = SweepLock(study)
    lock.acquire()
    mark("study_ready")
    _announce_start(spec)
    discard = False
    try:
        if sources is not None:
            try:
                _warm_start(study, spec, sources)
            except Exception:
                discard = new_study
                raise
        _end_leftovers(directory, lock)
        try:
            ray = ensure_ray(
                address=options.address,
                warm_up=_warm_up_plan(spec),
                sweep=directory,
                code=code_folder(spec),
            )
        except Exception:
            discard = new_study  # (a cluster that refused the driver: nothing ran)
            raise
        if local_session() is not None:  # for the next driver, should this one be killed
            lock.record(ray_session=str(local_session()))
        from ray import tune

        mark("ray_ready")
        try:
            tracker = tracker_ready()
        except Exception:
            discard = new_study
            raise
        mark("tracker_ready")
        return _run_locked(spec, options, study, results, url, tracker, ray, tune, lock)
    finally:
        lock.release()
        if discard:
            _discard(study, url, directory if new_folder else None)


def _announce_start(spec: SweepSpec) -> None:
    """Say how many of the trials the sampler picks at random before it models the
    results (TPE: scaled to the budget unless the space file sets it)."""
    from tuner.search.distributions import describe_start

    line = describe_start(spec)
    if line is not None:
        print(f"tune: {line}", file=sys.stderr, flush=True)


def _last_budget(spec: SweepSpec, study: optuna.Study) -> SweepSpec:
    """The budget the sweep was last given, where this command gives none and the space
    file is the one it ran with (an edited file's budget is the new word): `tune resume`
    or a rerun after `--trials 6` goes on to 6, not back to the file's number."""
    record = SweepRecord.of(study)
    if record.space != spec.source:
        return spec
    kept = spec.with_budget_of(record.trials, record.concurrency)
    changed = [
        f"{what} {now}"
        for what, now, was in (
            ("trials", kept.budget.trials, spec.budget.trials),
            ("concurrency", kept.concurrency, spec.concurrency),
        )
        if now != was
    ]
    if changed:
        print(
            f"tune: sweep '{spec.name}' goes on with the budget it was last given "
            f"({', '.join(changed)}; --trials/--concurrency change it)",
            file=sys.stderr,
        )
    return kept


def _end_leftovers(directory: Path, lock: SweepLock) -> None:
    """End what a killed driver of this sweep left of its local Ray (tuner/sweep/
    local_ray.py), saying so in one line."""
    from tuner.sweep import local_ray

    ended = local_ray.end_leftovers(directory, lock.predecessor, socket.gethostname())
    if ended:
        print(
            f"tune: ended {len(ended)} process{'es' if len(ended) > 1 else ''} that a killed "
            f"run of this sweep left of its Ray (pid {', '.join(map(str, ended))})",
            file=sys.stderr,
        )


def _warm_start_sources(
    spec: SweepSpec,
    options: RunOptions,
    results: Path,
    url: str,
    opened: Any,
    fresh: bool,
) -> list[Source] | None:
    """The sources of the sweep's warm start, read before anything is written (a missing
    one is a ConfigError that leaves nothing behind), when the sweep starts new: with
    --fresh, or when its study has no trials yet. None when there is nothing to do — a
    resumed or extended sweep never repeats its warm start."""
    if spec.warm_start is None:
        return None
    if not fresh:
        existing = _existing_study(spec.name, url, opened)
        if existing is not None and existing.get_trials(deepcopy=False):
            if records.read_warm_start(existing) is None:
                print(
                    f"tune: warning: no warm start: sweep '{spec.name}' has trials already "
                    "(a warm start seeds a new sweep; --fresh starts it over)",
                    file=sys.stderr,
                )
            return None
    from tuner.study.warm_start import load_sources

    return load_sources(spec, results, options.storage, fresh=fresh)


def _existing_study(name: str, url: str, opened: Any) -> optuna.Study | None:
    """The sweep's study if it exists, read-only (nothing is created)."""
    import optuna

    from tuner.errors import ConfigError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        backend = opened or storage.open_storage(url, write=False)
        return optuna.load_study(study_name=name, storage=backend)
    except (KeyError, ConfigError):
        return None


def _warm_start(study: optuna.Study, spec: SweepSpec, sources: list[Source]) -> None:
    """Give a new study (no trials: under the lock, another driver may have got there
    first) the sources' history and its first trials, and say so in one line."""
    if study.get_trials(deepcopy=False) or records.read_warm_start(study) is not None:
        return
    from tuner.study.warm_start import apply

    print(f"tune: {apply(study, spec, sources).line()}", file=sys.stderr, flush=True)


def _warm_up_plan(spec: SweepSpec) -> str:
    from tuner.sweep.warm_up import plan

    folder = str(spec.folder) if spec.folder else None
    return plan(spec.objective, spec.base_config(), spec.resources.cpu, spec.resources.gpu, folder)


def _discard(study: optuna.Study, url: str, folder: Path | None) -> None:
    """Remove a sweep this call created and never ran (its tracking store failed)."""
    import shutil

    import optuna

    if not url.startswith("journal:"):
        with contextlib.suppress(Exception):
            optuna.delete_study(study_name=study.study_name, storage=storage_of(study))
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _open_tracker(
    options: RunOptions, results: Path, name: str
) -> tuple[Callable[[], SweepTracker | None], Callable[[bool], None]]:
    """→ (a function giving the sweep's tracker, one closing it: everything written).

    The tracker is the MLflow writer process (tuner/tracking/writer.py), started now: it
    imports MLflow and opens the store while the driver opens the study and starts Ray.
    A tracking server is asked at once (it must answer before the sweep writes anything);
    a database store that fails raises when the tracker is first asked for.
    `TUNER_MLFLOW_WRITER=inline` keeps the writes in the driver (bench/overhead.py
    compares the two), the store then opening in a background thread."""
    from tuner.tracking.uri import is_server, resolve_tracking_uri

    if not options.track:
        return (lambda: None), (lambda discard: None)
    uri = resolve_tracking_uri(results, options.tracking_uri)
    _follow_move(uri, results)
    if os.environ.get("TUNER_MLFLOW_WRITER", "process") == "inline":
        return _inline_tracker(options, results, is_server(uri))
    from tuner.tracking.writer import RemoteTracker

    lock = storage.sweep_dir(results, name) / ".mlflow-writer.lock"
    remote = RemoteTracker(uri, results / "mlartifacts", lock)
    if is_server(uri):
        try:
            remote.ready()
        except BaseException:
            remote.close()
            raise
    return remote.ready, lambda discard: remote.close(discard=discard)


def _follow_move(uri: str, results: Path) -> None:
    """A results folder moved or copied here: its MLflow store's artifact locations are
    pointed here before MLflow opens it (tuner/tracking/moved.py), so the resumed sweep's
    artifacts go here, not to the folder it came from."""
    from tuner.tracking.moved import describe, follow_move

    moves = follow_move(uri, results)
    if moves:
        print(f"tune: {describe(moves)}", file=sys.stderr, flush=True)


def _inline_tracker(
    options: RunOptions, results: Path, server: bool
) -> tuple[Callable[[], SweepTracker | None], Callable[[bool], None]]:
    done: dict[str, Any] = {}

    def close(discard: bool) -> None:
        if done.get("tracker") is not None:
            done["tracker"].close(discard=discard)

    if server:
        done["tracker"] = _tracker(options, results)
        return (lambda: done["tracker"]), close

    def open_store() -> None:
        try:
            done["tracker"] = _tracker(options, results)
        except BaseException as exc:  # re-raised in the driver's thread
            done["error"] = exc

    thread = threading.Thread(target=open_store, name="tuner-tracker", daemon=True)
    thread.start()

    def ready() -> SweepTracker | None:
        thread.join()
        if "error" in done:
            raise done["error"]
        return cast("SweepTracker | None", done["tracker"])

    return ready, close


def _tracker(options: RunOptions, results: Path) -> SweepTracker | None:
    if not options.track:
        return None
    from tuner.tracking.runs import Tracker, quiet_logs, resolve_tracking_uri

    quiet_logs()
    return Tracker(resolve_tracking_uri(results, options.tracking_uri), results / "mlartifacts")


def _run_locked(
    spec: SweepSpec,
    options: RunOptions,
    study: optuna.Study,
    results: Path,
    url: str,
    tracker: SweepTracker | None,
    ray: Any,
    tune: Any,
    lock: SweepLock | None = None,
) -> Outcome:
    from tuner.sweep.listeners import ProgressListener, SummaryListener, TrackerListener
    from tuner.sweep.progress import Progress
    from tuner.sweep.ray_adapters import PrunerScheduler, StudySearcher, TrialWatch
    from tuner.sweep.trial_runner import NUMBER, trainable

    records.describe(study, spec)
    root = _trial_storage(study, results, options.trial_storage, spec.name)
    parent = None
    if tracker is not None:
        uid = SweepRecord.of(study).uid
        assert uid is not None  # records.describe gave the study one
        parent = tracker.start_sweep(
            spec.name,
            spec.source,
            str(spec.path) if spec.path else None,
            uid,
            url,
            _sweep_params(spec),
        )
        records.write_mlflow_page(study, _page(tracker))
    progress = Progress(
        spec.budget.trials,
        spec.metric.name,
        stream=options.stream,
        quiet=options.quiet,
        concurrency=spec.trials_at_once,  # (the remaining-time estimate)
    )
    progress.load(study)
    bridge = Bridge(spec, study, results, lock=lock)  # its listeners: MLflow, the live line
    if tracker is not None:
        bridge.listeners.append(TrackerListener(tracker, parent, bridge.tracking_failed))
    bridge.listeners.append(ProgressListener(progress))
    kept = None  # the summary the reading verbs answer from: a sweep in its own journal
    if url == storage.storage_url(results, spec.name):
        kept = SummaryListener(study, results, spec.name)
        bridge.listeners.append(kept)
    bridge.trial_root = root  # (as decided above: --trial-storage wins over the record)
    caught = bridge.catch_up()
    if caught:
        print(
            f"tune: wrote to MLflow the {caught} finished trial(s) it lacked (its writes had "
            "failed)",
            file=sys.stderr,
        )
    resources = _resources(spec, ray, sys.stderr)
    bridge.cpu, bridge.gpu = resources["cpu"], resources["gpu"]
    inner = _asha(spec) if spec.scheduler.type == "asha" else None
    scheduler = PrunerScheduler(bridge, inner)

    def name(trial: Any) -> str:
        return f"trial_{trial.config[NUMBER]}"

    ray_root = storage.sweep_dir(root, spec.name) / ".ray"

    def ray_run(part: int) -> Any:
        """One Ray Tune run of the sweep's trials (see `_fit`)."""
        return tune.Tuner(
            tune.with_resources(trainable, _placement(resources, spec.resources.workers)),
            tune_config=tune.TuneConfig(
                search_alg=StudySearcher(bridge),
                scheduler=scheduler,
                num_samples=-1,
                # (no max_concurrent_trials: Ray's ConcurrencyLimiter would keep a slot for
                # a trial Ray drops without telling its searcher; the bridge counts instead)
                # a trial of several workers starts fresh rank processes anyway; reusing
                # its actor failed after a pruned one (its thread still ending the ranks:
                # Ray could not reset it, and the next trial never started)
                reuse_actors=spec.resources.workers == 1,
                trial_name_creator=name,
                trial_dirname_creator=name,
            ),
            run_config=tune.RunConfig(
                name=f"ray-{part}" if part else "ray",
                storage_path=str(ray_root),
                stop=_stopper(bridge, spec.budget.time),
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=0),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                log_to_file=False,
                callbacks=[TrialWatch(scheduler)],
            ),
        )

    started = time.monotonic()
    status = "FINISHED"
    mark("fit_start")
    phase: dict[str, Any] = {"ending": False}
    previous = _graceful_signals(bridge, phase)  # until the sweep is written up, too
    try:
        try:
            with warnings.catch_warnings(), _pending_trials(spec.trials_at_once):
                warnings.simplefilter("ignore")
                _fit(bridge, ray_run, ray_root)
            mark("fit_end")
            if bridge.interrupted:
                status = "KILLED"
            halt = bridge.halt
            if halt is not None and halt.full is not None:  # a full disk, caught where Ray
                raise halt.full  # would swallow it
            if halt is not None and halt.tracking is not None:  # MLflow failed: the trials
                raise _tracking_failed(spec.name, halt.tracking)  # stay resumable
        except KeyboardInterrupt:
            bridge.stop(Stop.SIGNAL_TWICE, "interrupted (Ctrl-C twice)")
            status = "KILLED"
            raise
        finally:
            bridge.close()
            progress.close()
            if bridge.lost is None:
                phase["ending"] = True
                outcome = _finish(
                    spec, study, bridge, tracker, parent, results, options, status, kept
                )
                outcome.elapsed = time.monotonic() - started
                mark("written_up")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if bridge.lost is not None:  # another driver owns the sweep now: nothing written
        from tuner.errors import ConfigError

        if tracker is not None:
            tracker.close(discard=True)
        raise ConfigError(bridge.lost, hint="follow it with `tune status`")
    return outcome


def ray_run_trials(concurrency: int) -> int:
    """How many trials one Ray Tune run starts at most (TUNER_RAY_RUN_TRIALS for tests)."""
    found = os.environ.get("TUNER_RAY_RUN_TRIALS")
    return int(found) if found else max(RAY_RUN_TRIALS, RAY_RUN_WAVES * concurrency)


def _fit(bridge: Bridge, ray_run: Callable[[int], Any], ray_root: Path) -> None:
    """Run the sweep's trials as successive Ray Tune runs of at most `ray_run_trials`
    trials each. Ray keeps every trial of a run in its controller and its experiment
    state (~15 KB a trial, rewritten whole at each snapshot; a folder per trial): over a
    long sweep its records outgrew the study's and its per-step work grew with them. The
    study is the sweep's record, so each run's Ray experiment is disposable: removed
    once the run ended, and the next run starts when the last one's trials have ended
    (the bridge counts its quota: a trial re-run after its worker died is not a new
    one). Stopping, resuming, pruning and MLflow go through the bridge, as before."""
    for earlier in [ray_root / "ray", *ray_root.glob("ray-*")]:  # (a dead driver's runs)
        shutil.rmtree(earlier, ignore_errors=True)
    part = 0
    while True:
        bridge.quota = ray_run_trials(bridge.spec.trials_at_once)
        ray_run(part).fit()
        if bridge.halt is not None or not bridge.more():
            return
        shutil.rmtree(ray_root / (f"ray-{part}" if part else "ray"), ignore_errors=True)
        part += 1


@contextlib.contextmanager
def _pending_trials(limit: int) -> Iterator[None]:
    """How many trials Ray starts at once: with a searcher of its own (not its
    ConcurrencyLimiter, which `max_concurrent_trials` would add: see the Tuner's config)
    Ray reads it from TUNE_MAX_PENDING_TRIALS_PG when its controller starts, else 1."""
    key = "TUNE_MAX_PENDING_TRIALS_PG"
    before = os.environ.get(key)
    os.environ[key] = str(limit)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def _tracking_failed(name: str, error: BaseException) -> BaseException:
    """The one line a sweep stopped by MLflow's failure ends with; a failure that is not
    a TunerError is a bug in tuner and keeps its traceback (the trials stay resumable)."""
    from tuner.errors import ServiceError, TunerError

    if not isinstance(error, TunerError):
        return error
    what = " ".join(error.format().split())
    return ServiceError(
        f"MLflow could not be written ({mask_text(what)[:300]}); the sweep stopped, its "
        "running trials resumable",
        hint=f"check the tracking store, then `tune resume {name}`",
    )


def _trial_storage(study: optuna.Study, results: Path, explicit: Path | None, name: str) -> Path:
    """The folder under which trial folders go (`<root>/<name>/trials/<n>`), kept in the
    study so that a resume from any node finds the checkpoints: --trial-storage, else the
    one the sweep used before (if it is still there), else the results folder. Kept
    relative to the results folder when inside it: a moved sweep resumes where it is."""
    kept = SweepRecord.of(study).trial_storage
    if explicit:
        root = Path(explicit).absolute()
    else:
        root, unreachable = storage.resolve_trial_storage(kept, results, name)
        if unreachable:
            print(
                f"tune: warning: the sweep's trial storage {kept} is not reachable here; "
                f"trial folders go under {root} (unfinished trials start over)",
                file=sys.stderr,
            )
    (storage.sweep_dir(root, name) / "trials").mkdir(parents=True, exist_ok=True)
    records.set_trial_storage(study, storage.record_trial_storage(root, results))
    return root


class Interrupted(KeyboardInterrupt):
    """A second interrupting signal: stop at once (the trials stay resumable); the process
    exits 128 + the signal's number, as a process killed by it would."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum


# What a user, systemd, `docker stop`, SLURM or a closed terminal send to stop a run.
_SIGNALS: dict[int, str] = {
    signal.SIGINT: "Ctrl-C",
    signal.SIGTERM: "SIGTERM",
    signal.SIGHUP: "SIGHUP",
}


def _quiet_swallowed_interrupts() -> None:
    """A second signal that lands while the main thread runs a finalizer or a weakref
    callback has its `Interrupted` swallowed there, and Python printed it as an
    "Exception ignored in …" traceback (seen in CI: SIGTERM twice). Such an interrupt is
    dropped quietly: the stop the first signal began goes on (sending the signal again
    from here ran the handler inside this hook). Installed once; other unraisable
    exceptions go to the hook that was there."""
    previous = sys.unraisablehook
    if getattr(previous, "tuner_quiet", False):
        return

    def hook(info: Any) -> None:
        if isinstance(info.exc_value, Interrupted):
            return  # (the stop the first signal began goes on; only its hurry is lost)
        previous(info)

    hook.tuner_quiet = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook


def _graceful_signals(bridge: Bridge, phase: dict[str, Any]) -> dict[int, Any]:
    """The first Ctrl-C, SIGTERM or SIGHUP ends the sweep after the running trials'
    current epoch (they stay RUNNING in the study and continue on resume); a second one
    stops at once. Without this, Ray's own SIGTERM handler (installed by ray.init) exits
    mid-fit, the running trials are failed and the driver dies with a crash dump. Once
    `phase["ending"]` is set (the trials are over, the plots being drawn) a first signal
    only says so, and a second one stops the drawing (the parent run is still ended).
    Returns the handlers replaced, to put back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    _quiet_swallowed_interrupts()

    def handler(signum: int, frame: Any) -> None:
        name = _SIGNALS.get(signum, signal.Signals(signum).name)
        if bridge.interrupted or phase.get("signalled"):
            if not phase.get("hurried"):
                phase["hurried"] = True
                print(f"\ntune: {name} again: stopping at once", file=sys.stderr, flush=True)
            raise Interrupted(signum)
        if phase.get("ending"):  # every trial has ended: only the plots are being drawn
            phase["signalled"] = signum
            print(
                f"\ntune: {name}: the sweep is done, drawing its plots ({name} again to "
                "stop at once; `tune resume` then draws the rest)",
                file=sys.stderr,
                flush=True,
            )
            return
        bridge.stop(Stop.SIGNAL, f"interrupted ({name})", signum=signum)
        print(
            f"\ntune: {'' if signum == signal.SIGINT else name + ': '}stopping after the "
            f"running trials' current epoch ({name} again to stop at once); `tune run` on "
            "the same space file resumes",
            file=sys.stderr,
            flush=True,
        )

    return {signum: signal.signal(signum, handler) for signum in _SIGNALS}


def _page(tracker: SweepTracker) -> str:
    """The sweep's runs page: on the tracking server's own UI, else where `tune ui`
    serves."""
    server = tracker.tracking_uri.startswith(("http://", "https://"))
    return tracker.runs_url(strip_credentials(tracker.tracking_uri) if server else UI_BASE)


def _sweep_params(spec: SweepSpec) -> dict[str, Any]:
    return {
        **{f"fixed.{k}": v for k, v in spec.fixed.items()},
        "dataset": spec.dataset,
        "objective": objective_name(spec.objective),
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
    study: optuna.Study,
    bridge: Bridge,
    tracker: SweepTracker | None,
    parent: str | None,
    results: Path,
    options: RunOptions,
    status: str,
    kept: SummaryListener | None = None,
) -> Outcome:
    from tuner.study.leaderboard import write_front, write_leaderboard
    from tuner.study.plots import write_plots
    from tuner.study.ranking import best_trial, objective_value
    from tuner.study.spread import importances, spread

    directory = storage.sweep_dir(results, spec.name)
    if kept is not None:  # the sweep as it ends (its last trials told)
        kept.flush()
    board = write_leaderboard(study, directory / "leaderboard.csv")
    front = write_front(study, directory / "pareto_front.csv")  # several metrics only
    halt = bridge.halt
    quick = status == "KILLED" and halt is not None and halt.hurry
    plots: list[Path] = []
    cut: KeyboardInterrupt | None = None
    if options.plots and not quick:
        try:
            plots = write_plots(study, directory / "plots")
        except KeyboardInterrupt as stop:  # a signal again while drawing: no more plots,
            cut, status = stop, "KILLED"  # the parent run still ended (a resume redraws)
            plots = sorted((directory / "plots").glob("*.png"))
            print(
                f"tune: stopped while drawing the plots ({len(plots)} written); "
                f"`tune resume {spec.name}` writes the rest",
                file=sys.stderr,
                flush=True,
            )
    url = None
    if tracker is not None and parent is not None and (halt is None or halt.tracking is None):
        tracker.end_sweep(parent, status, [board, *([front] if front else []), *plots])
        url = _page(tracker)
    if cut is not None:
        raise cut
    best = best_trial(study)
    return Outcome(
        name=spec.name,
        study=study,
        results=results,
        counts=dict(bridge.counts.by_state),
        epochs=bridge.counts.epochs,
        elapsed=0.0,
        best_value=objective_value(best) if best else None,
        best_number=best.number if best else None,
        leaderboard=board,
        plots=plots,
        runs_url=url,
        stopped=bridge.stopping,
        interrupted=bridge.interrupted,
        exit_code=128 + halt.signal if halt is not None and halt.resumable else 0,
        metric=spec.metric.name,
        front=front,
        best_params=dict(best.params) if best else {},
        spread=None if spec.multi else spread(study),  # (a front has its own summary)
        importances={} if spec.multi else importances(study),
    )
