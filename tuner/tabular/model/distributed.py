"""One trial over several worker processes: synchronous data-parallel training of one
model (`workers: N` in a trial config, `tune train --workers N`, `resources.workers` in
a space file).

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

The launcher starts the workers as fresh processes (`python -m` this module): a
process whose TensorFlow already ran anything cannot join a collective group, which
rules out reusing a sweep's long-lived worker processes for the ranks.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from tuner.errors import ConfigError, DataError, TrialFailed, TunerError
from tuner.space.model import Metric
from tuner.tabular.model import rank_end
from tuner.trial import Report, StopTrial

WORKER_LOGS = "workers"  # <trial_dir>/workers/<rank>.log: each worker's output
_ERRORS: dict[str, type[TunerError]] = {
    "config": ConfigError,
    "data": DataError,
    "failed": TrialFailed,
}


# ---------------------------------------------------------------- the launcher


def run_distributed(
    config: dict[str, Any],
    report: Report,
    trial_dir: str | Path,
    *,
    workers: int,
    resume: bool = True,
    on_resume: Callable[[int], None] | None = None,
    host: str = "127.0.0.1",
    keep_best: Metric | None = None,
    restore_best: bool = False,
) -> dict[str, Any]:
    """Train `config` on `workers` processes (run_trial sends it the configs with
    workers > 1; one worker here is the same loop without peers, which
    bench/distributed.py compares against); returns the summary rank 0 wrote to
    metrics.json. Reports each epoch as `run_trial` does; a `StopTrial` raised by
    `report` (a pruned trial) ends every worker, its checkpoint kept.

    The ranks are processes of this host, unless this is a sweep's trial whose placement
    group Ray spread over several nodes: then each rank starts in its own bundle, on its
    node (tuner/tabular/model/ray_ranks.py), and the trial folder must be on storage
    every node sees (`--trial-storage`)."""
    if workers < 1:
        raise ValueError(f"workers {workers}: expected 1 or more")
    trial_dir = Path(trial_dir).absolute()
    created = not trial_dir.exists()
    logs = trial_dir / WORKER_LOGS
    spec = {"config": config, "trial_dir": str(trial_dir), "resume": resume}
    if keep_best is not None:  # (else train.KEPT_BEST, the last epoch's model)
        spec.update(keep_best=[keep_best.name, keep_best.goal], restore_best=restore_best)
    from tuner.tabular.model import ray_ranks

    placement = ray_ranks.spread_placement(workers)
    logs.mkdir(parents=True, exist_ok=True)
    ranks: Ranks = (
        ray_ranks.RayRanks(spec, workers, placement, logs)
        if placement is not None
        else LocalRanks(spec, workers, host, logs)
    )
    try:
        return _follow(ranks, logs, report, on_resume)
    except (ConfigError, DataError):
        ranks.end()
        if created:  # bad input, found before anything trained: leave nothing behind
            shutil.rmtree(trial_dir, ignore_errors=True)
        raise
    except TrialFailed as exc:
        ranks.end()  # (first: rank 0 writes metrics.json while it runs)
        _record_failure(trial_dir, exc)
        raise
    finally:
        ranks.end()


def _record_failure(trial_dir: Path, failed: TrialFailed) -> None:
    """metrics.json says how the trial ended: rank 0 writes it at every epoch with status
    "running" and, when a peer dies, is itself stopped in a collective (or ended by the
    launcher) before it can say more. A status rank 0 did write (diverged) is kept."""
    from tuner.trial import METRICS, write_metrics

    path = trial_dir / METRICS
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return  # no epoch written: nothing that says "running"
    if not isinstance(payload, dict) or payload.get("status") != "running":
        return
    payload.update(status=failed.status, error=failed.message)
    write_metrics(path, payload)


class Ranks(Protocol):
    """A distributed trial's running workers, wherever they run."""

    def next_line(self, timeout: float) -> str | None:
        """Rank 0's next message; None when its channel closed; raises queue.Empty when
        nothing came within `timeout` seconds."""

    def reply(self, word: str) -> None:
        """Answer rank 0's last epoch: "go" on, or "stop" (pruned)."""

    def settle(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for rank 0 to end by itself."""

    def failed(self) -> bool:
        """Whether a worker has ended with an error (the others then wait forever)."""

    def finish(self) -> None:
        """Wait for the workers to end by themselves (after rank 0 said done)."""

    def end(self, grace: float = 5.0) -> None:
        """End every worker still running. Idempotent."""

    def exit_codes(self) -> list[int | None]:
        """Each rank's exit code (None: still running, or unknown)."""


class LocalRanks:
    """The ranks as child processes of this one (`python -m` this module), rank 0's
    messages through a pipe."""

    def __init__(self, spec: dict[str, Any], workers: int, host: str, logs: Path) -> None:
        import queue
        import threading

        cluster = [f"{host}:{p}" for p in _free_ports(host, workers)]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.lines: queue.Queue[str | None] = queue.Queue()
        read_fd, write_fd = os.pipe()
        answers_fd, self.answers = os.pipe()
        try:
            for rank in range(workers):
                fds = (write_fd, answers_fd) if rank == 0 else (-1, -1)
                self.procs.append(start_rank({**spec, "cluster": cluster}, rank, logs, *fds))
        finally:
            os.close(write_fd)
            os.close(answers_fd)
        messages = os.fdopen(read_fd, "r", encoding="utf-8")

        def read() -> None:
            with messages:
                for line in messages:
                    self.lines.put(line)
            self.lines.put(None)  # rank 0 closed its end

        threading.Thread(target=read, name="tuner-distributed-reader", daemon=True).start()

    def next_line(self, timeout: float) -> str | None:
        return self.lines.get(timeout=timeout)

    def reply(self, word: str) -> None:
        with contextlib.suppress(OSError):  # (rank 0 gone: its exit says why)
            os.write(self.answers, f"{word}\n".encode())

    def settle(self, timeout: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.procs[0].wait(timeout=timeout)

    def failed(self) -> bool:
        return any(p.poll() not in (None, 0) for p in self.procs)

    def finish(self) -> None:
        for proc in self.procs:  # the others end after rank 0's last collective
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=60)

    def end(self, grace: float = 5.0) -> None:
        end_processes(self.procs, grace)
        if self.answers >= 0:
            os.close(self.answers)
            self.answers = -1

    def exit_codes(self) -> list[int | None]:
        return [p.poll() for p in self.procs]


def start_rank(
    spec: dict[str, Any], rank: int, logs: Path, channel: int = -1, answers: int = -1
) -> subprocess.Popen[bytes]:
    """One worker process (`python -m` this module), its output in logs/<rank>.log and,
    for rank 0, its messages written to the file descriptor `channel` and the answers
    to its epochs read from `answers`."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    with (logs / f"{rank}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", __name__, f.name, str(rank), str(channel), str(answers)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=tuple(fd for fd in (channel, answers) if fd >= 0),
            env=env,
            start_new_session=True,  # a Ctrl-C reaches the launcher, which ends them
        )


def _follow(
    ranks: Ranks,
    logs: Path,
    report: Report,
    on_resume: Callable[[int], None] | None,
) -> dict[str, Any]:
    """Relay rank 0's messages until it says done or failed, or a worker dies (a worker
    that dies leaves the others waiting in a collective: its exit is what is watched)."""
    import queue

    while True:
        try:
            line = ranks.next_line(timeout=0.5)
        except queue.Empty:
            if ranks.failed():
                break
            continue
        if line is None:  # rank 0 closed its channel: it is ending; its exit code says how
            ranks.settle(5.0)
            break
        message = json.loads(line)
        if "epoch" in message:
            try:
                report(int(message["epoch"]), message["metrics"])
            except StopTrial:
                ranks.reply("stop")
                ranks.settle(5.0)  # rank 0 records the stop in metrics.json, then exits
                raise
            ranks.reply("go")
        elif "resumed" in message and on_resume is not None:
            on_resume(int(message["resumed"]))
        elif "done" in message:
            ranks.finish()
            return dict(message["done"])
        elif "error" in message:
            error = message["error"]
            kind = _ERRORS.get(error["kind"], TrialFailed)
            if kind is TrialFailed:
                raise TrialFailed(
                    error["message"], status=error.get("status", "failed"), hint=error.get("hint")
                )
            raise kind(error["message"], where=error.get("where"), hint=error.get("hint"))
    # a worker died (killed, out of memory, a bug: its log says) or rank 0 ended silently:
    # name the one that died by itself, not one the end below stops, and one killed by
    # a signal before one whose collective failed because of it
    before = ranks.exit_codes()
    ranks.end(grace=2.0)
    dead = [(r, c) for r, c in enumerate(before) if c not in (0, None)]
    dead.sort(key=lambda found: found[1] >= 0)
    rank, code = dead[0] if dead else (0, ranks.exit_codes()[0])
    log = logs / f"{rank}.log"
    raise TrialFailed(
        f"distributed worker {rank} of {len(before)} {rank_end.describe(code, log)}",
        hint=f"its output: {log}",
    )


def end_processes(procs: list[subprocess.Popen[bytes]], grace: float = 5.0) -> None:
    """Every process still running: SIGTERM, then SIGKILL after `grace` seconds."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _free_ports(host: str, n: int) -> list[int]:
    """N ports the OS says are free now (the workers bind them a moment later)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]


# ---------------------------------------------------------------- a worker


def _worker_main(argv: list[str]) -> int:
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
    _end_with_parent()

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

    try:
        kept = spec.get("keep_best")
        train_worker(
            spec["config"],
            Path(spec["trial_dir"]),
            rank,
            len(cluster),
            spec["resume"],
            send,
            keep_best=Metric(*kept) if kept else None,
            restore_best=bool(spec.get("restore_best")),
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
    return 0


def _end_with_parent() -> None:
    """Exit when the launcher is gone (SIGKILLed with its sweep's driver, say): a worker
    left behind would hold its CPUs and keep writing the trial folder that a resume
    trains again. (The launcher ends its workers itself in every other case.)"""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="tuner-parent-watch", daemon=True).start()


def train_worker(
    config: dict[str, Any],
    trial_dir: Path,
    rank: int,
    workers: int,
    resume: bool,
    send: Callable[[dict[str, Any]], str | None],
    *,
    keep_best: Metric | None = None,
    restore_best: bool = False,
) -> None:
    """Rank `rank`'s part of the trial (see the module text); `keep_best` and
    `restore_best` as `train.run_trial` takes them."""
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # first: before any other op

    from tuner.tabular.data import reader
    from tuner.tabular.model import train as single
    from tuner.tabular.model.build import build_model, label_scale
    from tuner.tabular.model.config import dataset_schema, prepare
    from tuner.tabular.model.layers import keras
    from tuner.tabular.model.optimizers import combined, current_learning_rate, optimizers_for
    from tuner.trial import CHECKPOINTS, CONFIG, METRICS, MODEL, write_metrics

    chief = rank == 0
    keep_best = keep_best or single.KEPT_BEST
    cfg = prepare({**config, "workers": workers})
    data_dir, data_schema = dataset_schema(cfg["dataset"])
    last_dir = trial_dir / CHECKPOINTS / "last"
    resuming = resume and tf.train.latest_checkpoint(str(last_dir)) is not None
    if resuming and (trial_dir / single.SCHEMA_COPY).exists():
        model_schema = single.load_schema_file(trial_dir / single.SCHEMA_COPY)
        single._check_same_config(trial_dir, cfg)
    else:
        model_schema = data_schema
    single._check_records(data_dir, data_schema, cfg)
    if model_schema is data_schema:
        model_schema = single._with_label_stats(data_schema, data_dir, cfg["train_split"])
    model_schema = single.with_quantiles(model_schema, data_dir, cfg)

    keras.utils.set_random_seed(cfg["seed"])
    rows = data_schema.splits[cfg["train_split"]].rows
    steps = max(1, -(-rows // cfg["batch_size"]))
    with strategy.scope():
        built = build_model(model_schema, cfg)
        model = built.model
        optimizers = optimizers_for(cfg, steps)
        optimizer = combined(optimizers)
        optimizer.build(model.trainable_variables)
    epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False)  # (each worker's own)
    loss_fn, train_metrics = single._loss_and_metrics(built.task, cfg, label_scale(model_schema)[1])
    loss_fn.reduction = "sum"  # divided by the global batch's rows below
    loss_sum = keras.metrics.Sum(name="loss")  # Σ rows × loss: / the epoch's rows
    per_call = cfg.get("steps_per_execution", min(single.DEFAULT_STEPS_PER_EXECUTION, steps))
    plain = build_model(model_schema, cfg) if chief else None  # validation and export
    if plain is not None:
        val_loss, val_metrics = single._loss_and_metrics(
            built.task, cfg, label_scale(model_schema)[1]
        )
        plain.model.compile(loss=val_loss, metrics=val_metrics, jit_compile=False)

    checkpoint = tf.train.Checkpoint(model=model, epoch=epoch_var, **optimizers)
    own = last_dir if chief else trial_dir / f".worker-{rank}" / "last"
    best_dir = trial_dir / CHECKPOINTS / "best" if chief else trial_dir / f".worker-{rank}" / "best"
    last = tf.train.CheckpointManager(checkpoint, str(own), max_to_keep=1)
    best = tf.train.CheckpointManager(checkpoint, str(best_dir), max_to_keep=1)
    history: list[dict[str, Any]] = []
    best_value: float | None = None
    best_epoch: int | None = None
    if resuming:
        checkpoint.restore(
            tf.train.latest_checkpoint(str(last_dir))
        ).assert_existing_objects_matched()
        history, best_value, best_epoch = single.kept_history(trial_dir, int(epoch_var), keep_best)
    summaries = None
    if chief:
        trial_dir.mkdir(parents=True, exist_ok=True)
        from tuner.space.yaml_file import dump_yaml
        from tuner.tabular.data.schema import save_schema

        dump_yaml(cfg, trial_dir / CONFIG)
        save_schema(model_schema, trial_dir)
        summaries = single._Summaries(trial_dir / single.TENSORBOARD)
        if resuming:
            send({"resumed": int(epoch_var)})
        for entry in history:
            metrics = {k: v for k, v in entry.items() if k != "epoch"}
            if send({"epoch": entry["epoch"], "metrics": metrics}) == "stop":
                raise StopTrial("stopped by the launcher")

    def shard(features: Any, labels: Any) -> tuple[Any, Any, Any]:
        """This worker's rows of a global batch, and what its summed loss is divided by.
        A batch with fewer rows than workers (an epoch's last) would leave some worker
        none (batch normalization's statistics of no rows are NaN): then every worker
        takes all of it and divides by workers × rows, which sums to the same gradient
        (the epoch's training loss and metrics then count that batch once a worker)."""
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

    def train_step(features: Any, labels: Any, size: Any) -> None:
        def replica(features: Any, labels: Any, size: Any) -> tuple[Any, Any]:
            with tf.GradientTape() as tape:
                predictions = model(features, training=True)
                loss = loss_fn(*_per_example(labels, predictions)) / size
                if model.losses:
                    loss += tf.add_n(model.losses) / workers
            grads = tape.gradient(loss, model.trainable_variables)
            # an embedding's sparse gradient would be all-gathered (its shape differs
            # between workers), which inside the multi-step loop the workers may reach
            # in different orders: dense, every gradient is one all-reduce of one shape
            grads = [
                tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads
            ]
            optimizer.apply(grads, model.trainable_variables)  # all-reduces the gradients
            return loss, predictions

        loss, predictions = strategy.run(replica, args=(features, labels, size))
        local = strategy.experimental_local_results(predictions)[0]
        for metric in train_metrics:
            metric.update_state(labels, local)
        # this worker's part of the step's loss, by rows: summed across workers at the
        # end of the epoch with the metrics (no second collective every step)
        loss_sum.update_state(strategy.experimental_local_results(loss)[0] * size)

    @tf.function
    def train_steps(iterator: Any, k: Any) -> None:
        """k steps in one call (as Keras's steps_per_execution): no Python per step."""
        for _ in tf.range(k):
            features, labels, size = next(iterator)
            train_step(features, labels, size)

    @tf.function
    def summed(flat: Any) -> Any:
        return strategy.reduce("SUM", strategy.run(tf.identity, args=(flat,)), axis=None)

    def epoch_train_metrics() -> dict[str, float]:
        """Each worker's metric accumulators summed across the workers, then read."""
        variables = [v for m in [loss_sum, *train_metrics] for v in m.variables]
        if variables:
            flat = tf.concat([tf.reshape(tf.cast(v, tf.float32), [-1]) for v in variables], 0)
            total = summed(flat)
            offset = 0
            for v in variables:
                n = int(tf.size(v))
                v.assign(tf.cast(tf.reshape(total[offset : offset + n], v.shape), v.dtype))
                offset += n
        found = {"loss": float(loss_sum.result()) / rows}
        found.update({m.name: float(m.result()) for m in train_metrics})
        for m in [loss_sum, *train_metrics]:
            m.reset_state()
        return found

    sizes: dict[str, float] = {}
    said: set[str] = set()  # metrics said to be undefined (train.say_undefined)
    status = "running"
    payload: dict[str, Any] = {}

    def save_payload() -> None:
        best = (keep_best, best_epoch, best_value)
        payload.update(single.summary(status, int(epoch_var), cfg, history, best, {}))
        payload["workers"] = workers
        payload["model_checkpoint"] = "best" if restore_best else "last"
        write_metrics(trial_dir / METRICS, payload)

    try:
        for epoch in range(int(epoch_var) + 1, cfg["epochs"] + 1):
            single._seed_dropout(model, cfg["seed"], epoch)
            train = single.epoch_batches(data_dir, cfg, epoch, built).map(shard)
            t0 = time.perf_counter()
            with reader.reading(data_dir, cfg["train_split"]):
                iterator, left = iter(train), steps
                while left > 0:
                    k = min(per_call, left)
                    train_steps(iterator, tf.constant(k))
                    left -= k
            metrics = epoch_train_metrics()
            train_time = time.perf_counter() - t0
            if not all(map(math.isfinite, metrics.values())):
                status = "diverged"
                history.append({"epoch": epoch, **metrics})
                if chief:
                    save_payload()
                raise TrialFailed(
                    f"diverged: the training loss is {metrics.get('loss')} in epoch {epoch}",
                    status="diverged",
                    hint="lower the learning rate, or clip gradients (clipnorm)",
                )
            epoch_var.assign(epoch)
            if plain is not None and summaries is not None:
                plain.model.set_weights(model.get_weights())
                validation = single.validation_batches(data_dir, cfg, plain)
                with reader.reading(data_dir, cfg["validation_split"]):
                    evaluated = plain.model.evaluate(validation, verbose=0, return_dict=True)
                if not sizes:
                    sizes = single.model_size(plain.model)
                    batch = single._predict_batch(data_dir, cfg, plain)
                    sizes["predict_ms"] = single.predict_latency_ms(plain.model, batch)
                metrics.update({f"val_{k}": float(v) for k, v in evaluated.items()})
                metrics.update(
                    examples_per_sec=rows / train_time,
                    epoch_time=time.perf_counter() - t0,
                    learning_rate=current_learning_rate(optimizers["main"]),
                    **sizes,
                )
                if "wide" in optimizers:
                    metrics["wide_learning_rate"] = current_learning_rate(optimizers["wide"])
                single.say_undefined(metrics, said)
                history.append({"epoch": epoch, **metrics})
                summaries.write(epoch, metrics)
                value = metrics.get(keep_best.name)
                if (
                    value is not None
                    and math.isfinite(value)
                    and keep_best.better(value, best_value)
                ):
                    best_value, best_epoch = value, epoch
                save_payload()
            # every worker saves (the collective save needs them all): the best when
            # the chief's validation says so, which the others learn through a sum
            better = summed(tf.constant([1.0 if best_epoch == epoch and chief else 0.0]))
            if float(better[0]) > 0:
                best.save(checkpoint_number=epoch)
            last.save(checkpoint_number=epoch)
            if chief and send({"epoch": epoch, "metrics": metrics}) == "stop":
                status = "stopped"  # pruned: the others are ended by the launcher
                payload["reason"] = f"stopped after epoch {epoch}"
                raise StopTrial(payload["reason"])
        if plain is not None:
            from tuner.tabular.model.export import export_model

            plain.model.set_weights(model.get_weights())
            payload["model_epoch"] = int(epoch_var)
            if restore_best and best_epoch is not None and best_epoch != int(epoch_var):
                # (a model of its own: `plain` is compiled, and its optimizer is in no
                # checkpoint of the trial's)
                plain = build_model(model_schema, cfg)
                plain.model.set_weights(model.get_weights())
                payload["model_epoch"] = single.restore_epoch(
                    plain.model, trial_dir, best_epoch, epoch_var
                )
            export_model(plain, model_schema, cfg, trial_dir / MODEL)
        summed(tf.constant([0.0]))  # the others wait for the chief's export
        status = "complete"
    finally:
        if summaries is not None:
            summaries.close()
        if chief and status not in ("diverged", "running"):
            save_payload()
        if not chief:
            shutil.rmtree(trial_dir / f".worker-{rank}", ignore_errors=True)
    if chief:
        send({"done": payload})


def _per_example(labels: Any, predictions: Any) -> tuple[Any, Any]:
    """A binary or regression model's outputs are one number a row, shape [rows]: Keras's
    losses average over the last axis, which would then be the batch (the "sum" below
    would be a mean). As [rows, 1] the loss is one value a row, then summed."""
    if len(predictions.shape) == 1:
        return labels[:, None], predictions[:, None]
    return labels, predictions


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
