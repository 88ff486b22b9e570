"""One exception hierarchy, so that `tune` can tell the user's mistakes, a trial's
failure and a failing service from its own bugs. Each class carries the exit code the
command returns for it, and every one prints as a single line (what, where, what was
expected), never a traceback:

    TunerError              the root: a one-line message                       (exit 1)
    ├── UsageError          bad input, the user's to fix                       exit 2
    │   ├── ConfigError     a configuration, option, space file or sweep name
    │   └── DataError       a data file, data set folder or schema
    ├── TrialFailed         a trial ran but could not finish (its loss         exit 1
    │                       diverged); a sweep records it and goes on
    ├── ServiceError        a service tuner runs or needs failed (the MLflow   exit 1
    │                       UI server died or did not answer)
    └── StorageFull         the disk holding the sweep is full; the sweep      exit 1
                            stays resumable once there is room

Anything else is a bug in tuner: exit 1 with the traceback. A sweep stopped by a signal
exits 128 + its number (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP) and is resumable.
"""

from __future__ import annotations

from pathlib import Path


class TunerError(Exception):
    """A failure tuner can say in one line: what, where, and what was expected."""

    exit_code = 1

    def __init__(self, message: str, *, where: str | Path | None = None, hint: str | None = None):
        self.message = message
        self.where = str(where) if where is not None else None
        self.hint = hint
        super().__init__(self.format())

    def format(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return " ".join(text.split("\n"))


class UsageError(TunerError):
    """Bad input: nothing ran (or nothing was written) because of it."""

    exit_code = 2


class DataError(UsageError):
    """A data file, data set directory or schema file is missing, malformed or inconsistent."""


class ConfigError(UsageError):
    """A configuration, option or space file is invalid."""


class TrialFailed(TunerError):
    """The trial ran but could not finish (for example, its loss diverged). The sweep
    records it as failed and goes on; `tune train` prints this one line."""

    exit_code = 1

    def __init__(self, message: str, *, status: str = "failed", hint: str | None = None):
        self.status = status
        super().__init__(message, hint=hint)


class ServiceError(TunerError):
    """A service tuner starts or talks to failed: not the user's input, not a bug."""

    exit_code = 1


class StorageFull(TunerError):
    """The disk (or quota) holding the sweep's study, tracking store or trial folders is
    full. Not bad input: exit 1, still one line; the sweep stays resumable once there is
    room (at most the record being written is lost)."""

    exit_code = 1


class LockLost(TunerError):
    """Another driver holds the sweep's lock now: this driver must write nothing more to
    the sweep (raised by the journal's fence, tuner/study/fence.py, in place of a write)."""

    exit_code = 2
