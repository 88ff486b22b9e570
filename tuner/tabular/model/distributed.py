"""A rank of a trial over several worker processes: synchronous data-parallel training
of one model (`workers: N` in a trial config, `tune train --workers N`,
`resources.workers` in a space file). Each rank runs the trial's one loop
(train.run_trial) with the collective step below; launch.py starts the ranks and
follows rank 0.

Why this route. Keras 3's `fit` does not run under TensorFlow's
MultiWorkerMirroredStrategy (keras-team/keras#20585), Ray Train's TensorFlow backend
switches its workers to Keras 2 (TF_USE_LEGACY_KERAS), and Keras 3's own data
parallelism (`keras.distribution`) is JAX's. What works, measured before building this:
the same Keras 3 model, built by the same `build_model` inside a
MultiWorkerMirroredStrategy scope, trained by a custom step under `strategy.run` —
forward, loss, gradients, `optimizer.apply`, which all-reduces (sums) the gradients
across the workers through TensorFlow's collective ops over gRPC before applying them.
One model code base; no second copy of the models on Keras 2.

Every step, each worker takes its contiguous share of the global batch a single-process
trial takes at that step (the reader gives every worker the same epoch order), and its
summed loss is divided by the global batch's rows: the summed gradients are the
single-process batch's gradient, so N workers follow the one-worker trajectory up to
float summation order (and batch normalization's batch statistics, which are each
worker's own). Training metrics (accuracy, AUC, …) are each worker's, their
accumulators summed across workers at the end of the epoch.

Rank 0 (the chief) does what one process does alone: it evaluates the validation split
on a plain copy of the model (weights copied each epoch; no strategy), writes
metrics.json, TensorBoard and the export, and sends each epoch's metrics to the
launcher, which reports them (so a sweep's pruner sees them as from any trial) and
answers "go" or "stop": rank 0 waits for the answer, so a pruned trial stops after the
epoch its pruner saw, as one process does. Every
worker saves the checkpoint (a collective save needs them all): the chief into the
trial folder, the others into scratch folders; a resumed trial restores every worker
from the chief's checkpoint (one host, or a trial folder on shared storage). The
checkpoint and the exported SavedModel are those of a single-process trial.

The launcher starts the workers as fresh processes (`python -m` this module,
processes.start_rank): a process whose TensorFlow already ran anything cannot join a
collective group, which rules out reusing a sweep's long-lived worker processes for the
ranks. (Importing this module imports TensorFlow and Keras but runs no TensorFlow op:
the strategy, created first in `main`, can still set up the collective group.)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from tuner.errors import ConfigError, DataError, TrialFailed
from tuner.space.model import Metric
from tuner.tabular.data.schema import Schema
from tuner.tabular.model.build import Built, build_model, label_scale
from tuner.tabular.model.layers import keras, tf
from tuner.tabular.model.optimizers import combined, optimizers_for
from tuner.tabular.model.processes import end_with_parent
from tuner.tabular.model.train import KEPT_BEST, loss_and_metrics, run_trial, steps_per_execution
from tuner.trial import StopTrial


class CollectiveStep:
    """train.Step for rank `rank` of `workers`: the model built in the strategy's scope,
    trained by a custom step under `strategy.run` (see the module text); rank 0 (the
    chief) validates on a plain copy of the model (no strategy), its weights copied
    each epoch."""

    first_step_at: float | None = None  # (not measured across ranks)

    def __init__(self, strategy: Any, rank: int, workers: int) -> None:
        self.strategy, self.rank, self.workers = strategy, rank, workers
        self.chief = rank == 0

        @tf.function
        def summed(flat: Any) -> Any:
            return strategy.reduce("SUM", strategy.run(tf.identity, args=(flat,)), axis=None)

        self.summed = summed

    def build(self, schema: Schema, cfg: dict[str, Any], steps: int) -> tuple[Built, Any]:
        keras.utils.set_random_seed(cfg["seed"])
        with self.strategy.scope():
            built = build_model(schema, cfg)
            optimizers = optimizers_for(cfg, steps)
            self.optimizer = combined(optimizers)
            self.optimizer.build(built.model.trainable_variables)
        self.model, self.schema, self.cfg, self.steps = built.model, schema, cfg, steps
        self.rows = schema.splits[cfg["train_split"]].rows
        self.loss_fn, self.train_metrics = loss_and_metrics(built.task, cfg, label_scale(schema)[1])
        self.loss_fn.reduction = "sum"  # divided by the global batch's rows (shard)
        self.loss_sum = keras.metrics.Sum(name="loss")  # Σ rows × loss: / the epoch's rows
        self.per_call = steps_per_execution(cfg, steps)
        self.plain: Built | None = None
        if self.chief:  # validation and export
            self.plain = build_model(schema, cfg)
            val_loss, val_metrics = loss_and_metrics(built.task, cfg, label_scale(schema)[1])
            self.plain.model.compile(loss=val_loss, metrics=val_metrics, jit_compile=False)
        self.train_steps = tf.function(self._train_steps)
        return built, optimizers

    def batches(self, ds: Any) -> Any:
        return ds.map(self._shard)

    def _shard(self, features: Any, labels: Any) -> tuple[Any, Any, Any]:
        """This worker's rows of a global batch, and what its summed loss is divided by.
        A batch with fewer rows than workers (an epoch's last) would leave some worker
        none (batch normalization's statistics of no rows are NaN): then every worker
        takes all of it and divides by workers × rows, which sums to the same gradient
        (the epoch's training loss and metrics then count that batch once a worker)."""
        workers, rank = self.workers, self.rank
        size = tf.shape(labels, out_type=tf.int64)[0]
        small = size < workers
        lo = tf.where(small, tf.constant(0, tf.int64), size * rank // workers)
        hi = tf.where(small, size, size * (rank + 1) // workers)
        divide = tf.cast(size, tf.float32) * tf.where(small, float(workers), 1.0)

        def cut(t: Any) -> Any:
            if isinstance(t, tf.SparseTensor):
                return tf.sparse.slice(t, [lo, 0], [hi - lo, t.dense_shape[1]])
            return t[lo:hi]

        return tf.nest.map_structure(cut, features), labels[lo:hi], divide

    def _train_step(self, features: Any, labels: Any, size: Any) -> None:
        model, workers = self.model, self.workers

        def replica(features: Any, labels: Any, size: Any) -> tuple[Any, Any]:
            with tf.GradientTape() as tape:
                predictions = model(features, training=True)
                loss = self.loss_fn(*_per_example(labels, predictions)) / size
                if model.losses:
                    loss += tf.add_n(model.losses) / workers
            grads = tape.gradient(loss, model.trainable_variables)
            # an embedding's sparse gradient would be all-gathered (its shape differs
            # between workers), which inside the multi-step loop the workers may reach
            # in different orders: dense, every gradient is one all-reduce of one shape
            grads = [
                tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads
            ]
            self.optimizer.apply(grads, model.trainable_variables)  # all-reduces the gradients
            return loss, predictions

        loss, predictions = self.strategy.run(replica, args=(features, labels, size))
        local = self.strategy.experimental_local_results(predictions)[0]
        for metric in self.train_metrics:
            metric.update_state(labels, local)
        # this worker's part of the step's loss, by rows: summed across workers at the
        # end of the epoch with the metrics (no second collective every step)
        self.loss_sum.update_state(self.strategy.experimental_local_results(loss)[0] * size)

    def _train_steps(self, iterator: Any, k: Any) -> None:
        """k steps in one call (as Keras's steps_per_execution): no Python per step."""
        for _ in tf.range(k):
            features, labels, size = next(iterator)
            self._train_step(features, labels, size)

    def train_epoch(self, batches: Any, first: bool) -> dict[str, float]:
        iterator, left = iter(batches), self.steps
        while left > 0:
            k = min(self.per_call, left)
            self.train_steps(iterator, tf.constant(k))
            left -= k
        return self._epoch_train_metrics()

    def _epoch_train_metrics(self) -> dict[str, float]:
        """Each worker's metric accumulators summed across the workers, then read."""
        variables = [v for m in [self.loss_sum, *self.train_metrics] for v in m.variables]
        if variables:
            flat = tf.concat([tf.reshape(tf.cast(v, tf.float32), [-1]) for v in variables], 0)
            total = self.summed(flat)
            offset = 0
            for v in variables:
                n = int(tf.size(v))
                v.assign(tf.cast(tf.reshape(total[offset : offset + n], v.shape), v.dtype))
                offset += n
        found = {"loss": float(self.loss_sum.result()) / self.rows}
        found.update({m.name: float(m.result()) for m in self.train_metrics})
        for m in [self.loss_sum, *self.train_metrics]:
            m.reset_state()
        return found

    def judge(self) -> Built:
        assert self.plain is not None
        self.plain.model.set_weights(self.model.get_weights())
        return self.plain

    def agree(self, chief_says: bool) -> bool:
        # every worker saves the best checkpoint when the chief's validation says so,
        # which the others learn through a sum
        said = self.summed(tf.constant([1.0 if chief_says and self.chief else 0.0]))
        return float(said[0]) > 0

    def exportable(self, restoring: bool) -> Built:
        if not restoring:
            return self.judge()
        # (a model of its own: `plain` is compiled, and its optimizer is in no checkpoint
        # of the trial's)
        fresh = build_model(self.schema, self.cfg)
        fresh.model.set_weights(self.model.get_weights())
        return fresh

    def finish(self) -> None:
        self.summed(tf.constant([0.0]))  # the others wait for the chief's export

    def own_dir(self, trial_dir: Path) -> Path:
        return trial_dir if self.chief else trial_dir / f".worker-{self.rank}"

    def close(self, trial_dir: Path) -> None:
        if not self.chief:
            shutil.rmtree(self.own_dir(trial_dir), ignore_errors=True)


def _per_example(labels: Any, predictions: Any) -> tuple[Any, Any]:
    """A binary or regression model's outputs are one number a row, shape [rows]: Keras's
    losses average over the last axis, which would then be the batch (the "sum" below
    would be a mean). As [rows, 1] the loss is one value a row, then summed."""
    if len(predictions.shape) == 1:
        return labels[:, None], predictions[:, None]
    return labels, predictions


def main(argv: list[str]) -> int:
    """A rank process (processes.start_rank): SPEC RANK CHANNEL_FD ANSWERS_FD. Rank 0's
    reports go to the launcher through CHANNEL_FD, each answered "go" or "stop"."""
    spec_path, rank, channel_fd, replies_fd = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    spec = json.loads(Path(spec_path).read_text())
    with contextlib.suppress(OSError):
        os.unlink(spec_path)  # (written by start_rank for this process alone)
    cluster = spec["cluster"]
    os.environ["TF_CONFIG"] = json.dumps(
        {"cluster": {"worker": cluster}, "task": {"type": "worker", "index": rank}}
    )
    channel = os.fdopen(channel_fd, "w", encoding="utf-8") if channel_fd >= 0 else None
    replies = os.fdopen(replies_fd, "r", encoding="utf-8") if replies_fd >= 0 else None
    end_with_parent()

    def send(message: dict[str, Any]) -> str | None:
        """Tell the launcher; an epoch waits for its answer ("go" or "stop": pruned), as
        `report` returns or raises in one process."""
        if channel is None:
            return None
        channel.write(json.dumps(message, default=float) + "\n")
        channel.flush()
        if "epoch" in message and replies is not None:
            return replies.readline().strip() or "stop"  # (nothing: the launcher is gone)
        return None

    def report(epoch: int, metrics: dict[str, float]) -> None:
        if send({"epoch": epoch, "metrics": metrics}) == "stop":
            raise StopTrial(f"stopped after epoch {epoch}")  # the launcher ends the others

    def resumed(epoch: int) -> None:
        send({"resumed": epoch})

    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # first: before any other op
    try:
        kept = spec.get("keep_best")
        payload = run_trial(
            {**spec["config"], "workers": len(cluster)},
            report,
            Path(spec["trial_dir"]),
            resume=spec["resume"],
            keep_best=Metric(*kept) if kept else KEPT_BEST,
            on_resume=resumed,
            restore_best=bool(spec.get("restore_best")),
            step=CollectiveStep(strategy, rank, len(cluster)),
        )
    except TrialFailed as exc:
        send(
            {
                "error": {
                    "kind": "failed",
                    "message": exc.message,
                    "hint": exc.hint,
                    "status": exc.status,
                }
            }
        )
        return 1
    except StopTrial:
        return 0  # pruned: the launcher, which said so, ends the others
    except (ConfigError, DataError) as exc:
        kind = "data" if isinstance(exc, DataError) else "config"
        send(
            {"error": {"kind": kind, "message": exc.message, "where": exc.where, "hint": exc.hint}}
        )
        return 2
    send({"done": payload})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
