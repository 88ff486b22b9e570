"""The documentation's references come from the code: the CLI page from the click app
(mkdocs-click), the format pages from the JSON Schemas (docs/hooks/schema_tables.py).
So a changed option help or schema description changes the page; `mkdocs build --strict`
(in .ci/run) checks the links and the nav."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def hook():
    spec = importlib.util.spec_from_file_location("schema_tables", DOCS / "hooks/schema_tables.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("page", "schema"),
    [
        ("reference/space-file.md", "space.schema.json"),
        ("reference/trial-config.md", "trial.schema.json"),
        ("reference/dataset.md", "dataset.schema.json"),
    ],
)
def test_a_format_page_is_its_schema_rendered(hook, page: str, schema: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    assert f"<!-- schema: {schema} -->" in text
    rendered = hook.on_page_markdown(text)
    assert "<!-- schema:" not in rendered
    published = json.loads((ROOT / "tuner/schemas" / schema).read_text(encoding="utf-8"))
    for key, prop in published["properties"].items():
        assert f"| `{key}`" in rendered, key
        if isinstance(prop, dict) and prop.get("description"):
            first = " ".join(prop["description"].split())[:40].replace("<", "&lt;")
            assert first.replace(">", "&gt;").replace("|", "\\|") in rendered, key


def test_a_changed_description_changes_the_page(hook, tmp_path: Path, monkeypatch) -> None:
    schema = {
        "description": "A test schema.",
        "properties": {
            "width": {"type": "integer", "minimum": 1, "default": 8, "description": "Units <n>."},
            "kind": {"enum": ["a", "b"], "description": "Which | one."},
            "dist": {"$ref": "#/$defs/dist"},
        },
        "required": ["width"],
        "$defs": {"dist": {"properties": {"low": {"type": "number", "description": "Low."}}}},
    }
    (tmp_path / "t.schema.json").write_text(json.dumps(schema))
    monkeypatch.setattr(hook, "SCHEMAS", tmp_path)
    page = hook.on_page_markdown("# T\n\n<!-- schema: t.schema.json -->\n")
    assert "| `width` (required) | integer ≥ 1 | `8` | Units &lt;n&gt;. |" in page
    assert '| `kind` | one of `"a"`, `"b"` |  | Which \\| one. |' in page
    assert "| `dist` | [`dist`](#def-dist) |" in page and "{ #def-dist }" in page
    schema["properties"]["width"]["description"] = "Neurons per layer."
    (tmp_path / "t.schema.json").write_text(json.dumps(schema))
    assert "Neurons per layer." in hook.on_page_markdown("<!-- schema: t.schema.json -->")


def test_a_marker_naming_no_schema_fails_the_build(hook) -> None:
    with pytest.raises(FileNotFoundError, match=r"nothing\.schema\.json"):
        hook.on_page_markdown("<!-- schema: nothing.schema.json -->")


def test_the_cli_page_is_the_click_app() -> None:
    """The page's directive, expanded by mkdocs-click, holds every verb and every
    option's help as the click app states it."""
    import markdown

    from tuner.cli.app import cli

    text = (DOCS / "reference/cli.md").read_text(encoding="utf-8")
    assert re.search(r"::: mkdocs-click\n\s+:module: tuner\.cli\.app\n\s+:command: cli", text)
    html = markdown.Markdown(extensions=["mkdocs-click", "fenced_code"]).convert(text)
    run = cli.commands["run"]
    assert isinstance(run, click.Command)
    headings = set(re.findall(r"<h\d>(\w+)</h\d>", html))
    assert set(cli.commands) <= headings, headings
    helps = [p.help for p in run.params if isinstance(p, click.Option) and p.help]
    assert helps
    for help_text in helps:
        words = " ".join(help_text.split()[:6])
        assert words.replace("<", "&lt;").replace(">", "&gt;") in html.replace("\n", " "), words


def test_every_page_is_in_the_nav() -> None:
    """(`mkdocs build --strict` fails on a page out of nav too; this says which, fast.)"""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if "hooks" not in p.parts}
    missing = sorted(p for p in pages if f": {p}" not in nav)
    assert not missing, missing
