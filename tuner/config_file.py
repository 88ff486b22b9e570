"""YAML config files that remember where each key was written.

Config errors must name the file, the line and the key, and suggest the nearest valid
key for a typo. PyYAML's composed node tree has the line of every key; we keep a map
from key path to line beside the plain data, and check the data against a JSON Schema
with jsonschema, translating its first error into one `ConfigError` line.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tuner.atomic import write_text_atomic
from tuner.errors import ConfigError

KeyPath = tuple[str | int, ...]


@dataclass
class Located:
    """Plain data loaded from YAML, plus the line (1-based) of every key path."""

    data: Any
    path: Path | None = None
    lines: dict[KeyPath, int] = field(default_factory=dict)
    origins: dict[KeyPath, str] = field(default_factory=dict)  # keys set elsewhere (--set)

    def override(self, key: str, value: Any, origin: str) -> None:
        self.data[key] = value
        self.lines.pop((key,), None)
        self.origins[(key,)] = origin

    def where(self, key: KeyPath = ()) -> str | None:
        """'file:line' of the key, or of its nearest written parent."""
        for depth in range(len(key), 0, -1):
            if key[:depth] in self.origins:
                return self.origins[key[:depth]]
        if self.path is None:
            return None
        while key and key not in self.lines:
            key = key[:-1]
        line = self.lines.get(key)
        return f"{self.path}:{line}" if line else str(self.path)


def _walk(node: yaml.Node, key: KeyPath, lines: dict[KeyPath, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            child = (*key, k.value)
            lines[child] = k.start_mark.line + 1
            _walk(v, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            lines[(*key, i)] = v.start_mark.line + 1
            _walk(v, (*key, i), lines)


class Loader(yaml.SafeLoader):
    """SafeLoader reading exponent numbers as YAML 1.2 does (`1e-4` is a float, not text)."""


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str, path: Path | None = None) -> Located:
    """Parse YAML text whose top level is a mapping; `path` is only for messages."""
    where = str(path) if path else "config"
    try:
        node = yaml.compose(text, Loader=Loader)
        data = yaml.load(text, Loader=Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"not valid YAML: {exc.problem}", where=f"{where}{line}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"the top level is a {type(data).__name__}",
            where=f"{where}:1",
            hint="expected a mapping",
        )
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return Located(data, path, lines)


def load_yaml(path: str | Path) -> Located:
    """Read a YAML file whose top level is a mapping."""
    path = Path(path)
    if not path.exists():
        raise ConfigError("no such file", where=path)
    if path.is_dir():
        raise ConfigError("is a directory", where=path, hint="expected a YAML file")
    return parse_yaml(path.read_text(), path)


def suggest(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str | None:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def validate(located: Located, schema: dict[str, Any], *, prefix: KeyPath = ()) -> None:
    """Check `located.data` (found at `prefix` inside the file) against a JSON Schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(located.data))
    if not errors:
        return
    err = min(errors, key=lambda e: (len(e.absolute_path), str(list(e.absolute_path))))
    raise _config_error(err, located, prefix)


def _config_error(err: Any, located: Located, prefix: KeyPath) -> ConfigError:
    key = tuple(err.absolute_path)
    if err.validator == "additionalProperties":
        allowed = set(err.schema.get("properties", {}))
        instance = err.instance if isinstance(err.instance, dict) else {}
        unknown = [k for k in instance if k not in allowed]
        if unknown:
            bad = unknown[0]
            near = suggest(str(bad), allowed)
            hint = f"did you mean '{near}'?" if near else f"expected one of {sorted(allowed)}"
            return ConfigError(
                f"unknown key '{bad}'",
                where=located.where((*prefix, *key, bad)),
                hint=hint,
            )
    name = ".".join(str(k) for k in key) or "(top level)"
    message = err.message
    if err.validator == "enum":
        message = f"{err.instance!r} is not one of {err.validator_value}"
        if isinstance(err.instance, str):
            near = suggest(err.instance, [str(v) for v in err.validator_value])
            if near:
                message += f" (did you mean '{near}'?)"
    elif err.validator == "required":
        message = err.message.replace("is a required property", "is required")
    return ConfigError(f"key '{name}': {message}", where=located.where((*prefix, *key)))


def parse_override(text: str, schema: dict[str, Any]) -> tuple[str, Any]:
    """`key=value` from the command line, typed by the key's schema.

    The value is read as YAML (so `[128,32,8]`, `true`, `1e-3` mean what they look
    like), then a string-typed key keeps its text even if it looks like a number.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set '{text}': expected KEY=VALUE")
    props = schema.get("properties", {})
    if schema.get("additionalProperties") is False and key not in props:
        near = suggest(key, props)
        hint = f"did you mean '{near}'?" if near else f"expected one of {sorted(props)}"
        raise ConfigError(f"--set: unknown key '{key}'", hint=hint)
    try:
        value = yaml.load(raw, Loader=Loader) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    spec = props.get(key, {})
    wants_string = spec.get("type") == "string" or (
        "enum" in spec and all(isinstance(v, str) for v in spec["enum"])
    )
    if wants_string and not isinstance(value, str):
        value = raw.strip()
    if spec.get("type") == "number" and isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    return key, value


def dump_yaml(data: dict[str, Any], path: str | Path) -> Path:
    """Write a config atomically, keys in the order given."""
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
    return write_text_atomic(path, text)
