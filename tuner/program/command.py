"""A trial's command line: the space file's command with its {placeholders} filled, then
(with `flags: auto`) every config key the command does not place itself as a flag.

How a value is written (`flag_value`), the same in a placeholder and a flag:
- a bool: `true` / `false` (argparse: `type=lambda s: s == "true"`);
- a list: its items joined by spaces, one argument (`--model_network="128 32 8"`, as
  the original practice's scripts take it: `.split()` it);
- a dict: JSON; None: the flag is left out;
- anything else as Python writes it (`0.001`, `adam`, `8`).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from tuner.program.spec import ProgramSpec


def flag_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return " ".join(flag_value(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def argv(
    spec: ProgramSpec,
    config: dict[str, Any],
    trial_dir: Path,
    *,
    number: int = 0,
    resume_epoch: int = 0,
    folder: str | None = None,
) -> list[str]:
    """The program and its arguments for one trial (nothing goes through a shell), run
    in `folder` (default: the program's own)."""
    places = {
        **{k: flag_value(v) for k, v in config.items() if v is not None},
        "trial_dir": str(trial_dir),
        "number": str(number),
        "resume_epoch": str(resume_epoch),
    }
    words = [word.format(**places) for word in spec.words()]
    words[0] = spec.program(folder)
    if spec.flags == "auto":
        placed = set(spec.fields())
        words += [
            f"--{key}={flag_value(value)}"
            for key, value in config.items()
            if key not in placed and value is not None
        ]
    return words


def shown(words: list[str]) -> str:
    """A command line as a user would type it (for logs and messages)."""
    return shlex.join(words)
