"""YAML config files that remember where each key was written.

Config errors must name the file, the line and the key, and suggest the nearest valid
key for a typo. PyYAML's composed node tree has the line of every key; we keep a map
from key path to line beside the plain data, and check the data against a JSON Schema
with jsonschema, translating its first error into one `ConfigError` line.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tuner.atomic import write_text_atomic
from tuner.errors import ConfigError
from tuner.text import suggest

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


def _walk(
    node: yaml.Node, key: KeyPath, lines: dict[KeyPath, int], keys: dict[int, KeyPath]
) -> None:
    """Each key path's line into `lines`; each mapping key's own path into `keys`, by
    the key's offset in the text (what names a duplicate key exactly: several keys of
    one name can be written on one line, in different mappings)."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                continue  # a list or mapping as a key: the constructor refuses it, one line
            child = (*key, k.value)
            lines[child] = k.start_mark.line + 1
            keys[k.start_mark.index] = child
            _walk(v, child, lines, keys)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            lines[(*key, i)] = v.start_mark.line + 1
            _walk(v, (*key, i), lines, keys)


class DuplicateKey(yaml.MarkedYAMLError):
    """A mapping writes the same key twice (PyYAML would keep the later one silently)."""

    def __init__(self, key: Any, first: yaml.Mark, again: yaml.Mark):
        super().__init__(problem=f"key '{key}' is written twice", problem_mark=again)
        self.key, self.first, self.again = key, first, again


class _UniqueKeys:
    """Constructor mixin refusing a key written twice in one mapping (merge keys `<<`
    may still be overridden: they are not written in the mapping itself)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)  # type: ignore[attr-defined]
            try:
                first = seen.setdefault(key, key_node)  # 1 and true: one key to Python
            except TypeError:
                continue  # an unhashable key: SafeConstructor says so
            if first is not key_node:
                raise DuplicateKey(key, first.start_mark, key_node.start_mark)
        return super().construct_mapping(node, deep)  # type: ignore[misc]


class Loader(_UniqueKeys, yaml.SafeLoader):
    """SafeLoader reading exponent numbers as YAML 1.2 does (`1e-4` is a float, not
    text), refusing duplicate keys."""


# libyaml's parser when PyYAML was built with it: a space file with a choice of 200,000
# values composes in ~1 s instead of ~7 s; same resolver and constructor as `Loader`.
FastLoader: type[Any] = (
    type("FastLoader", (_UniqueKeys, yaml.CSafeLoader), {})
    if getattr(yaml, "__with_libyaml__", False)
    else Loader
)

_loaders: set[type[Any]] = {Loader, FastLoader}  # one class without libyaml
for _cls in _loaders:
    _cls.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )


def parse_yaml(text: str, path: Path | None = None) -> Located:
    """Parse YAML text whose top level is a mapping; `path` is only for messages.

    One pass: the node tree gives every key's line, then the data is built from it."""
    where = str(path) if path else "config"
    lines: dict[KeyPath, int] = {}
    keys: dict[int, KeyPath] = {}
    loader = FastLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _walk(node, (), lines, keys)
        data = loader.construct_document(node) if node is not None else None
    except DuplicateKey as exc:
        first, again = exc.first.line + 1, exc.again.line + 1
        dotted = ".".join(map(str, keys.get(exc.again.index, (exc.key,))))
        raise ConfigError(
            f"key '{dotted}' is written twice, on lines {first} and {again}",
            where=f"{where}:{again}",
            hint="keep one; YAML would silently use the later",
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"not valid YAML: {exc.problem}", where=f"{where}{line}") from None
    except yaml.YAMLError as exc:  # the reader: a character YAML does not allow
        raise ConfigError(_reader_problem(exc, text), where=where) from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"the top level is a {type(data).__name__}",
            where=f"{where}:1",
            hint="expected a mapping",
        )
    return Located(data, path, lines)


def _reader_problem(exc: yaml.YAMLError, text: str) -> str:
    position = getattr(exc, "position", None)
    character = getattr(exc, "character", None)
    if isinstance(position, int) and isinstance(character, str | int):
        code = ord(character) if isinstance(character, str) else character
        line = text.count("\n", 0, position) + 1
        return f"not text: control character #x{code:02x} on line {line}"
    return f"not valid YAML: {str(exc).splitlines()[-1] if str(exc) else exc}"


def read_text(path: Path) -> str:
    """A config file's text. Config files are UTF-8 (a UTF-8 byte-order mark is
    dropped); UTF-16 with a byte-order mark, which YAML allows, is decoded too. Anything
    else is one ConfigError naming the first bad byte: its line and byte offset."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read it: {exc.strerror or exc}", where=path) from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"not UTF-16 text despite its byte-order mark (byte offset {exc.start})",
                where=path,
                hint="save it as UTF-8",
            ) from None
    raw = raw.removeprefix(codecs.BOM_UTF8)
    nul = raw.find(b"\x00")
    if nul >= 0:
        odd = raw[1::2].count(0) > len(raw) // 4 or raw[0::2].count(0) > len(raw) // 4
        what = "UTF-16 text without a byte-order mark" if odd else "binary data"
        line = raw.count(b"\n", 0, nul) + 1
        raise ConfigError(
            f"not UTF-8 text: {what} (a NUL byte on line {line}, byte offset {nul})",
            where=path,
            hint="expected a YAML file saved as UTF-8",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"not UTF-8 text: byte 0x{raw[exc.start]:02x} on line {line} (byte offset {exc.start})",
            where=f"{path}:{line}",
            hint="save it as UTF-8, e.g. `iconv -f latin1 -t utf-8 FILE`",
        ) from None


def load_yaml(path: str | Path) -> Located:
    """Read a YAML file whose top level is a mapping."""
    path = Path(path)
    if not path.exists():
        raise ConfigError("no such file", where=path)
    if path.is_dir():
        raise ConfigError("is a directory", where=path, hint="expected a YAML file")
    return parse_yaml(read_text(path), path)


def validate(located: Located, schema: dict[str, Any], *, prefix: KeyPath = ()) -> None:
    """Check `located.data` (found at `prefix` inside the file) against a JSON Schema."""
    import jsonschema

    check_finite(located, located.data, prefix)
    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(located.data))
    if not errors:
        return
    err = min(errors, key=lambda e: (len(e.absolute_path), str(list(e.absolute_path))))
    while err.validator == "oneOf" and err.context:
        err = _branch_error(err)
    raise _config_error(err, located, prefix)


def _branch_error(err: Any) -> Any:
    """A `oneOf` error ("not valid under any of the given schemas") names no rule: the
    branch meant for this kind of value does (`scheduler: {type: asha, grace_perod: 2}`
    → the mapping branch's unknown key, not the text branch's enum)."""
    import jsonschema

    def wrong_kind(branch: Any) -> bool:
        return any(
            e.validator in ("type", "enum", "const") and e.absolute_path == err.absolute_path
            for e in err.context
            if e.relative_schema_path[0] == branch
        )

    fitting = [e for e in err.context if not wrong_kind(e.relative_schema_path[0])]
    return jsonschema.exceptions.best_match(fitting or err.context)


def key_error(located: Located, key: KeyPath, message: str, hint: str | None = None) -> ConfigError:
    """A problem with one key of the file, at its line."""
    name = ".".join(str(k) for k in key)
    return ConfigError(f"key '{name}': {message}", where=located.where(key), hint=hint)


def also(located: Located, here: KeyPath, there: KeyPath, what: str) -> str:
    """' (also choice 0, line 16)': where the first of a value listed twice is, named
    as the key path counts (from 0), for a message about the second at `here`. The
    line only when it is another line than the message's own."""
    line, own = located.lines.get(there), located.lines.get(here)
    return f" (also {what}, line {line})" if line and line != own else f" (also {what})"


def check_finite(located: Located, value: Any, key: KeyPath = ()) -> None:
    """NaN and ±inf (YAML `.nan`, `.inf`; `--set x=nan`) are no setting: a trial given
    one trains and then "diverges". JSON Schema cannot say so (NaN fails no bound)."""
    if isinstance(value, float) and not math.isfinite(value):
        name = ".".join(str(k) for k in key) or "(top level)"
        raise ConfigError(
            f"key '{name}': {value} is not a finite number",
            where=located.where(key),
            hint="expected a finite number",
        )
    if isinstance(value, dict):
        for k, v in value.items():
            check_finite(located, v, (*key, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_finite(located, v, (*key, i))


def _describe(schema: Any) -> str | None:
    """What a key's schema expects, in words ('a number in [0, 100]'), for messages."""
    if not isinstance(schema, dict):
        return None
    if "enum" in schema:
        return f"one of {schema['enum']}"
    kind = {
        "number": "a number",
        "integer": "a whole number",
        "string": "text",
        "boolean": "true or false",
        "array": "a list",
        "object": "a mapping",
    }.get(
        schema.get("type")  # type: ignore[arg-type]
    )
    if kind is None:
        return None
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f"{kind} in [{low}, {high}]"
    if low is not None:
        return f"{kind} ≥ {low}"
    if schema.get("exclusiveMinimum") is not None:
        return f"{kind} > {schema['exclusiveMinimum']}"
    return kind


def _missing(err: Any, key: KeyPath) -> str | None:
    """A plain message for a missing key: `required`, or an `anyOf` of `required`s."""
    instance = err.instance if isinstance(err.instance, dict) else {}
    if err.validator == "required":
        names = [n for n in err.validator_value if n not in instance][:1]
    elif err.validator == "anyOf" and all(
        set(sub) == {"required"} and len(sub["required"]) == 1 for sub in err.validator_value
    ):
        names = [sub["required"][0] for sub in err.validator_value]
    else:
        return None
    if not names:
        return None
    props = err.schema.get("properties", {}) if isinstance(err.schema, dict) else {}
    wanted = " or ".join(f"'{n}'" for n in names)
    expected = _describe(props.get(names[0])) if len(names) == 1 else None
    tail = f" ({expected})" if expected else ""
    kind = instance.get("type")
    section = str(key[-1]) if key else ""
    if section in ("pruner", "sampler", "wrapped") and isinstance(kind, str):
        what = "pruner" if section == "wrapped" else section
        return f"{what} '{kind}' needs option {wanted}{tail}"
    name = ".".join(str(k) for k in key)
    if len(names) == 1:
        full = f"{name}.{names[0]}" if name else names[0]
        return f"key '{full}' is required{tail}"
    return f"key '{name or '(top level)'}' needs {wanted}"


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
    if err.validator == "uniqueItems" and isinstance(err.instance, list):
        twice = _listed_twice(err.instance)
        if twice:
            first, i = twice
            here, there = (*prefix, *key, i), (*prefix, *key, first)
            name = ".".join(str(k) for k in (*key, i))
            return ConfigError(
                f"key '{name}': {err.instance[i]!r} is listed twice"
                + also(located, here, there, f"entry {first}"),
                where=located.where(here),
                hint="list each once",
            )
    name = ".".join(str(k) for k in key) or "(top level)"
    message = err.message
    if err.validator == "enum":
        message = f"{err.instance!r} is not one of {err.validator_value}"
        if isinstance(err.instance, str):
            near = suggest(err.instance, [str(v) for v in err.validator_value])
            if near:
                message += f" (did you mean '{near}'?)"
    missing = _missing(err, (*prefix, *key))
    if missing:
        return ConfigError(missing, where=located.where((*prefix, *key)))
    return ConfigError(f"key '{name}': {message}", where=located.where((*prefix, *key)))


def _listed_twice(items: list[Any]) -> tuple[int, int] | None:
    """(first, again): the indices of the first value the list repeats, equal as JSON
    Schema's uniqueItems counts (1 and 1.0 alike, true and 1 not)."""
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        text = json.dumps(_json_equal_form(item), sort_keys=True, default=str)
        first = seen.setdefault(text, i)
        if first != i:
            return first, i
    return None


def _json_equal_form(value: Any) -> Any:
    """`value` with whole floats as ints, so equal JSON numbers serialize alike."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_json_equal_form(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_equal_form(v) for k, v in value.items()}
    return value


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
