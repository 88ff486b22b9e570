"""A sweep's MLflow records written by a child process, off the driver's path.

Each trial costs MLflow three calls (create the run, one batch, terminate), several SQL
transactions each: ~14 ms of the driver's ~47 ms per trial (bench/overhead.py), all of it
on the path that starts the next trial. A thread does not help (the calls hold the GIL
the driver needs: measured, no gain); a process does. `RemoteTracker` has `Tracker`'s
methods: the per-trial ones (`start_trial`, `log_epoch`, `set_tags`, `end_trial`,
`log_best`) only send a message and return; the sweep's own (`start_sweep`, `end_sweep`,
`flush`) wait for the writer's answer. `start_trial` gives back a handle at once; the
run's MLflow id comes back later (`run_id`, which the driver asks for when it records
the trial's end in the study).

Nothing sent is lost: what the driver sent sits in the socket until the writer reads it,
and the writer stops only when told to, after writing everything, or when the driver's
end of the socket closes — a driver killed with SIGKILL included — after writing what
was sent. It ignores the signals that stop a sweep (Ctrl-C, SIGTERM, SIGHUP reach the
whole process group): the driver decides when the sweep ends, and flushes. A writer
still draining after its driver was killed holds a lock file in the sweep's folder that
the next writer for the sweep waits for before its first write, so a resume never reads
the runs before they are all written.

The writer's errors come back as the driver's: a store that cannot be opened as the
`ConfigError` the in-process tracker raises, a full disk as an `OSError` ENOSPC (the
sweep stops resumable, as for the journal), anything else as `TrackingFailed`.

A writer that dies under a running sweep (killed, out of memory) is started again, and
what it had not confirmed written is sent to the new one: MLflow is a cache of the
study's truth, and every message replays without doubling anything (the parent and
trial runs are found again, epochs already logged are skipped). The driver keeps what
a replay needs: the sweep's start, its best values, and each trial's messages until the
writer confirms the trial's end written. After RESTARTS deaths the sweep stops, as for
any other tracking failure.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from tuner import faults
from tuner.errors import ConfigError, ServiceError
from tuner.redact import mask_text
from tuner.tracking import note
from tuner.tracking.uri import runs_url

HANDLE = "pending-run:"  # + the trial number: a child run the writer creates
LOCK_WAIT_S = 120.0  # how long a writer waits for the one before it to finish draining
RESTARTS = 3  # writers started again after one died, in one sweep, before it stops


class TrackingFailed(ServiceError):
    """The MLflow writer failed (its reason, one line)."""


Message = tuple[str, tuple[Any, ...], dict[str, Any], int | None]  # (op, args, kwargs, asked)


class RemoteTracker:
    """`Tracker`'s interface, written by a child process (see the module doc). Call it
    from one thread, as the Tracker."""

    def __init__(
        self,
        tracking_uri: str,
        artifact_root: Path | None,
        lock_file: Path,
        flush_seconds: float = 1.0,
    ):
        self.tracking_uri = tracking_uri
        self.experiment_id: str | None = None
        self._order: tuple[str | None, str] = (None, "maximize")  # the runs page's sort
        self._runs: dict[str, str] = {}  # handle → MLflow run id, as the writer reports
        self._answers: dict[int, Any] = {}
        self._error: dict[str, Any] | None = None
        self._asked = 0
        self._argv = [
            sys.executable,
            "-m",
            "tuner.tracking.writer",
            "",  # the socket's descriptor, per writer
            tracking_uri,
            str(artifact_root or ""),
            str(lock_file),
            str(flush_seconds),
        ]
        # what a new writer needs replayed if this one dies (see the module doc)
        self._sweep: Message | None = None
        self._bests: list[Message] = []
        self._trials: dict[str, list[Message]] = {}  # handle → its messages until ended
        self._waiting: Message | None = None  # the call waiting for its answer
        self.restarts = 0
        self._process, self._conn = self._spawn()

    def _spawn(self) -> tuple[subprocess.Popen, Connection]:
        mine, theirs = socket.socketpair()
        package = Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package), *sys.path])}
        argv = list(self._argv)
        argv[3] = str(theirs.fileno())
        process = subprocess.Popen(
            argv,
            pass_fds=(theirs.fileno(),),
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=False,  # in the sweep's process group: a terminal's job
        )
        theirs.close()
        return process, Connection(mine.detach())

    @property
    def pid(self) -> int:
        return self._process.pid

    # --- the Tracker's interface --------------------------------------------------------
    def ready(self) -> RemoteTracker:
        """Wait until the writer has opened the store (raising what it raised)."""
        self._call("ping")
        return self

    def start_sweep(
        self,
        name: str,
        space_text: str,
        space_path: str | Path | None,
        study_name: str,
        storage_url: str,
        params: Mapping[str, Any],
    ) -> str:
        args = (name, space_text, space_path, study_name, storage_url, dict(params))
        self._sweep = ("start_sweep", args, {}, None)
        self._order = note.order(params)  # (the runs page's sort)
        run_id, self.experiment_id = self._call("start_sweep", *args)
        return str(run_id)

    def end_sweep(
        self, parent_run_id: str, status: str = "FINISHED", artifacts: Iterable[Path] = ()
    ) -> None:
        self._call("end_sweep", parent_run_id, status, [str(p) for p in artifacts])

    def flush(self, run_id: str | None = None) -> None:
        self._call("flush", run_id)

    def start_trial(
        self,
        parent_run_id: str,
        number: int,
        params: Mapping[str, Any],
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        handle = f"{HANDLE}{number}"
        self._runs.pop(handle, None)  # (a re-run asks again: the same run comes back)
        self._trials[handle] = []
        self._send("start_trial", handle, parent_run_id, number, dict(params), dict(tags or {}))
        return handle

    def log_epoch(self, run_id: str, epoch: int, metrics: Mapping[str, Any]) -> None:
        self._send("log_epoch", run_id, epoch, dict(metrics))

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        self._send("set_tags", run_id, dict(tags))

    def end_trial(
        self, run_id: str, state: str, value: float | None = None, reason: str | None = None
    ) -> None:
        self._send("end_trial", run_id, state, value, reason)

    def log_best(self, parent_run_id: str, value: float, step: int) -> None:
        self._bests.append(("log_best", (parent_run_id, value, step), {}, None))
        self._send("log_best", parent_run_id, value, step)

    def run_id(self, handle: str) -> str:
        """The MLflow id of the run `start_trial` gave this handle for (waits for it)."""
        if not handle.startswith(HANDLE):
            return handle
        while handle not in self._runs:
            self._raise()  # (a writer that failed sends no more runs)
            self._read(block=True)
        return self._runs[handle]

    def trial_statuses(self, parent_run_id: str) -> dict[int, str]:
        return dict(self._call("trial_statuses", parent_run_id))

    def runs_url(self, ui_base: str) -> str:
        return runs_url(ui_base, self.experiment_id, *self._order)

    def close(self, discard: bool = False, timeout: float = 60.0) -> None:
        """Everything sent written (unless `discard`: another driver owns the sweep now,
        and what is still batched is dropped), the writer gone. Idempotent; a writer that
        does not end in `timeout` is left to finish on its own (it holds the writer lock)."""
        if self._conn.closed:
            return
        with contextlib.suppress(OSError):
            self._conn.send(("abandon" if discard else "close", (), {}, None))
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout)
        self._conn.close()

    # --- the channel ------------------------------------------------------------------
    def _send(self, op: str, *args: Any, **kwargs: Any) -> None:
        self._read(block=False)
        self._raise()
        message: Message = (op, args, kwargs, None)
        if op != "log_best" and args and str(args[0]) in self._trials:
            self._trials[str(args[0])].append(message)  # (kept until its end is written)
        try:
            self._conn.send(message)
        except OSError:
            self._lost()

    def _call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        self._read(block=False)
        self._raise()
        self._asked += 1
        asked = self._asked
        self._waiting = (op, args, kwargs, asked)
        try:
            self._conn.send(self._waiting)
        except OSError:
            self._lost()
        while asked not in self._answers:
            self._read(block=True)
            self._raise()
        self._waiting = None
        return self._answers.pop(asked)

    def _read(self, block: bool) -> None:
        """Take what the writer said (all of it, waiting for one message if `block`)."""
        try:
            while block or self._conn.poll():
                kind, key, value = self._conn.recv()
                block = False
                if kind == "run":
                    self._runs[key] = value
                elif kind == "ended":  # the trial's run is written: nothing to replay
                    self._trials.pop(key, None)
                elif kind == "ok":
                    self._answers[key] = value
                elif self._error is None:  # "error": the first one stands
                    self._error = value
        except (EOFError, OSError):
            self._lost()

    def _raise(self) -> None:
        error = self._error
        if error is None:
            return
        if error["kind"] == "config":
            raise ConfigError(error["message"], where=error.get("where"), hint=error.get("hint"))
        if error["kind"] == "full":
            raise OSError(errno.ENOSPC, error["message"])
        raise TrackingFailed(f"MLflow: {error['message']}")

    def _lost(self) -> None:
        """The writer is gone: its error if it said one, else a new writer gets what the
        dead one had not confirmed written (see the module doc)."""
        self._raise()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(5)  # (the socket closes a moment before the process ends)
        code = self._process.poll()
        died = "the MLflow writer process ended unexpectedly" + (
            f" (exit code {code})" if code is not None else ""
        )
        if self.restarts >= RESTARTS or self._conn.closed:
            raise TrackingFailed(died + (f", {self.restarts} times" if self.restarts else ""))
        self.restarts += 1
        self._conn.close()
        self._process, self._conn = self._spawn()
        print(
            f"tune: warning: {died}; started it again, with what it had not written",
            file=sys.stderr,
            flush=True,
        )
        replay = [
            *([self._sweep] if self._sweep is not None else []),
            *self._bests,
            *(m for messages in self._trials.values() for m in messages),
            *([self._waiting] if self._waiting is not None else []),
        ]
        try:
            for message in replay:
                self._conn.send(message)
        except OSError:
            self._lost()


# --- the writer process --------------------------------------------------------------------


def _hold_lock(path: Path) -> Any:
    """The sweep's writer lock (an flock: the kernel releases it when this process ends),
    waiting for a writer still draining after its driver died; the open file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 (held for the process's life)
    deadline = time.monotonic() + LOCK_WAIT_S
    while time.monotonic() < deadline:  # (past it, a writer hung for minutes: write beside it)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            time.sleep(0.05)
    return handle


def _error(exc: BaseException) -> dict[str, Any]:
    from tuner.study.storage import disk_full

    if isinstance(exc, ConfigError):
        return {"kind": "config", "message": exc.message, "where": exc.where, "hint": exc.hint}
    full = disk_full(exc)
    if full is not None:
        return {"kind": "full", "message": mask_text(str(full).strip().splitlines()[0][:300])}
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return {"kind": "other", "message": mask_text(f"{type(exc).__name__}: {text}")[:500]}


def serve(conn: Connection, tracking_uri: str, artifact_root: str, lock_file: str, flush: float):
    """The writer's loop: one message at a time, in the order sent."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)  # the driver ends the sweep, and tells us
    lock = None  # taken before the first write (a refused second driver never writes)
    failed: dict[str, Any] | None = None
    try:
        from tuner.tracking.runs import Tracker, quiet_logs

        quiet_logs()
        tracker = Tracker(tracking_uri, Path(artifact_root) if artifact_root else None, flush)
    except BaseException as exc:
        failed = _error(exc)
    runs: dict[str, str] = {}
    try:
        while True:
            try:
                op, args, kwargs, asked = conn.recv()
            except (EOFError, OSError):  # the driver is gone: what it sent is written
                break
            if op in ("close", "abandon"):
                if op == "abandon" and failed is None:
                    tracker.close(discard=True)
                break
            if lock is None and op not in ("ping", "close", "abandon"):
                lock = _hold_lock(Path(lock_file))  # (held until the process exits)
            if failed is not None:  # nothing more is written; every call answers the error
                if asked is not None:
                    _tell(conn, ("error", asked, failed))
                continue
            try:
                result = _apply(tracker, runs, op, args, kwargs, conn)
            except Exception as exc:
                failed = _error(exc)
                _tell(conn, ("error", asked, failed))
                continue
            if asked is not None:
                _tell(conn, ("ok", asked, result))
            faults.point("writer")  # (the tests' kill of a writer mid-sweep)
    finally:
        if failed is None:
            with contextlib.suppress(Exception):
                tracker.close()


def _tell(conn: Connection, message: tuple) -> None:
    """Answer the driver, if it is still there (killed, it still gets everything written)."""
    with contextlib.suppress(OSError):
        conn.send(message)


def _apply(
    tracker: Any, runs: dict[str, str], op: str, args: tuple, kwargs: dict, conn: Connection
) -> Any:
    if op == "ping":
        return None
    if op == "start_sweep":
        return tracker.start_sweep(*args, **kwargs), tracker.experiment_id
    if op == "start_trial":
        handle, *rest = args
        run_id = tracker.start_trial(*rest, **kwargs)
        runs[handle] = run_id
        _tell(conn, ("run", handle, run_id))
        return None
    run_id, *rest = args
    result = getattr(tracker, op)(runs.get(run_id, run_id), *rest, **kwargs)
    if op == "end_trial":  # written through (end_trial flushes the run)
        _tell(conn, ("ended", run_id, None))
    return result


def main(argv: list[str]) -> None:
    fd, tracking_uri, artifact_root, lock_file, flush = argv
    serve(Connection(int(fd)), tracking_uri, artifact_root, lock_file, float(flush))


if __name__ == "__main__":
    main(sys.argv[1:])
