"""MLflow tracking for sweeps: one experiment per sweep name, one parent run per sweep,
one nested child run per Optuna trial.

Everything goes through `mlflow.tracking.MlflowClient` with explicit run ids (never the
fluent API's global active run: it is not thread-safe), and logging is batched (one
`log_batch` is ~50× faster than one `log_metric` per value): see `Tracker` for when
queued values are written.

Traps handled here (MLflow 3.17):
- with a SQLite store the default artifact root is `./mlruns` relative to the current
  directory: every experiment we create gets an explicit `artifact_location` under
  `results/mlartifacts/<experiment>` instead (for database and file stores; an
  http(s) tracking server decides its own artifact location); MLflow keeps it absolute,
  so a moved results folder's store is pointed at it first (tuner/tracking/moved.py);
- params are immutable: logging a changed value for an existing key fails, so a resumed
  parent logs only new keys and records a changed value as a `tuner.param.<key>` tag;
- metrics are append-only: a resumed trial does not log again an epoch it already
  logged (the first value stays, as Optuna keeps the first intermediate value of a step);
- a SQL store cannot hold inf (MLflow writes ±1.8e308 instead) and NaN breaks the UI's
  charts and comparisons: non-finite values are skipped, and the run gets a
  `tuner.nonfinite` tag (once) naming the first ones.

This module imports MLflow at module level: import it only when a sweep or `tune ui` runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.validation import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAM_VAL_LENGTH,
    MAX_PARAMS_TAGS_PER_BATCH,
    MAX_TAG_VAL_LENGTH,
)
from sqlalchemy.exc import SQLAlchemyError

from tuner.errors import ConfigError
from tuner.redact import mask_text, mask_url
from tuner.study.ranking import finite
from tuner.tracking import note
from tuner.tracking.uri import (  # re-exported: the store's location, without MLflow
    ARTIFACTS_DIR,
    DB_FILE,
    check_writable_store,
    default_artifact_root,
    default_tracking_uri,
    manages_artifacts,
    resolve_tracking_uri,
    runs_url,
    scheme,
)

# MLflow prints "View run ... at: <tracking URI>" for every run ended on a server: that
# would interleave with the progress display and show the URI's password
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


# tag names
TAG_KIND = "tuner.kind"  # "sweep" on parent runs, "trial" on child runs
TAG_SWEEP = "tuner.sweep"
TAG_STUDY = "tuner.study"
TAG_STORAGE = "tuner.storage"
TAG_SPACE_PATH = "tuner.space_path"
TAG_TRIAL_NUMBER = "tuner.trial_number"
TAG_NONFINITE = "tuner.nonfinite"
TAG_STATE = "state"
TAG_REASON = "reason"
TAG_PARENT = "mlflow.parentRunId"
TAG_RUN_NAME = "mlflow.runName"
METRIC_VALUE = "value"
METRIC_BEST = "best_value"

# Optuna trial state → MLflow run status
# (INTERRUPTED: the sweep was stopped mid-trial; the trial stays RUNNING in the study and
# continues in the same run when the sweep resumes)
STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED", "INTERRUPTED": "KILLED"}
# artifacts logged under plots/ in the parent run
_IMAGES = (".png", ".svg", ".jpg", ".jpeg", ".html")


def _now() -> int:
    return int(time.time() * 1000)


def _text(value: Any) -> str:
    """A param/tag value as text: lists and dicts as JSON, the rest as `str`; a password
    in a URL in it masked (`user:***@`)."""
    if isinstance(value, list | tuple | dict):
        try:
            return mask_text(json.dumps(value, default=str))
        except (TypeError, ValueError):
            return mask_text(str(value))
    return mask_text(str(value))


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested dicts become dotted keys (`metric.name`); values become text."""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = _text(value)[:MAX_PARAM_VAL_LENGTH]
    return out


def _tag_dict(tags: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): _text(v)[:MAX_TAG_VAL_LENGTH] for k, v in tags.items() if v is not None}


def _tags(tags: Mapping[str, Any]) -> list[RunTag]:
    return [RunTag(k, v) for k, v in _tag_dict(tags).items()]


def _finite(value: Any) -> float | None:
    """A reported value as MLflow can log it: a finite float (a NumPy scalar, say), or
    None for anything else."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if finite(number) else None


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass
class _Pending:
    """What a run has queued since its last write."""

    since: float  # time.monotonic() of the last write
    metrics: list[Any] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)


class Tracker:
    """A sweep's MLflow runs. Not thread-safe: call it from one thread (the sweep driver).

    Writes are batched per run: what a run logs (params, epochs, tags, best values) is
    queued and written in one `log_batch` call as soon as `flush_seconds` have passed
    since that run's last write, and always when the run ends (`end_trial`, `end_sweep`)
    or on `flush()`. With epochs longer than `flush_seconds` every epoch is written as
    it comes; a trial faster than that costs three calls in all (create, one batch,
    terminate). `flush_seconds=0` writes every call at once.
    """

    def __init__(
        self, tracking_uri: str, artifact_root: Path | None = None, flush_seconds: float = 1.0
    ):
        self.tracking_uri = tracking_uri
        self.artifact_root = Path(artifact_root).absolute() if artifact_root else None
        self.flush_seconds = flush_seconds
        if self.tracking_uri.startswith("sqlite:///"):
            db = Path(self.tracking_uri.removeprefix("sqlite:///"))
            db.parent.mkdir(parents=True, exist_ok=True)
        try:  # connect (and create/upgrade the schema) now, so a bad URI fails up front
            self.client = MlflowClient(tracking_uri=tracking_uri)
            with _probing(tracking_uri):
                self.client.search_experiments(max_results=1)
        except (ImportError, MlflowException, SQLAlchemyError) as exc:  # a broken store
            reason = _reason(exc)
            unreachable = reason.startswith(("cannot reach", "the server did not"))
            raise ConfigError(
                f"tracking URI '{mask_url(tracking_uri)}': {mask_text(reason)}",
                hint="is an MLflow server running there? start one with `mlflow server --port PORT`"
                if unreachable
                else "expected sqlite:///PATH, a database URL with its driver installed, "
                "or http(s)://HOST:PORT of an MLflow server",
            ) from None
        if scheme(tracking_uri) == "sqlite":
            _fast_sqlite(self.client)
        self.experiment_id: str | None = None
        self._experiments: dict[str, str] = {}  # experiment name → id
        self._children: dict[str, dict[int, str]] = {}  # parent run id → {trial number: run id}
        self._statuses: dict[str, dict[int, str]] = {}  # ... → {trial number: its status}
        self._logged: dict[str, dict[str, int]] = {}  # run id → {metric: its last step}
        self._nonfinite: set[str] = set()  # runs already tagged tuner.nonfinite
        self._pending: dict[str, _Pending] = {}
        self._sweep_params: dict[str, Mapping[str, Any]] = {}  # parent run id → its params
        self._valued: dict[float, int] = {}  # a trial's value → the last trial ended with it

    # experiments ------------------------------------------------------------------------

    def experiment(self, name: str) -> str:
        """The id of the experiment named `name`, created (or restored) if needed."""
        if name in self._experiments:
            return self._experiments[name]
        found = self.client.get_experiment_by_name(name)
        if found is None:
            location = None
            if self.artifact_root is not None and manages_artifacts(self.tracking_uri):
                location = (self.artifact_root / name).as_uri()
            try:
                exp_id = self.client.create_experiment(
                    name,
                    artifact_location=location,
                    tags={TAG_SWEEP: name, note.KIND_TAG: note.KIND},
                )
            except MlflowException:  # created meanwhile by another process
                found = self.client.get_experiment_by_name(name)
                if found is None:
                    raise
                exp_id = found.experiment_id
        else:
            exp_id = found.experiment_id
            if found.lifecycle_stage == "deleted":
                self.client.restore_experiment(exp_id)
            if note.KIND_TAG not in (found.tags or {}):  # (made before tuner tagged it)
                self.client.set_experiment_tag(exp_id, note.KIND_TAG, note.KIND)
        self._experiments[name] = exp_id
        return exp_id

    def runs_url(self, ui_base: str) -> str:
        """The UI page listing this sweep's runs sorted by its metric (the UI opens
        experiments elsewhere)."""
        params = next(reversed(self._sweep_params.values()), {})
        return runs_url(ui_base, self.experiment_id, *note.order(params))

    # the sweep's parent run ---------------------------------------------------------------

    def start_sweep(
        self,
        name: str,
        space_text: str,
        space_path: str | Path | None,
        study_name: str,
        storage_url: str,
        params: Mapping[str, Any],
    ) -> str:
        """The sweep's parent run: created, or on resume (same study and storage) reused
        and set RUNNING again. Logs `space.yaml`, the sweep tags and `params` (nested
        dicts as dotted keys: `metric.name`, `budget.trials`, ...)."""
        exp_id = self.experiment(name)
        self.experiment_id = exp_id
        storage_url = mask_url(storage_url)  # recorded (and matched on resume) without password
        parent = self._find_parent(exp_id, study_name, storage_url)
        flat = _flatten(params)
        kept = note.best_of(parent.data.tags.get(note.NOTE_TAG)) if parent is not None else None
        tags = {TAG_KIND: "sweep", TAG_SWEEP: name, TAG_STUDY: study_name, TAG_STORAGE: storage_url}
        if space_path:
            tags[TAG_SPACE_PATH] = str(space_path)
        if parent is None:
            run = self.client.create_run(exp_id, tags=_tag_dict(tags), run_name=name)
            run_id = run.info.run_id
            self._children[run_id] = {}
            tags = {}
        else:
            run_id = parent.info.run_id
            self.client.update_run(run_id, status="RUNNING")
            old = parent.data.params
            for key in [k for k in flat if k in old]:
                if old[key] != flat[key]:  # params are immutable: keep the change as a tag
                    tags[f"tuner.param.{key}"] = flat[key]
                del flat[key]
            self._load_children(exp_id, run_id)
            # (a writer started again replays the best values it may have written)
            self._logged[run_id] = self._last_steps(run_id, parent.data.metrics)
        self._sweep_params[run_id] = dict(params)
        tags[note.NOTE_TAG] = note.sweep_note(params, kept)  # the run's description
        self._write(run_id, [], flat, tags)
        with tempfile.TemporaryDirectory(prefix="tuner-space-") as tmp:
            path = Path(tmp) / "space.yaml"
            path.write_text(space_text)
            self.client.log_artifact(run_id, str(path))
        self._pending[run_id] = _Pending(time.monotonic())
        return run_id

    def _find_parent(self, exp_id: str, study_name: str, storage_url: str) -> Any:
        """The sweep's parent run: the one of this study (its uid: a `--fresh` sweep of
        the same name has another) in this storage, else — the sweep's folder was moved
        or copied, and the default journal's URL with it — the study's first one."""
        # filter on a constant only (no quoting of user text), compare the rest here
        found = [
            run
            for run in self._search(exp_id, f"tags.`{TAG_KIND}` = 'sweep'")
            if run.data.tags.get(TAG_STUDY) == study_name
        ]
        for run in found:
            if run.data.tags.get(TAG_STORAGE) == storage_url:
                return run
        return min(found, key=lambda run: run.info.start_time or 0, default=None)

    def _search(self, exp_id: str, filter_string: str) -> Iterable[Any]:
        token = None
        while True:
            page = self.client.search_runs(
                [exp_id], filter_string=filter_string, max_results=1000, page_token=token
            )
            yield from page
            token = page.token
            if not token:
                return

    def _load_children(self, exp_id: str, parent_id: str) -> dict[int, str]:
        children: dict[int, str] = {}
        statuses: dict[int, str] = {}
        for run in self._search(exp_id, f"tags.`{TAG_PARENT}` = '{parent_id}'"):
            number = run.data.tags.get(TAG_TRIAL_NUMBER)
            if number is not None and number.isdigit() and int(number) not in children:
                children[int(number)] = run.info.run_id
                statuses[int(number)] = run.info.status
        self._children[parent_id] = children
        self._statuses[parent_id] = statuses
        return children

    def trial_statuses(self, parent_run_id: str) -> dict[int, str]:
        """{Optuna trial number: its child run's MLflow status} as the sweep started (a
        resume compares them with the study: a finished trial whose run is missing or
        RUNNING lost its last writes)."""
        if parent_run_id not in self._statuses:
            exp_id = self.client.get_run(parent_run_id).info.experiment_id
            self._load_children(exp_id, parent_run_id)
        return dict(self._statuses[parent_run_id])

    def trial_runs(self, parent_run_id: str) -> dict[int, str]:
        """{Optuna trial number: child run id} of a parent (e.g. to close stale runs)."""
        children = self._children.get(parent_run_id)
        if children is None:
            exp_id = self.client.get_run(parent_run_id).info.experiment_id
            children = self._load_children(exp_id, parent_run_id)
        return dict(children)

    def log_best(self, parent_run_id: str, value: float, step: int) -> None:
        """The best value so far, with step = the number of finished trials; the parent's
        description names it, and the trial that ended with it."""
        self.log_metrics(parent_run_id, {METRIC_BEST: value}, step)
        params = self._sweep_params.get(parent_run_id)
        if params is not None and _finite(value) is not None:
            trial = self._valued.get(value)
            best = note.best_line(note.order(params)[0], value, trial, step)
            self._queue(parent_run_id, [], {note.NOTE_TAG: note.sweep_note(params, best)})

    def end_sweep(
        self, parent_run_id: str, status: str = "FINISHED", artifacts: Iterable[Path] = ()
    ) -> None:
        """Write everything queued, attach the leaderboard and plots (images under
        `plots/`, folders under their name), and set the parent's status."""
        self.flush()
        for item in artifacts:
            path = Path(item)
            if path.is_dir():
                self.client.log_artifacts(parent_run_id, str(path), artifact_path=path.name)
            elif path.is_file():
                folder = "plots" if path.suffix.lower() in _IMAGES else None
                self.client.log_artifact(parent_run_id, str(path), artifact_path=folder)
        self.client.set_terminated(parent_run_id, status=status)
        self._pending.pop(parent_run_id, None)

    # trials -------------------------------------------------------------------------------

    def start_trial(
        self,
        parent_run_id: str,
        number: int,
        params: Mapping[str, Any],
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        """The child run of Optuna trial `number` (`trial-<number>`), or on resume the
        existing one, set RUNNING again; epochs it logged before are not logged twice
        (the first value of a step stays, as in Optuna)."""
        children = self._children.get(parent_run_id)
        if children is None:
            exp_id = self.client.get_run(parent_run_id).info.experiment_id
            children = self._load_children(exp_id, parent_run_id)
        run_tags = {TAG_KIND: "trial", TAG_TRIAL_NUMBER: str(number), **(tags or {})}
        flat = _flatten(params)
        existing = children.get(number)
        if existing is None:
            exp_id = self.experiment_id or self.client.get_run(parent_run_id).info.experiment_id
            run = self.client.create_run(
                exp_id,
                tags=_tag_dict({TAG_PARENT: parent_run_id, **run_tags}),
                run_name=f"trial-{number}",
            )
            run_id = run.info.run_id
            children[number] = run_id
            self._pending[run_id] = _Pending(time.monotonic(), params=flat)
            if self.flush_seconds <= 0:
                self.flush(run_id)
            return run_id
        run = self.client.get_run(existing)
        old = run.data.params
        new = {k: v for k, v in flat.items() if k not in old}
        for key in [k for k in flat if k in old and old[k] != flat[k]]:
            run_tags[f"tuner.param.{key}"] = flat[key]
        self._logged[existing] = self._last_steps(existing, run.data.metrics)
        if run.info.status != "RUNNING":
            self.client.update_run(existing, status="RUNNING")
        self._write(existing, [], new, run_tags)
        self._pending[existing] = _Pending(time.monotonic())
        return existing

    def _last_steps(self, run_id: str, metrics: Mapping[str, float]) -> dict[str, int]:
        out = {}
        for key in metrics:
            history = self.client.get_metric_history(run_id, key)
            if history:
                out[key] = max(m.step for m in history)
        return out

    def log_epoch(self, run_id: str, epoch: int, metrics: Mapping[str, Any]) -> None:
        """One epoch's metrics with step = epoch (non-finite values skipped)."""
        self.log_metrics(run_id, metrics, epoch)

    def log_metrics(self, run_id: str, metrics: Mapping[str, Any], step: int) -> None:
        """A step of a run's metrics; a step a metric has already (logged here, or found
        in a resumed run's history) is not logged again: the first value stays."""
        stamp = _now()
        done = self._logged.setdefault(run_id, {})
        batch, skipped = [], []
        for key, raw in metrics.items():
            if step <= done.get(key, -1):
                continue
            value = _finite(raw)
            if value is None:
                skipped.append(key)
            else:
                batch.append(Metric(key, value, stamp, step))
                done[key] = step
        tags = {}
        if skipped and run_id not in self._nonfinite:
            tags[TAG_NONFINITE] = f"{','.join(skipped)} at step {step}"
            self._nonfinite.add(run_id)
        self._queue(run_id, batch, tags)

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        self._queue(run_id, [], tags)

    def end_trial(
        self, run_id: str, state: str, value: float | None = None, reason: str | None = None
    ) -> None:
        """Close a trial's run: COMPLETE → FINISHED, PRUNED → KILLED, FAIL → FAILED;
        tags `state` (the Optuna state name) and `reason`; metric `value` if given."""
        state = state.upper().removeprefix("TRIALSTATE.")
        status = STATUS.get(state)
        if status is None:
            raise ValueError(f"unknown trial state {state!r}; expected one of {sorted(STATUS)}")
        tags: dict[str, Any] = {TAG_STATE: state}
        if reason:
            tags[TAG_REASON] = reason
        metrics: list[Metric] = []
        if value is not None:
            number = _finite(value)
            if number is None:
                if run_id not in self._nonfinite:
                    tags[TAG_NONFINITE] = f"{METRIC_VALUE} ({value})"
                    self._nonfinite.add(run_id)
            else:
                metrics.append(Metric(METRIC_VALUE, number, _now(), 0))
        self._queue(run_id, metrics, tags, force=True)
        self.client.set_terminated(run_id, status=status)
        kids = (kids.items() for kids in self._children.values())
        number = next((n for pairs in kids for n, r in pairs if r == run_id), None)
        finite_value = _finite(value)
        if number is not None and finite_value is not None:
            self._valued[finite_value] = number  # (log_best names the trial of a best value)
        self._pending.pop(run_id, None)
        self._logged.pop(run_id, None)

    def run_id(self, handle: str) -> str:
        """The MLflow id of a run `start_trial` returned (here, the id itself; the
        writer process's tracker hands out handles first)."""
        return handle

    def close(self, discard: bool = False) -> None:
        """Everything queued written (unless `discard`: another driver owns the sweep)."""
        if discard:
            self._pending.clear()
        else:
            self.flush()

    # batching -----------------------------------------------------------------------------

    def _queue(
        self, run_id: str, metrics: list[Any], tags: Mapping[str, Any], force: bool = False
    ) -> None:
        pending = self._pending.get(run_id)
        if pending is None:  # a run we did not start here (or already ended): write now
            self._write(run_id, metrics, {}, tags)
            return
        pending.metrics.extend(metrics)
        pending.tags.update(tags)
        if force or time.monotonic() - pending.since >= self.flush_seconds:
            self.flush(run_id)

    def flush(self, run_id: str | None = None) -> None:
        """Write what is queued for one run (or for all)."""
        for rid in [run_id] if run_id else list(self._pending):
            pending = self._pending.get(rid)
            if pending is None:
                continue
            metrics, params, tags = pending.metrics, pending.params, pending.tags
            self._pending[rid] = _Pending(time.monotonic())
            self._write(rid, metrics, params, tags)

    def _write(
        self,
        run_id: str,
        metrics: list[Any],
        params: Mapping[str, str],
        tags: Mapping[str, Any],
    ) -> None:
        """One `log_batch` call when it fits MLflow's limits (1000 metrics, 100 params,
        100 tags, 1000 in all per call), else as few as needed."""
        param_list = [Param(k, v) for k, v in params.items()]
        tag_list = _tags(tags)
        if not (metrics or param_list or tag_list):
            return
        if (
            len(param_list) <= MAX_PARAMS_TAGS_PER_BATCH
            and len(tag_list) <= MAX_PARAMS_TAGS_PER_BATCH
            and len(metrics) + len(param_list) + len(tag_list) <= MAX_METRICS_PER_BATCH
        ):
            self.client.log_batch(
                run_id, metrics=metrics, params=param_list, tags=tag_list, synchronous=True
            )
            return
        for chunk in _chunks(metrics, MAX_METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=chunk, synchronous=True)
        for chunk in _chunks(param_list, MAX_PARAMS_TAGS_PER_BATCH):
            self.client.log_batch(run_id, params=chunk, synchronous=True)
        for chunk in _chunks(tag_list, MAX_PARAMS_TAGS_PER_BATCH):
            self.client.log_batch(run_id, tags=chunk, synchronous=True)


@contextlib.contextmanager
def _probing(tracking_uri: str) -> Iterator[None]:
    """The first request to a tracking server: one try with a short timeout. MLflow's
    defaults (7 retries with backoff, 120 s timeouts) make an unreachable server look like
    a hang for minutes; later requests keep those defaults, or whatever the user set."""
    if scheme(tracking_uri) not in ("http", "https"):
        yield
        return
    probe = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
    saved = {k: os.environ.get(k) for k in probe}
    os.environ.update({k: v for k, v in probe.items() if saved[k] is None})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)


def _reason(exc: BaseException) -> str:
    """One line: MLflow's first line, or just the socket error of a failed connection."""
    text = str(exc).strip()
    refused = re.search(r"\[Errno -?\d+\] ([^\"')]+)", text)
    if refused:
        return f"cannot reach the server ({refused.group(1).strip()})"
    if "Read timed out" in text or "ConnectTimeout" in text:
        return "the server did not answer in time"
    return text.splitlines()[0] if text else type(exc).__name__


def quiet_logs() -> None:
    """MLflow's and Alembic's chatter off: schema migrations on a new store, and each
    failed commit (a full disk) logged with a traceback (the exception says it too)."""
    import logging

    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)


def _fast_sqlite(client: Any) -> None:
    """WAL journal (persistent in the file: the UI server can read while a sweep writes)
    and `synchronous=NORMAL` on our connections (no fsync per commit; safe against a
    killed process): measured here 23 → 16 ms per trial. Best effort: MLflow's store
    engine is not public API, so any surprise leaves the defaults in place."""
    try:
        from sqlalchemy import event, text

        from tuner.compat.mlflow import store_engine

        engine = store_engine(client)

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        event.listen(engine, "connect", on_connect)
        engine.dispose()  # pooled connections predate the listener
        with engine.connect() as connection:
            connection.execute(text("PRAGMA journal_mode=WAL"))
    except Exception:  # pragma: no cover - an MLflow/SQLAlchemy change or a locked file
        return


def latest_sweep_experiment(tracking_uri: str) -> str | None:
    """The experiment id of the most recently started sweep in a store, or None."""
    return latest_sweep_page(tracking_uri)[0]


def latest_sweep_page(tracking_uri: str) -> tuple[str | None, str | None, str]:
    """(experiment id, metric, goal) of the most recently started sweep in a store: what
    `runs_url` needs to open its runs sorted by its metric; (None, None, ...) if none."""
    client = MlflowClient(tracking_uri=tracking_uri)
    experiments = client.search_experiments(
        filter_string=f"tags.`{TAG_SWEEP}` LIKE '%'", max_results=1000
    )
    ids = [e.experiment_id for e in experiments]
    if not ids:
        return None, None, "maximize"
    runs = client.search_runs(
        ids,
        filter_string=f"tags.`{TAG_KIND}` = 'sweep'",
        max_results=1,
        order_by=["attributes.start_time DESC"],
    )
    if runs:
        return (runs[0].info.experiment_id, *note.order(runs[0].data.params))
    latest = max(experiments, key=lambda e: e.creation_time or 0).experiment_id
    return latest, None, "maximize"


__all__ = [
    "ARTIFACTS_DIR",
    "DB_FILE",
    "STATUS",
    "Tracker",
    "check_writable_store",
    "default_artifact_root",
    "default_tracking_uri",
    "latest_sweep_experiment",
    "latest_sweep_page",
    "manages_artifacts",
    "resolve_tracking_uri",
    "runs_url",
]
