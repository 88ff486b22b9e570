"""One exception hierarchy, so the CLI can tell the user's mistakes from our bugs.

Every `TunerError` is bad input: the CLI prints its one-line message and exits 2.
Anything else is unexpected and exits 1 with a traceback.
"""

from __future__ import annotations

from pathlib import Path


class TunerError(Exception):
    """Bad input: a one-line message that says what, where, and what was expected."""

    exit_code = 2

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


class DataError(TunerError):
    """A data file, data set directory or schema file is missing, malformed or inconsistent."""


class ConfigError(TunerError):
    """A configuration, option or space file is invalid."""


class StorageFull(TunerError):
    """The disk (or quota) holding the sweep's study, tracking store or trial folders is
    full. Not bad input: exit 1, still one line; the sweep stays resumable once there is
    room (at most the record being written is lost)."""

    exit_code = 1
