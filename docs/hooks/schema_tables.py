"""MkDocs hook: the format references are the published JSON Schemas, rendered.

A page line `<!-- schema: space.schema.json -->` becomes the schema's title, its
description and one table per object (its keys, what each takes, its default and its
description), read from tuner/schemas/ at build time. Changing a description in a
schema changes the page; nothing is written twice by hand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parents[2] / "tuner" / "schemas"
MARKER = re.compile(r"^<!--\s*schema:\s*(?P<file>[\w.-]+\.json)\s*-->\s*$", re.MULTILINE)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs event: expand every schema marker of a page."""
    return MARKER.sub(lambda m: render(load(m.group("file"))), markdown)


def load(file: str) -> dict[str, Any]:
    path = SCHEMAS / file
    if not path.is_file():  # a marker naming no schema fails the (strict) build
        raise FileNotFoundError(f"schema marker names {file}, not in {SCHEMAS}")
    return json.loads(path.read_text(encoding="utf-8"))


def render(schema: dict[str, Any]) -> str:
    """Markdown for a whole schema: its top-level keys, then each definition that is an
    object with keys of its own (a sampler's options, a distribution, ...)."""
    tables = _Tables(schema)
    parts = []
    if schema.get("description"):
        parts.append(_cell(schema["description"], table=False))
    parts.append(tables.table(schema))
    for name in tables.sections:
        sub = schema["$defs"][name]
        text = [f"### `{name}` {{ #def-{name} }}"]
        if sub.get("description"):
            text.append(_cell(sub["description"], table=False))
        text.append(tables.table(sub))
        parts.append("\n\n".join(text))
    return "\n\n".join(parts) + "\n"


class _Tables:
    """The tables of one schema: `$ref`s to a definition with keys link to its section;
    any other `$ref` is described where it is used."""

    def __init__(self, root: dict[str, Any]):
        self.root = root
        self.sections = [  # the definitions with keys of their own (not `true` only)
            name
            for name, sub in root.get("$defs", {}).items()
            if isinstance(sub, dict)
            and any(isinstance(p, dict) for p in sub.get("properties", {}).values())
        ]

    def table(self, schema: dict[str, Any]) -> str:
        lines = ["| key | takes | default | description |", "|---|---|---|---|"]
        return "\n".join([*lines, *self.rows(schema, "")])

    def rows(self, schema: Any, prefix: str) -> list[str]:
        """One row per property, nested objects' keys dotted after their parent's row.
        Properties given as `true` (allowed, described elsewhere) are left out."""
        if not isinstance(schema, dict):
            return []
        required = set(schema.get("required", []))
        rows = []
        for key, prop in schema.get("properties", {}).items():
            if not isinstance(prop, dict):
                continue
            name = f"{prefix}{key}"
            mark = " (required)" if key in required else ""
            default = f"`{json.dumps(prop['default'])}`" if "default" in prop else ""
            description = _cell(prop.get("description", ""))
            rows.append(f"| `{name}`{mark} | {self.takes(prop)} | {default} | {description} |")
            rows.extend(self.rows(prop, f"{name}."))
        return rows

    def takes(self, prop: dict[str, Any], depth: int = 0) -> str:
        """What a key takes, in a few words: its type, values, bounds or definition."""
        if "$ref" in prop:
            ref = prop["$ref"]
            name = ref.rsplit("/", 1)[-1]
            if ref == f"#/$defs/{name}" and name in self.sections:
                return f"[`{name}`](#def-{name})"
            target: Any = self.root
            for part in ref.removeprefix("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            return self.takes(target, depth + 1) if depth < 5 and target else f"`{name}`"
        return _takes(prop, lambda p: self.takes(p, depth + 1))


def _takes(prop: dict[str, Any], inner: Callable[[dict[str, Any]], str]) -> str:
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    for combine in ("oneOf", "anyOf"):
        if combine in prop:
            kinds = [inner(p) for p in prop[combine] if isinstance(p, dict)]
            kinds = [k for k in kinds if k]
            if kinds:
                return " or ".join(dict.fromkeys(kinds))
    kind = prop.get("type", "")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array" and isinstance(prop.get("items"), dict):
        item = inner(prop["items"])
        kind = f"list of {item}" if item else "list"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        kind = f"mapping of name → {inner(prop['additionalProperties'])}"
    bounds = [
        f"{symbol} {prop[word]}"
        for word, symbol in (
            ("minimum", "≥"),
            ("exclusiveMinimum", ">"),
            ("maximum", "≤"),
            ("exclusiveMaximum", "<"),
        )
        if word in prop
    ]
    if "examples" in prop:
        bounds.append("e.g. " + ", ".join(f"`{json.dumps(v)}`" for v in prop["examples"][:4]))
    return " ".join([kind, *bounds]).strip()


def _cell(text: str, table: bool = True) -> str:
    """One line of text as Markdown shows it as written (`results/<name>/` is no tag)."""
    text = " ".join(str(text).split()).replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|") if table else text
