"""What a space file says of a program objective, and how it travels.

    objective:
      command: python train.py --model_dir {trial_dir}/model
      metrics: [val_auc, val_loss]      # what it reports (checked like any declaration)
      flags: auto                       # every param as --name=value (none: only {name})
      cwd: .                            # where it runs (default: the space file's folder)
      pattern: 'epoch (?P<epoch>\\d+) auc (?P<val_auc>\\S+)'   # instead of the default rule
      tensorboard: logs                 # its event files, under the trial folder
      grace: 10s                        # SIGTERM → SIGKILL when it is stopped
      timeout: 2h                       # a run longer than this fails (a hang)
      env: {TF_CPP_MIN_LOG_LEVEL: "2"}

The engine knows an objective by a reference string (the study, the Ray config and
MLflow keep it): a program's is `program:` + its spec as JSON, with the folder made
absolute, so every process that runs a trial rebuilds the same spec from it.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import string
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tuner.errors import ConfigError

PREFIX = "program:"
FLAGS = ("auto", "none")
# what a command's {placeholders} may name besides the trial's config keys
PLACES = ("trial_dir", "number", "resume_epoch")
PYTHONS = ("python", "python3")  # the Python tuner runs under (its packages, its venv)


@dataclass(frozen=True)
class ProgramSpec:
    command: str
    metrics: tuple[str, ...]
    cwd: str
    flags: str = "auto"
    pattern: str | None = None
    tensorboard: str | None = None
    grace: float = 10.0
    timeout: float | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """The objective reference the engine carries (see the module doc)."""
        data = asdict(self)
        data["metrics"] = list(self.metrics)
        return PREFIX + json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_ref(cls, ref: str) -> ProgramSpec:
        data = json.loads(ref.removeprefix(PREFIX))
        data["metrics"] = tuple(data["metrics"])
        return cls(**data)

    def words(self) -> list[str]:
        """The command split as a shell would, before its placeholders are filled."""
        return shlex.split(self.command)

    def fields(self) -> list[str]:
        """The names the command's {placeholders} use ({{ and }} are braces)."""
        return [
            name
            for _, name, _, _ in string.Formatter().parse(self.command)
            if name is not None and name != ""
        ]

    def program(self, folder: str | None = None) -> str:
        """The executable: `python` is the interpreter tuner runs under; a name is looked
        up on PATH, a path in the program's folder (`folder`: where it runs, e.g. a
        cluster node's copy of it)."""
        first = self.words()[0]
        if first in PYTHONS:
            return sys.executable
        if "/" in first:
            return str((Path(folder or self.cwd) / first).absolute())
        return shutil.which(first) or first

    def describe(self) -> str:
        """How the objective reads in messages and MLflow: the command as written."""
        return f"program: {self.command}"

    def written(self) -> dict[str, Any]:
        """The `objective:` mapping a file would hold for it (defaults left out; the
        folder absolute: `tune train` of an exported config runs it where it ran)."""
        data: dict[str, Any] = {"command": self.command, "metrics": list(self.metrics)}
        data["cwd"] = self.cwd
        for key, default in (("flags", "auto"), ("pattern", None), ("tensorboard", None)):
            if getattr(self, key) != default:
                data[key] = getattr(self, key)
        if self.grace != 10.0:
            data["grace"] = f"{self.grace:g}s"
        if self.timeout is not None:
            data["timeout"] = f"{self.timeout:g}s"
        if self.env:
            data["env"] = dict(self.env)
        return data


def is_program(ref: str) -> bool:
    return ref.startswith(PREFIX)


def parse(data: dict[str, Any], folder: Path, where: Any) -> ProgramSpec:
    """A space file's `objective:` mapping (already checked against the JSON Schema) →
    a ProgramSpec, its program and placeholders checked. `where(key)` names a key's place
    in the file; `folder` is the space file's (a relative cwd is relative to it)."""
    from tuner.space.schema import parse_duration

    cwd = (folder / str(data.get("cwd", "."))).absolute()
    if not cwd.is_dir():
        raise ConfigError(
            f"objective.cwd: no folder {cwd}",
            where=where(("objective", "cwd")),
            hint="a folder relative to the space file's",
        )

    def seconds(key: str) -> float | None:
        if key not in data:
            return None
        return parse_duration(data[key], where(("objective", key)), f"objective.{key}")

    grace = seconds("grace")
    spec = ProgramSpec(
        command=str(data["command"]).strip(),
        metrics=tuple(data["metrics"]),
        cwd=str(cwd),
        flags=str(data.get("flags", "auto")),
        pattern=data.get("pattern"),
        tensorboard=data.get("tensorboard"),
        grace=10.0 if grace is None else grace,
        timeout=seconds("timeout"),
        env={str(k): str(v) for k, v in (data.get("env") or {}).items()},
    )
    _check_command(spec, where(("objective", "command")))
    if spec.pattern is not None:
        _check_pattern(spec, where(("objective", "pattern")))
    return spec


def _check_command(spec: ProgramSpec, where: str | None) -> None:
    try:
        words = spec.words()
        fields = spec.fields()
    except ValueError as exc:  # an unclosed quote, a lone brace
        raise ConfigError(f"objective.command: {exc}", where=where) from None
    if not words:
        raise ConfigError("objective.command is empty", where=where)
    for name in fields:
        if not name.isidentifier():
            raise ConfigError(
                f"objective.command: {{{name}}} is not a placeholder",
                where=where,
                hint="write {trial_dir}, {number}, {resume_epoch} or a param's name; "
                "{{ and }} for braces",
            )
    found = spec.program()
    if not (Path(found).is_file() or shutil.which(found)):
        raise ConfigError(
            f"objective.command: program '{words[0]}' not found"
            + (f" in {spec.cwd}" if "/" in words[0] else " on PATH"),
            where=where,
            hint="a program on PATH, or a path relative to the space file's folder (./train.sh)",
        )
    if "/" in words[0] and not shutil.which(found):
        raise ConfigError(
            f"objective.command: '{words[0]}' is not executable",
            where=where,
            hint=f"chmod +x {words[0]}, or run it through its interpreter (sh {words[0]})",
        )
    for word in words[1:]:  # a script named by the interpreter's first argument
        if word.startswith("-") or "{" in word:
            break
        if word.endswith((".py", ".sh")) and not (Path(spec.cwd) / word).is_file():
            raise ConfigError(
                f"objective.command: no file '{word}' in {spec.cwd}",
                where=where,
                hint="paths in the command are relative to the space file's folder (or cwd:)",
            )
        break


def _check_pattern(spec: ProgramSpec, where: str | None) -> None:
    assert spec.pattern is not None
    try:
        compiled = re.compile(spec.pattern)
    except re.error as exc:
        raise ConfigError(f"objective.pattern: {exc}", where=where) from None
    named = set(compiled.groupindex)
    if not named & set(spec.metrics):
        raise ConfigError(
            "objective.pattern names no metric",
            where=where,
            hint=f"a named group per metric, e.g. (?P<{spec.metrics[0]}>\\S+), and (?P<epoch>\\d+)",
        )


def check_placeholders(spec: ProgramSpec, names: set[str], where: str | None) -> None:
    """Every {placeholder} of the command names a trial config key (a param, a fixed
    value, epochs) or one of PLACES."""
    from tuner.text import suggest

    known = names | set(PLACES)
    for name in spec.fields():
        if name not in known:
            near = suggest(name, known)
            raise ConfigError(
                f"objective.command: {{{name}}} is neither a param nor one of {list(PLACES)}",
                where=where,
                hint=f"did you mean {{{near}}}?" if near else f"known: {sorted(known)}",
            )
