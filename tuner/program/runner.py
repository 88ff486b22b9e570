"""A program trial's life: started with the trial's flags in its own process group, its
output kept whole in the trial folder (`program.log`) and read line by line, its epochs
reported as each one is read (the pruner sees it then, not when the program exits),
stopped — SIGTERM, then SIGKILL after `grace` — when the trial is pruned, the sweep
stops or it runs past its `timeout`.

How it ends: exit 0 having reported the metrics is a complete trial; a non-zero exit
fails it with the program's last meaningful line; exit 0 without a metric fails it
saying so. The program also dies with its trial's worker process (Linux: the parent-
death signal), so a killed worker leaves no program behind.

What the program is given (besides its flags): TUNER_TRIAL_DIR (its folder: where it
keeps checkpoints, TensorBoard files and `model/`), TUNER_TRIAL_NUMBER,
TUNER_RESUME_EPOCH (the last epoch the sweep has of this trial: a re-run after a kill
continues from its checkpoint there), TUNER_CHECKPOINT_DIR, TUNER_REPORT_FILE (for
`tuner.report`), PYTHONUNBUFFERED=1 (its lines arrive as printed), and for a share of
a GPU what `tuner.gpu.share_env` sets (TF_FORCE_GPU_ALLOW_GROWTH=true: TensorFlow takes
memory as it needs it, not all of it; TUNER_GPU_FRACTION, TUNER_GPU_MEMORY_MB; Ray sets
CUDA_VISIBLE_DEVICES).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

from tuner.errors import TrialFailed
from tuner.gpu import share_env
from tuner.program import command
from tuner.program.collect import Collector
from tuner.program.spec import ProgramSpec
from tuner.reporting import ENV as REPORT_ENV
from tuner.trial import Report

LOG = "program.log"
REPORTS = ".tuner-reports.jsonl"
POLL_S = 0.5  # how often event files and the report file are read
_NOISE = re.compile(r"^\s*(\d+/\d+\s|Epoch \d+/\d+\s*$)")  # progress, not a reason


class _StartOver(Exception):
    """A resumed program cannot continue from what its interrupted run left: it is past
    the sweep's record of it (its run before went on while the sweep was down: it
    reports a later epoch first, or has nothing left to do), or it fails before its
    first epoch (what the kill left — a checkpoint torn mid-write — does not load)."""


def run_program(
    spec: ProgramSpec,
    config: dict[str, Any],
    report: Report,
    trial_dir: Path,
    *,
    number: int = 0,
    resume_epoch: int = 0,
    gpu: float = 0.0,
) -> dict[str, Any]:
    """Run the program for one trial (see the module doc). A program resumed at the
    sweep's record of it (`resume_epoch`) that cannot continue from there — past the
    record (it would leave a hole in it) or failing before its first epoch (a kill
    tore its checkpoint) — has its folder moved aside (`<number>.aside-<k>`, nothing
    deleted) and runs again from the start, once, its epochs checked against the
    record as any re-run's are (the sweep restarts the trial's record and says so)."""
    try:
        return _run(spec, config, report, Path(trial_dir), number, resume_epoch, gpu)
    except _StartOver as why:
        aside = _move_aside(Path(trial_dir))
        with (Path(trial_dir) / LOG).open("a") as log:
            log.write(f"--- {why}; its folder moved to {aside}, starting it over\n")
        return _run(spec, config, report, Path(trial_dir), number, 0, gpu)


def _move_aside(trial_dir: Path) -> Path:
    k = 1
    while (aside := trial_dir.with_name(f"{trial_dir.name}.aside-{k}")).exists():
        k += 1
    trial_dir.rename(aside)
    trial_dir.mkdir()
    return aside


def _run(
    spec: ProgramSpec,
    config: dict[str, Any],
    report: Report,
    trial_dir: Path,
    number: int,
    resume_epoch: int,
    gpu: float,
) -> dict[str, Any]:
    trial_dir.mkdir(parents=True, exist_ok=True)
    folder = _folder(spec)
    words = command.argv(
        spec, config, trial_dir, number=number, resume_epoch=resume_epoch, folder=folder
    )
    reports = trial_dir / REPORTS
    reports.unlink(missing_ok=True)  # (a run's own reports: an earlier run's are recorded)
    events = trial_dir / spec.tensorboard if spec.tensorboard else trial_dir
    collector = Collector(spec.metrics, events, reports, spec.pattern)
    env = _env(spec, trial_dir, number, resume_epoch, reports, gpu)
    tail: deque[str] = deque(maxlen=50)
    with (trial_dir / LOG).open("ab") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {command.shown(words)}\n".encode())
        log.flush()
        try:
            process = subprocess.Popen(
                words,
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its group: stopped whole (its children too)
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            raise TrialFailed(f"the program could not start: {exc}") from None
        assert process.stdout is not None
        woken = threading.Event()
        reader = threading.Thread(
            target=_read,
            args=(process.stdout, log, collector, tail, woken),
            name="tuner-program-output",
            daemon=True,
        )
        reader.start()
        threading.Thread(
            target=_orphan_watch,
            args=(process, spec.grace),
            name="tuner-program-watch",
            daemon=True,
        ).start()
        started = time.monotonic()
        try:
            while True:
                ended = process.poll() is not None and not reader.is_alive()
                for epoch, metrics in collector.poll(final=ended):
                    # (a record of no epoch too: killed after it checkpointed and
                    # printed its first epoch, before the sweep recorded it)
                    if epoch > resume_epoch + 1 and epoch == collector.first:
                        raise _StartOver(
                            f"resumed at the sweep's epoch {resume_epoch}, it reported "
                            f"epoch {epoch} first"
                        )
                    report(epoch, metrics)
                if ended:
                    break
                if spec.timeout is not None and time.monotonic() - started > spec.timeout:
                    raise TrialFailed(
                        f"the program ran past its timeout ({spec.timeout:g} s) and was stopped"
                    )
                woken.wait(POLL_S)
                woken.clear()
        except BaseException:  # pruned (StopTrial), the sweep stopping, a timeout
            stop(process, spec.grace)
            reader.join(5)
            raise
    if process.returncode != 0:
        failure = _failure(process.returncode, tail, trial_dir / LOG)
        if resume_epoch and collector.last == 0:
            raise _StartOver(
                f"resumed at the sweep's epoch {resume_epoch}, it failed before its first "
                f"epoch ({failure})"
            )
        raise TrialFailed(failure)
    if collector.last == 0 and resume_epoch:
        raise _StartOver(f"resumed at the sweep's epoch {resume_epoch}, it had nothing left to do")
    if collector.last == 0:
        raise TrialFailed(
            f"the program exited 0 without reporting {', '.join(spec.metrics)} (read from "
            "its output lines, TensorBoard files under its trial folder, or tuner.report; "
            f"its output: {trial_dir / LOG})",
            hint="print `epoch=N name=value` lines, or set objective.pattern",
        )
    return {"status": "complete", "epochs": collector.last}


def stop(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM to the program's process group, SIGKILL to what is left after `grace`."""
    for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(wait)
    with contextlib.suppress(ProcessLookupError):  # what the group left behind
        os.killpg(process.pid, signal.SIGKILL)


def _folder(spec: ProgramSpec) -> str:
    """Where the program runs: its folder, or on a Ray cluster the node's copy of it
    (Ray's working_dir, the worker's current folder: see driver.ship)."""
    shipped = os.environ.get("TUNER_SHIPPED_DIR")
    if shipped and Path(spec.cwd).is_relative_to(shipped):
        return str(Path.cwd() / Path(spec.cwd).relative_to(shipped))
    return spec.cwd


def _orphan_watch(process: subprocess.Popen, grace: float) -> None:
    """Stop the program as soon as this process is orphaned (a Ray worker whose raylet
    died with its driver lives on for seconds; the program, not held back by a report
    nobody takes, would train on past the sweep's record)."""
    parent = os.getppid()
    while process.poll() is None:
        if os.getppid() != parent:
            stop(process, grace)
            return
        time.sleep(POLL_S)


def _read(
    stream: IO[bytes],
    log: IO[bytes],
    collector: Collector,
    tail: deque[str],
    woken: threading.Event,
) -> None:
    """The program's output, whole to its log, split on newlines and carriage returns
    (progress bars) into lines for the collector."""
    pending = b""
    for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
        log.write(chunk)
        log.flush()
        pending += chunk
        *lines, pending = re.split(rb"\r\n|\r|\n", pending)
        for raw in lines:
            _line(raw, collector, tail, woken)
    if pending:
        _line(pending, collector, tail, woken)
    woken.set()


def _line(raw: bytes, collector: Collector, tail: deque[str], woken: threading.Event) -> None:
    text = raw.decode("utf-8", "replace")
    if text.strip() and not _NOISE.match(text):
        tail.append(text.strip())
    before = collector.last
    collector.line(text)
    if collector.pending() or collector.last != before:
        woken.set()


def _failure(code: int, tail: deque[str], log: Path) -> str:
    if code < 0:
        try:
            how = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"was killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    last = tail[-1] if tail else None
    said = f": {last[:300]}" if last else ""
    return f"the program {how}{said} (its output: {log})"


def _env(
    spec: ProgramSpec, trial_dir: Path, number: int, resume: int, reports: Path, gpu: float
) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "TUNER_TRIAL_DIR": str(trial_dir),
        "TUNER_TRIAL_NUMBER": str(number),
        "TUNER_RESUME_EPOCH": str(resume),
        "TUNER_CHECKPOINT_DIR": str(trial_dir / "checkpoints"),
        REPORT_ENV: str(reports),
    }
    env.update(share_env(gpu))  # (a share of a GPU: tuner/gpu.py)
    env.update(spec.env)
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    """Linux: the program gets SIGKILL when the thread that started it dies (its trial's
    worker process killed): no orphan keeps training. Elsewhere a no-op."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
