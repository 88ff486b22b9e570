"""The one contract every objective meets, whoever runs it (`tune train`, a Ray worker,
a plain Optuna loop).

An objective is a function `objective(config, report, trial_dir) -> dict | None`:
- `config` is a flat dict of hyperparameters (every key can be swept);
- `report(epoch, metrics)` is called once per epoch, epochs counted from 1, with a dict
  of metric name → float; it may raise `StopTrial` (pruned, or the sweep is ending), which
  the objective lets propagate;
- `trial_dir` is the trial's own folder: checkpoints, TensorBoard files, its model. It
  exists when the objective starts (a sweep's runner creates it; a resumed trial finds
  what it left there).
It returns an optional summary dict (status, final metrics).

It declares up front which metric names it reports — `metrics(config)` — so a space file
naming a metric it never reports is refused before any trial starts, and optionally a
JSON Schema for its config and a `prepare(config)` that checks a config more deeply
(without training) and fills in defaults. Three optional hooks let the objective own
everything about its models, so that tuner itself never looks inside one:
- `export_model(trial_dir, dest)` turns a trial folder without an exported `model/`
  into one (from its checkpoints, say: KerasTuner's `load_model(trial)`), which
  `tune best --export` asks for;
- `mlflow_model(model_dir)` describes an exported model as an MLflow pyfunc model
  (`MlflowModel`), which `tune best --register` logs and registers;
- `setup_process(resources)` runs once in each worker process before its first trial,
  with the trial's Ray resources ({"cpu": 1, "gpu": 0.5}): e.g. to cap the framework's
  GPU memory to the trial's share before the framework starts;
- `warm_up(config)` runs in each worker process of a sweep as soon as the process
  starts, in the background, with the config every trial shares (the space file's
  `fixed` and `dataset`): whatever a first trial would otherwise wait for (importing the
  framework, reading the data set) happens while Ray is still scheduling it. It must be
  safe to run while a trial starts in the same process. The built-in `tabular` objective is
`objectives.tabular`; a user's is `package.module:function`, decorated with
`@tuner.trial.objective(metrics=[...])`. The module is imported as Python would, else from
the space file's folder (`tune run` in any folder, and its Ray workers, find
`my_module.py` beside the space file without PYTHONPATH).

The resume contract. A trial can run more than once in the same `trial_dir`: a resumed
sweep re-runs the trials it interrupted, a trial whose worker died runs again. While an
objective runs, `current_trial()` says which trial it is (`TrialContext`): its number,
its folder, and `resume_epoch`, the last epoch the study already has of it (0 for a new
trial). An objective that checkpoints in `trial_dir` (Keras: `BackupAndRestore`, see
`tuner.keras`) continues after its checkpoint and may re-report the epochs its checkpoint
holds; the study takes a re-reported epoch with the value it has recorded as a replay,
and one with another value as a sign that the objective started over (no checkpoint):
the trial is then failed and its config run again as a new trial, never stitched from
two runs. So an objective without checkpoints needs nothing: it is simply run again.

The best epoch. A sweep scores a trial by its best epoch (`score: best`, the default with
one metric): `current_trial().scored_by` names the metric, and the model an objective
leaves in `trial_dir/model` should be that epoch's (`tuner.keras.Report(report,
restore_best=True)` does it for Keras `fit`), since `tune best --export/--register`
take that folder as it is; under `score: last` (`scored_by` None) the last epoch's.

Without hooks, every objective also gets: `tune best --export` copies `trial_dir/model`;
`tune best --register` logs a SavedModel (`model.export(trial_dir / "model")`) or a
`.keras` file there as an MLflow pyfunc model (`tuner.tracking.saved_model`); a trial
holding a fraction of a GPU gets TensorFlow's memory kept to its share (`tuner.gpu`).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tuner.errors import ConfigError
from tuner.errors import TrialFailed as TrialFailed  # raised by objectives: tuner.trial.TrialFailed
from tuner.program.spec import PREFIX, ProgramSpec
from tuner.space.model import Metric

Metrics = dict[str, float]
Report = Callable[[int, Metrics], None]
BUILTIN_OBJECTIVES = {"tabular": "objectives.tabular:train"}

# What a trial folder holds, by this contract: every name is defined here only. An
# objective exports its servable model to MODEL and may keep CHECKPOINTS; the runner
# writes CONFIG (the config it ran with) and the objective METRICS.
MODEL = "model"
CONFIG = "config.yaml"
METRICS = "metrics.json"
CHECKPOINTS = "checkpoints"


class ObjectiveFunction(Protocol):
    def __call__(self, config: dict[str, Any], report: Report, trial_dir: Path) -> Any: ...


class StopTrial(Exception):
    """Raised by `report` to end a trial early (pruned, or the sweep's budget is spent)."""

    def __init__(self, reason: str = "stopped"):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class TrialContext:
    """The trial an objective is running (see `current_trial`): `number` (the study's
    trial number; None for `tune train`), `trial_dir`, and `resume_epoch`, the last epoch
    the study already has of this trial (0: a new trial). A re-run that resumes from a
    checkpoint continues after its checkpoint's epoch; one that re-reports an epoch the
    study has with another value is run again from scratch as a new trial (see the
    module text). `checkpoint_dir` is where the contract keeps checkpoints.

    `scored_by`: the sweep's metric when the trial's value is its best epoch's (the space
    file's `score: best`, the default with one metric): the model the objective leaves in
    `trial_dir/model` should be that epoch's (Keras: `ModelCheckpoint(save_best_only=True,
    monitor=scored_by.name, mode=scored_by.mode)` or `EarlyStopping(restore_best_weights=
    True)`), since `tune best --export/--register` take that folder. None: the trial is
    scored by its last epoch (`score: last`, several metrics), or runs outside a sweep."""

    number: int | None
    trial_dir: Path
    resume_epoch: int = 0
    scored_by: Metric | None = None

    @property
    def checkpoint_dir(self) -> Path:
        return self.trial_dir / CHECKPOINTS

    @property
    def resumed(self) -> bool:
        return self.resume_epoch > 0


_current: contextvars.ContextVar[TrialContext | None] = contextvars.ContextVar(
    "tuner_trial", default=None
)
_running: dict[int, TrialContext] = {}  # id(context) → context, of every trial scope open
_running_lock = threading.Lock()


def current_trial() -> TrialContext | None:
    """The trial the calling code runs in (set by the trial runner, and by `tune train`),
    None outside one. A thread the objective starts itself sees it too while only one
    trial runs in the process (as in a Ray worker)."""
    context = _current.get()
    if context is not None:
        return context
    with _running_lock:
        return next(iter(_running.values())) if len(_running) == 1 else None


@contextlib.contextmanager
def trial_scope(context: TrialContext) -> Iterator[TrialContext]:
    """Run the block as trial `context` (what `current_trial` returns inside it)."""
    token = _current.set(context)
    with _running_lock:
        _running[id(context)] = context
    try:
        yield context
    finally:
        with _running_lock:
            _running.pop(id(context), None)
        _current.reset(token)


@dataclass(frozen=True)
class MlflowModel:
    """What `mlflow.pyfunc.log_model` needs to log an objective's exported model: the
    arguments of that name, and the modules to pickle by value (so the logged model
    loads where only its `pip_requirements` are installed, not tuner)."""

    python_model: Any
    artifacts: dict[str, str]
    pip_requirements: list[str]
    signature: Any = None
    input_example: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    pickle_by_value: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Objective:
    """A resolved objective: the function and what it declares."""

    ref: str
    function: ObjectiveFunction
    declared: Callable[[dict[str, Any]], frozenset[str]]
    config_schema: dict[str, Any] | None = None
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    export_model: Callable[[Path, Path], Path] | None = None
    mlflow_model: Callable[[Path], MlflowModel] | None = None
    setup_process: Callable[[dict[str, float]], None] | None = None
    warm_up: Callable[[dict[str, Any]], None] | None = None

    @property
    def name(self) -> str:
        """How messages name it: its reference, or a program's command."""
        return objective_name(self.ref)

    def metrics(self, config: dict[str, Any]) -> frozenset[str]:
        return self.declared(config)

    def check_metric(self, name: str, config: dict[str, Any], where: str | None = None) -> None:
        names = self.metrics(config)
        if name not in names:
            from tuner.text import suggest

            near = suggest(name, names)
            hint = f"did you mean '{near}'?" if near else f"it reports {sorted(names)}"
            raise ConfigError(
                f"metric '{name}' is never reported by objective '{self.name}'",
                where=where,
                hint=hint,
            )


def objective(
    *,
    metrics: Iterable[str] | Callable[[dict[str, Any]], Iterable[str]],
    config_schema: dict[str, Any] | None = None,
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    export_model: Callable[[Path, Path], Path] | None = None,
    mlflow_model: Callable[[Path], MlflowModel] | None = None,
    setup_process: Callable[[dict[str, float]], None] | None = None,
    warm_up: Callable[[dict[str, Any]], None] | None = None,
) -> Callable[[ObjectiveFunction], ObjectiveFunction]:
    """Declare what a user's objective reports (and optionally its config schema, a
    deeper config check, and its model, process and warm-up hooks: see the module
    text)."""

    def mark(fn: ObjectiveFunction) -> ObjectiveFunction:
        fn.tuner_metrics = metrics  # type: ignore[attr-defined]
        fn.tuner_config_schema = config_schema  # type: ignore[attr-defined]
        fn.tuner_prepare = prepare  # type: ignore[attr-defined]
        fn.tuner_export_model = export_model  # type: ignore[attr-defined]
        fn.tuner_mlflow_model = mlflow_model  # type: ignore[attr-defined]
        fn.tuner_setup_process = setup_process  # type: ignore[attr-defined]
        fn.tuner_warm_up = warm_up  # type: ignore[attr-defined]
        return fn

    return mark


def objective_name(ref: str) -> str:
    """An objective reference as messages show it: a program's is its command."""
    return ProgramSpec.from_ref(ref).describe() if ref.startswith(PREFIX) else ref


def checked_report(report: Report) -> Report:
    """Wrap a report function so every caller gets the same checks: epochs count up from
    1, values are finite-or-NaN numbers."""
    last = 0

    def wrapped(epoch: int, metrics: Metrics) -> None:
        nonlocal last
        if not isinstance(epoch, int) or epoch <= last:
            raise ValueError(f"report: epoch {epoch!r} after {last}; epochs count up from 1")
        clean = {}
        for name, value in metrics.items():
            try:
                clean[name] = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"report: metric {name}={value!r} is not a number") from None
        last = epoch
        report(epoch, clean)

    return wrapped


def write_metrics(path: Path, payload: dict[str, Any]) -> None:
    """metrics.json, atomically (a killed trial leaves the previous epoch's file)."""
    from tuner.atomic import write_text_atomic

    def finite(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if isinstance(value, dict):
            return {k: finite(v) for k, v in value.items()}
        if isinstance(value, list):
            return [finite(v) for v in value]
        return value

    write_text_atomic(path, json.dumps(finite(payload), indent=2) + "\n")
