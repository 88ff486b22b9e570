"""Where a trial trains: in this process (train.run_trial), or, with `workers: N` in its
config (`tune train --workers N`, `resources.workers` in a space file), on N worker
processes that train one model data-parallel (distributed.py is a rank's side).

The launcher starts the ranks as fresh processes (processes.py) on this host, or one in
each bundle of the trial's placement group when Ray spread them over several nodes
(ray_ranks.py), and follows rank 0: it reports each epoch rank 0 sends (so a sweep's
pruner sees them as from any trial) and answers "go" or "stop"; a worker that dies fails
the trial with one line saying how (rank_end.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from tuner.errors import ConfigError, DataError, TrialFailed, TunerError
from tuner.space.model import Metric
from tuner.tabular.model import rank_end, ray_ranks
from tuner.tabular.model.config import prepare
from tuner.tabular.model.processes import end_processes, free_ports, start_rank
from tuner.tabular.model.train import KEPT_BEST, run_trial
from tuner.trial import METRICS, Report, StopTrial, write_metrics

WORKER_LOGS = "workers"  # <trial_dir>/workers/<rank>.log: each worker's output
_ERRORS: dict[str, type[TunerError]] = {
    "config": ConfigError,
    "data": DataError,
    "failed": TrialFailed,
}


def train_trial(
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
) -> dict[str, Any]:
    """One trial of the tabular objective (its `train`, `tune train`): `run_trial` here,
    or `run_distributed` when its config asks for more than one worker. The arguments
    are `run_trial`'s; a distributed trial always exports and cannot start from another
    model (`init_from`)."""
    workers = prepare(config).get("workers", 1)
    if workers <= 1:
        return run_trial(
            config,
            report,
            trial_dir,
            resume=resume,
            init_from=init_from,
            keep_best=keep_best,
            export=export,
            on_resume=on_resume,
            restore_best=restore_best,
        )
    if init_from is not None:
        raise ConfigError("--init-from trains one process", hint="drop workers (or --workers)")
    return run_distributed(
        config,
        report,
        trial_dir,
        workers=workers,
        resume=resume,
        on_resume=on_resume,
        keep_best=keep_best,
        restore_best=restore_best,
    )


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
    """Train `config` on `workers` processes (train_trial sends it the configs with
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
    """The ranks as child processes of this one (processes.start_rank), rank 0's
    messages through a pipe."""

    def __init__(self, spec: dict[str, Any], workers: int, host: str, logs: Path) -> None:
        cluster = [f"{host}:{p}" for p in free_ports(host, workers)]
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


def _follow(
    ranks: Ranks,
    logs: Path,
    report: Report,
    on_resume: Callable[[int], None] | None,
) -> dict[str, Any]:
    """Relay rank 0's messages until it says done or failed, or a worker dies (a worker
    that dies leaves the others waiting in a collective: its exit is what is watched)."""
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
