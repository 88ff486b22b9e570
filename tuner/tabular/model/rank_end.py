"""How a distributed trial's worker ended, in words, for the one line that fails the
trial: `distributed worker 1 of 2 was killed by SIGKILL`, or `… ended (exit code 1):
UnavailableError: Graph execution error:`.

Why not the last line of the worker's output (<trial_dir>/workers/<rank>.log): a worker
prints TensorFlow's start-up noise before anything of its own — absl's C++ log lines
(oneDNN, "Could not find cuda drivers", `failed call to cuInit: INTERNAL: CUDA error`
on every machine without a GPU, cpu_feature_guard), Python warnings — and a worker
killed by a signal prints nothing after it, so its last line named a CUDA error that
had nothing to do with its end (issue 25). What is quoted is a Python traceback's
exception, else the last line that is not such noise, else nothing. Pure text work: no
TensorFlow here.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

LAUNCHER_LOST = -(1 << 16)  # an exit code no process has: the rank's Ray launcher died
TAIL_BYTES = 64 * 1024  # the end of a log is where a worker says why it ended
LONGEST = 300  # characters of a quoted line

# absl's C++ log line (`I0000 00:00:1700000000.123456   123 port.cc:153] …`; before
# absl::InitializeLog its time is seconds since 1970) and TensorFlow's older one
# (`2024-01-02 03:04:05.678901: W tensorflow/…] …`): the level is what is read
_CPP_LOG = re.compile(
    r"^(?:(?P<absl>[IWEF])\d{4} [\d:.]+\s+\d+ \S+:\d+\]"
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: (?P<old>[IWEF]) \S+\])"
)
# an error logged at start-up on a machine without a GPU (or without TensorRT); an
# error on anything else (a collective aborted) and a fatal one (F) are reasons
_STARTUP_ERROR = re.compile(
    r"cuInit|CUDA|cuda|cuDNN|cuFFT|cuBLAS|TensorRT|TF-TRT|Unable to register|"
    r"computation placer|absl::InitializeLog"
)
_NOISE = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\)"),
    re.compile(r"^To enable the following instructions: .*rebuild TensorFlow"),  # cpu_feature_guard
    re.compile(r"^\S.*:\d+: [A-Z]\w*Warning: "),  # warnings.warn: `file:line: Category: …`
    re.compile(r"^(?:WARNING|INFO|DEBUG):[\w.]+:"),  # Python logging (tensorflow, absl)
)
_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w]*\.)*(?P<name>[A-Za-z_]\w*)(?P<rest>:.*)?$")


def describe(code: int | None, log: Path) -> str:
    """'was killed by SIGKILL' / 'ended (exit code 1): <the line that says why>'."""
    said = reason(read_tail(log))
    return how_ended(code) + (f": {said}" if said else "")


def how_ended(code: int | None) -> str:
    """An exit code in words: a negative one is the signal that killed the process."""
    if code == LAUNCHER_LOST:
        return "was lost with its launcher (its Ray actor died)"
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"ended (exit code {code})"


def read_tail(log: Path) -> str:
    """The end of a worker's log ('' when it cannot be read)."""
    try:
        with log.open("rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - TAIL_BYTES))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def reason(text: str) -> str | None:
    """What a worker's output says about why it ended: the exception of its last Python
    traceback (the class name without its module: `UnavailableError: …`), else its last
    line that is not start-up noise nor a warning, else None."""
    lines = text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("Traceback (most recent call last):"):
            for line in lines[i + 1 :]:
                if line.strip() and not line[0].isspace():
                    return _exception(line)
            break
    for line in reversed(lines):
        if line.strip() and not line[0].isspace() and not _noise(line):
            return line.strip()[:LONGEST]
    return None


def _noise(line: str) -> bool:
    found = _CPP_LOG.match(line)
    if found:
        level = found.group("absl") or found.group("old")
        return level in "IW" or (level == "E" and bool(_STARTUP_ERROR.search(line)))
    return any(pattern.match(line) for pattern in _NOISE)


def _exception(line: str) -> str:
    """`tensorflow.python.framework.errors_impl.UnavailableError: …` → `UnavailableError:
    …` (a line that is no `module.Class: message` is kept as it is)."""
    found = _EXCEPTION.match(line.strip())
    shown = found.group("name") + (found.group("rest") or "") if found else line.strip()
    return shown[:LONGEST]
