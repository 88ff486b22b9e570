"""One trial of the tabular objective, its whole life: its inputs prepared, its model
built (or restored), and for each epoch: seeding, batches, a training step, validation,
cost metrics, metrics.json, checkpoints, a report; then its export. One loop for a
trial on one process and for each rank of a distributed one (distributed.py): what
differs is the `Step` (Keras's `fit` here, `FitStep`; the collective step under
MultiWorkerMirroredStrategy there) and who writes (the chief, rank 0).

Speed: one `model.fit` call per epoch with `steps_per_execution` (many steps per call
into TensorFlow, no per-step Python), data parsed once per process by the reader, and
the Keras session cleared at the start of every trial so a long-lived worker does not
grow. Resumability: the last epoch's checkpoint holds weights, optimizer state and the
epoch; data order and dropout masks are functions of (seed, epoch), so a resumed trial
continues the uninterrupted trajectory.

Nothing is written before the inputs are known good: the config, the data set's schema
and its records (both splits opened, a split held in memory parsed whole). A data error
met later (a corrupt shard of a split streamed from disk) removes the trial folder when
this call created it and nothing was trained; otherwise metrics.json says "failed".
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from tuner import faults
from tuner.compat.keras import seed_generators
from tuner.errors import ConfigError, DataError
from tuner.space.model import Metric
from tuner.space.yaml_file import dump_yaml
from tuner.tabular.data import reader
from tuner.tabular.data.schema import Schema, save_schema
from tuner.tabular.model.build import Built, build_model, label_scale
from tuner.tabular.model.config import dataset_schema, prepare
from tuner.tabular.model.cost import model_size, predict_batch, predict_latency_ms
from tuner.tabular.model.export import SCHEMA_COPY, best_checkpoint, export_model, load_schema_file
from tuner.tabular.model.inputs import (
    check_records,
    check_same_config,
    epoch_batches,
    same_features,
    validation_batches,
    with_label_stats,
    with_quantiles,
)
from tuner.tabular.model.layers import DefinedAUC, StandardizedMeanSquaredError, keras, tf
from tuner.tabular.model.optimizers import combined, current_learning_rate, optimizers_for
from tuner.timeline import mark
from tuner.trial import (  # the trial folder's names
    CHECKPOINTS,
    CONFIG,
    METRICS,
    MODEL,
    Report,
    StopTrial,
    TrialFailed,
    write_metrics,
)

TENSORBOARD = "tensorboard"
DEFAULT_STEPS_PER_EXECUTION = 128
KEPT_BEST = Metric("val_loss", "minimize")  # the epoch whose checkpoint is kept as best


def loss_and_metrics(task: str, cfg: dict[str, Any], label_std: float) -> tuple[Any, list[Any]]:
    if task == "binary":
        return keras.losses.BinaryCrossentropy(), [
            keras.metrics.BinaryAccuracy(name="accuracy"),
            DefinedAUC(name="auc", num_thresholds=1000),
        ]
    if task == "multiclass":
        return keras.losses.SparseCategoricalCrossentropy(), [
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            keras.metrics.SparseTopKCategoricalAccuracy(
                k=cfg.get("top_k", 3), name="top_k_accuracy"
            ),
        ]
    # the loss on the standardized label; rmse and mae in the label's own units
    return StandardizedMeanSquaredError(label_std), [
        keras.metrics.RootMeanSquaredError(name="rmse"),
        keras.metrics.MeanAbsoluteError(name="mae"),
    ]


def say_undefined(metrics: dict[str, float], said: set[str]) -> None:
    """An AUC over rows of one class is NaN (layers.DefinedAUC): say why, once per metric
    and run, so that a metric with no value is never a mystery."""
    for name in ("auc", "val_auc"):
        value = metrics.get(name)
        if value is None or not math.isnan(value) or name in said:
            continue
        said.add(name)
        rows = "the validation split's rows are" if name == "val_auc" else "the training rows are"
        print(
            f"tune: warning: {name} is undefined (NaN, reported as no value): {rows} of one "
            "class only",
            file=sys.stderr,
        )


def _seed_dropout(model: Any, seed: int, epoch: int) -> None:
    """Dropout masks of an epoch depend on (seed, epoch) only, not on what ran before."""
    for i, layer in enumerate(model.layers):
        for j, generator in enumerate(seed_generators(layer)):
            digest = hashlib.sha256(f"{seed}:{epoch}:{i}:{j}".encode()).digest()
            start = int.from_bytes(digest[:6], "big")
            generator.state.assign(tf.constant([start, 0], dtype=generator.state.dtype))


class _FirstStep(keras.callbacks.Callback):
    """Records when the first batch of training finished (time to first step)."""

    def __init__(self) -> None:
        super().__init__()
        self.at: float | None = None

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.at is None:
            self.at = time.perf_counter()
            mark("first_step")


class _Summaries:
    """TensorBoard scalars, one point per epoch, for train and validation."""

    def __init__(self, directory: Path):
        self.writers = {
            "train": tf.summary.create_file_writer(str(directory / "train")),
            "validation": tf.summary.create_file_writer(str(directory / "validation")),
        }

    def write(self, epoch: int, metrics: dict[str, float]) -> None:
        for name, value in metrics.items():
            split = "validation" if name.startswith("val_") else "train"
            with self.writers[split].as_default(step=epoch):
                tf.summary.scalar(name.removeprefix("val_"), value)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.flush()
            writer.close()


class Step(Protocol):
    """What differs between a trial on one process and on N worker processes: how a
    model is built and trained for an epoch, and who writes. `run_trial` does the rest
    the same for both. Everything a process that is not the `chief` would write (the
    trial folder, metrics.json, TensorBoard, the export) and what it would report is
    the chief's alone; every process checkpoints (a collective save needs them all)."""

    @property
    def chief(self) -> bool:
        """Whether this process validates, reports and writes the trial folder."""

    @property
    def workers(self) -> int | None:
        """The processes training the model (None: this one alone)."""

    @property
    def first_step_at(self) -> float | None:
        """When the trial's first training step ended, if known."""

    def build(self, schema: Schema, cfg: dict[str, Any], steps: int) -> tuple[Built, Any]:
        """The model to train, ready (compiled, its optimizer built), and the optimizers
        by name (optimizers.optimizers_for) the checkpoint holds."""

    def batches(self, ds: Any) -> Any:
        """This process's part of an epoch's training batches."""

    def train_epoch(self, batches: Any, first: bool) -> dict[str, float]:
        """One epoch of training on `batches`; its training metrics (of every process)."""

    def judge(self) -> Built:
        """The model that validation and the cost metrics read, the trained weights in
        it (chief only)."""

    def agree(self, chief_says: bool) -> bool:
        """What the chief says, known to every process (whether this epoch is the best)."""

    def exportable(self, restoring: bool) -> Built:
        """The model to export, the trained weights in it; `restoring`: a model the best
        epoch's checkpoint is then restored into (chief only)."""

    def finish(self) -> None:
        """After the last epoch and the chief's export."""

    def own_dir(self, trial_dir: Path) -> Path:
        """The folder whose `checkpoints/` this process writes."""

    def close(self, trial_dir: Path) -> None:
        """The end of this process's part, however it ended."""


class FitStep:
    """One process: Keras's `fit` once per epoch, `steps_per_execution` steps per call
    into TensorFlow (no per-step Python); the Keras session cleared first, so a
    long-lived worker does not grow."""

    chief = True
    workers = None

    def __init__(self) -> None:
        self.built: Built | None = None
        self._first = _FirstStep()

    @property
    def first_step_at(self) -> float | None:
        return self._first.at

    def build(self, schema: Schema, cfg: dict[str, Any], steps: int) -> tuple[Built, Any]:
        keras.backend.clear_session()
        if os.environ.get("TUNER_DETERMINISTIC"):  # bit-for-bit repeatable runs (slower)
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(cfg["seed"])
        built = build_model(schema, cfg)
        optimizers = optimizers_for(cfg, steps)
        optimizer = combined(optimizers)
        loss, keras_metrics = loss_and_metrics(built.task, cfg, label_scale(schema)[1])
        built.model.compile(
            optimizer=optimizer,
            loss=loss,
            metrics=keras_metrics,
            steps_per_execution=steps_per_execution(cfg, steps),
            jit_compile=False,
        )
        optimizer.build(built.model.trainable_variables)
        self.built, self._first = built, _FirstStep()
        return built, optimizers

    def batches(self, ds: Any) -> Any:
        return ds

    def train_epoch(self, batches: Any, first: bool) -> dict[str, float]:
        assert self.built is not None
        callbacks = [keras.callbacks.TerminateOnNaN()]
        if first:
            callbacks.append(self._first)
        fitted = self.built.model.fit(
            batches, epochs=1, verbose=0, shuffle=False, callbacks=callbacks
        )
        return {k: float(v[-1]) for k, v in fitted.history.items()}

    def judge(self) -> Built:
        assert self.built is not None
        return self.built

    def agree(self, chief_says: bool) -> bool:
        return chief_says

    def exportable(self, restoring: bool) -> Built:
        return self.judge()

    def finish(self) -> None:
        pass

    def own_dir(self, trial_dir: Path) -> Path:
        return trial_dir

    def close(self, trial_dir: Path) -> None:
        pass


def steps_per_execution(cfg: dict[str, Any], steps: int) -> int:
    """Training steps per call into TensorFlow: the config's, else up to an epoch's."""
    return int(cfg.get("steps_per_execution", min(DEFAULT_STEPS_PER_EXECUTION, steps)))


def run_trial(
    config: dict[str, Any],
    report: Report,
    trial_dir: str | Path,
    *,
    resume: bool = True,
    init_from: str | Path | None = None,
    keep_best: Metric = KEPT_BEST,
    export: bool = True,
    on_resume: Callable[[int], None] | None = None,
    restore_best: bool = False,
    step: Step | None = None,
) -> dict[str, Any]:
    """Train one config. Returns the summary also written to metrics.json.
    `on_resume(epoch)` is told the checkpoint's epoch before a resumed trial re-reports
    the epochs it holds.

    `keep_best` is the metric whose best epoch's checkpoint is kept (`checkpoints/best`);
    with `restore_best` the exported model is that epoch's weights, not the last's (as
    Keras's `restore_best_weights`): a sweep that scores a trial by its best epoch
    (`score: best`) passes its own metric, so that the model `tune best --export` takes
    is the one its value was measured on. metrics.json says which checkpoint the model is
    from (`model_checkpoint`) and, once exported, its epoch (`model_epoch`).

    Every epoch reports, besides the loss and quality metrics, the model's cost:
    `params` and `model_bytes` (`model_size`: the weights, not the SavedModel folder)
    and `predict_ms` (`predict_latency_ms` on the first PREDICT_ROWS validation rows),
    measured once per call after its first trained epoch (the weights change from epoch
    to epoch, the computation does not) and reported unchanged every epoch after it.

    `step` is how the model trains (FitStep, this process alone, by default; a rank of
    a distributed trial passes distributed.CollectiveStep): everything else — inputs,
    restore, per-epoch seeding and batches, validation, cost, metrics.json, checkpoints,
    reports, export — is this loop's, whichever step trains."""
    started = time.perf_counter()
    trainer: Step = step if step is not None else FitStep()
    cfg = prepare(config)
    trial_dir = Path(trial_dir).absolute()
    data_dir, data_schema = dataset_schema(cfg["dataset"])
    # everything below up to the first write only reads: a bad input leaves no trace
    created = not trial_dir.exists()
    last_dir = trial_dir / CHECKPOINTS / "last"  # (the chief's: every process resumes from it)
    resuming = resume and tf.train.latest_checkpoint(str(last_dir)) is not None
    if resuming and (trial_dir / SCHEMA_COPY).exists():
        model_schema = load_schema_file(trial_dir / SCHEMA_COPY)
    elif init_from is not None:
        init_from = Path(init_from).absolute()
        model_schema = load_schema_file(init_from / SCHEMA_COPY)
        same_features(model_schema, data_schema, init_from)
    else:
        model_schema = data_schema
    if resuming:
        check_same_config(trial_dir, cfg)
    check_records(data_dir, data_schema, cfg)
    if model_schema is data_schema:
        model_schema = with_label_stats(data_schema, data_dir, cfg["train_split"])
    model_schema = with_quantiles(model_schema, data_dir, cfg)
    mark("data_loaded")

    rows = data_schema.splits[cfg["train_split"]].rows
    built, optimizers = trainer.build(
        model_schema, cfg, max(1, math.ceil(rows / cfg["batch_size"]))
    )
    model = built.model
    mark("model_built")
    if not resuming and init_from is not None:
        source = tf.train.latest_checkpoint(str(Path(init_from) / CHECKPOINTS / "last"))
        if source is None:
            raise ConfigError("--init-from: no checkpoint there", where=init_from)
        try:
            tf.train.Checkpoint(model=model).restore(
                source
            ).expect_partial().assert_existing_objects_matched()
        except (AssertionError, ValueError) as exc:
            raise ConfigError(
                "--init-from: the model there has a different architecture",
                where=init_from,
                hint=str(exc).splitlines()[0][:200],
            ) from None
    # the inputs are good: from here on the trial folder is written
    if trainer.chief:
        if not resume:
            for name in (CHECKPOINTS, METRICS, TENSORBOARD, MODEL, CONFIG, SCHEMA_COPY):
                target = trial_dir / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        trial_dir.mkdir(parents=True, exist_ok=True)
        if resume and not resuming and (last_dir / "checkpoint").exists():
            message = f"{trial_dir}: the last checkpoint is missing; training from scratch"
            warnings.warn(message, stacklevel=2)
            print(f"tune: warning: {message}", file=sys.stderr)
            shutil.rmtree(trial_dir / CHECKPOINTS)
    epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False)
    checkpoint = tf.train.Checkpoint(model=model, epoch=epoch_var, **optimizers)
    own = trainer.own_dir(trial_dir) / CHECKPOINTS
    last = tf.train.CheckpointManager(checkpoint, str(own / "last"), max_to_keep=1)
    best = tf.train.CheckpointManager(checkpoint, str(own / "best"), max_to_keep=1)

    history: list[dict[str, Any]] = []  # {"epoch": int, metric: float, ...}
    best_value: float | None = None
    best_epoch: int | None = None
    if resuming:
        try:
            restored = checkpoint.restore(tf.train.latest_checkpoint(str(last_dir)))
            restored.assert_existing_objects_matched()
        except (tf.errors.OpError, ValueError, AssertionError) as exc:
            if trainer.workers is not None:
                raise  # (the ranks would have to agree to start over: the trial fails)
            reason = " ".join(str(exc).split())[:200]
            message = f"{trial_dir}: the last checkpoint cannot be read ({reason}); "
            warnings.warn(message + "training from scratch", stacklevel=2)
            print(f"tune: warning: {message}training from scratch", file=sys.stderr)
            return run_trial(
                config,
                report,
                trial_dir,
                resume=False,
                init_from=init_from,
                keep_best=keep_best,
                export=export,
                on_resume=on_resume,
                restore_best=restore_best,
                step=trainer,
            )
        history, best_value, best_epoch = kept_history(trial_dir, int(epoch_var), keep_best)
    summaries = None
    if trainer.chief:
        dump_yaml(cfg, trial_dir / CONFIG)
        save_schema(model_schema, trial_dir)  # as SCHEMA_COPY
        summaries = _Summaries(trial_dir / TENSORBOARD)
    start_epoch = int(epoch_var) + 1
    status = "running"
    timings: dict[str, float] = {}
    payload: dict[str, Any] = {}
    cost: dict[str, float] = {}  # params, model_bytes, predict_ms: measured once, below
    said: set[str] = set()  # metrics said to be undefined (say_undefined)

    def save_payload() -> None:
        if not trainer.chief:
            return
        best = (keep_best, best_epoch, best_value)
        payload.update(summary(status, int(epoch_var), cfg, history, best, timings))
        if trainer.workers is not None:
            payload["workers"] = trainer.workers
        payload["model_checkpoint"] = "best" if restore_best else "last"
        write_metrics(trial_dir / METRICS, payload)

    try:
        # A resumed trial first reports the epochs its checkpoint holds: whoever records
        # them (a sweep) may have been killed before it saw the last ones; a repeat of an
        # epoch it already has is ignored there.
        if resuming and on_resume is not None:
            on_resume(int(epoch_var))
        for entry in history:
            report(entry["epoch"], {k: v for k, v in entry.items() if k != "epoch"})
        for epoch in range(start_epoch, cfg["epochs"] + 1):
            _seed_dropout(model, cfg["seed"], epoch)
            train = trainer.batches(epoch_batches(data_dir, cfg, epoch, built))
            t0 = time.perf_counter()
            with reader.reading(data_dir, cfg["train_split"]):
                train_metrics = trainer.train_epoch(train, first=epoch == start_epoch)
            train_time = time.perf_counter() - t0
            if epoch == start_epoch and trainer.first_step_at is not None:
                timings["start_to_first_step"] = trainer.first_step_at - started
            if not math.isfinite(train_metrics.get("loss", math.nan)):
                status = "diverged"
                history.append({"epoch": epoch, **train_metrics})
                save_payload()
                raise TrialFailed(
                    f"diverged: the training loss is {train_metrics.get('loss')} in epoch {epoch}",
                    status="diverged",
                    hint="lower the learning rate, or clip gradients (clipnorm)",
                )
            metrics = train_metrics
            if trainer.chief:
                judge = trainer.judge()
                validation = validation_batches(data_dir, cfg, judge)
                with reader.reading(data_dir, cfg["validation_split"]):
                    evaluated = judge.model.evaluate(validation, verbose=0, return_dict=True)
                epoch_time = time.perf_counter() - t0
                if not cost:  # after the first trained epoch of this call (not in epoch_time)
                    cost = model_size(judge.model)
                    batch = predict_batch(data_dir, cfg, judge)
                    cost["predict_ms"] = predict_latency_ms(judge.model, batch)
                metrics = {
                    **train_metrics,
                    **{f"val_{k}": float(v) for k, v in evaluated.items()},
                    "examples_per_sec": rows / train_time,
                    "epoch_time": epoch_time,
                    "learning_rate": current_learning_rate(optimizers["main"]),
                    **cost,
                }
                if "wide" in optimizers:
                    metrics["wide_learning_rate"] = current_learning_rate(optimizers["wide"])
                say_undefined(metrics, said)
            epoch_var.assign(epoch)
            if trainer.chief and summaries is not None:
                history.append({"epoch": epoch, **metrics})
                summaries.write(epoch, metrics)
                value = metrics.get(keep_best.name)
                if (
                    value is not None
                    and math.isfinite(value)
                    and keep_best.better(value, best_value)
                ):
                    best_value, best_epoch = value, epoch
                # metrics.json first: a kill before the checkpoint below re-runs this epoch
                # from the previous checkpoint, and its history entry is dropped on resume
                save_payload()
            if trainer.agree(best_epoch == epoch):
                best.save(checkpoint_number=epoch)
            faults.point("checkpoint")
            last.save(checkpoint_number=epoch)
            report(epoch, metrics)
        if export and trainer.chief:
            payload["model_epoch"] = int(epoch_var)
            restoring = restore_best and best_epoch is not None and best_epoch != int(epoch_var)
            exported = trainer.exportable(restoring)
            if restoring:
                assert best_epoch is not None
                payload["model_epoch"] = restore_epoch(
                    exported.model, trial_dir, best_epoch, epoch_var
                )
            export_model(exported, model_schema, cfg, trial_dir / MODEL)
        trainer.finish()
        status = "complete"
    except StopTrial as stop:
        status = "stopped"
        payload["reason"] = stop.reason
        raise
    except DataError as exc:
        status = "failed"
        payload["error"] = str(exc)
        raise
    finally:
        if summaries is not None:
            summaries.close()
        if status == "failed" and created and not history and trainer.chief:
            shutil.rmtree(trial_dir, ignore_errors=True)  # nothing trained: leave nothing
        elif status != "diverged":
            save_payload()
        trainer.close(trial_dir)
    return payload


def restore_epoch(model: Any, trial_dir: Path, epoch: int, last_epoch: Any) -> int:
    """The model's weights set to the best `epoch`'s checkpoint (its optimizer and
    `checkpoints/last` untouched); the epoch the weights are now from: the last one, with
    a warning, when that checkpoint is missing."""
    found = best_checkpoint(trial_dir, epoch)
    if found is None:
        message = (
            f"{trial_dir}: no checkpoint of the best epoch {epoch} in checkpoints/best; "
            "the model is the last epoch's"
        )
        warnings.warn(message, stacklevel=2)
        print(f"tune: warning: {message}", file=sys.stderr)
        return int(last_epoch)
    tf.train.Checkpoint(model=model).restore(
        found
    ).expect_partial().assert_existing_objects_matched()
    return epoch


def kept_history(
    trial_dir: Path, epoch: int, keep_best: Metric
) -> tuple[list[dict[str, Any]], float | None, int | None]:
    """A resumed trial's history up to its checkpoint's `epoch` (metrics.json may be an
    epoch ahead of it), and the best value and epoch of `keep_best` in it."""
    history = [h for h in _read_metrics(trial_dir).get("history", []) if h["epoch"] <= epoch]
    scored = [h for h in history if isinstance(h.get(keep_best.name), float)]
    if not scored:
        return history, None, None
    top = min(scored, key=lambda h: keep_best.key(h[keep_best.name]))
    return history, top[keep_best.name], top["epoch"]


def summary(
    status: str,
    epoch: int,
    cfg: dict[str, Any],
    history: list[dict[str, Any]],
    best: tuple[Metric, int | None, float | None],
    timings: dict[str, float],
) -> dict[str, Any]:
    """What metrics.json says of a trial (single-process or distributed)."""
    metric, best_epoch, best_value = best
    return {
        "status": status,
        "epoch": epoch,
        "epochs": cfg["epochs"],
        "config": cfg,
        "history": history,
        "best": {"metric": metric.name, "epoch": best_epoch, "value": best_value}
        if best_epoch
        else None,
        "final": history[-1] if history else None,
        "timings": timings,
    }


def _read_metrics(trial_dir: Path) -> dict[str, Any]:
    import json

    path = trial_dir / METRICS
    return json.loads(path.read_text()) if path.exists() else {}
