"""The YAML loader under every config file (`tuner.space.yaml_file`), tested directly:
the line of every key and list item and `Located.where` (nearest written parent, --set
origins), documents that are empty, not a mapping, several or invalid, duplicate keys
inside lists and numbers written alike, YAML 1.2 exponent numbers in both loaders,
`read_text`'s encodings (UTF-16 with either byte-order mark, a broken one, a NUL or a bad
byte on a later line), `load_yaml`, `validate`'s one-line messages on a small schema
(unknown keys, enums, required keys, `anyOf`, a pruner's option, bounds, the shallowest
error first, NaN before the schema), `check_finite`, `parse_override`, `suggest`,
`dump_yaml`.

tests/space/test_load.py covers the same module through whole space files (the common
encodings, duplicates at the top and in a mapping, merge keys, NaN in a space file) and
tests/tabular/model/test_config.py `parse_override`'s typing by the trial schema; these
tests add what neither reaches, on a few lines of text each.
"""

from __future__ import annotations

import codecs
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from tuner.errors import ConfigError
from tuner.space.yaml_file import (
    FastLoader,
    Loader,
    Located,
    check_finite,
    dump_yaml,
    load_yaml,
    parse_override,
    parse_yaml,
    read_text,
    suggest,
    validate,
)

FILE = Path("conf.yaml")


def refused(text: str, path: Path | None = FILE) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, path)
    return info.value


# ----------------------------------------------------------------------------- lines and where

NESTED = """\
a:
  b: 1
  c:
    - x
    - {d: 2}
list:
- 1
- 2
"""


def test_every_key_and_list_item_has_its_line() -> None:
    located = parse_yaml(NESTED, FILE)

    assert located.lines == {
        ("a",): 1,
        ("a", "b"): 2,
        ("a", "c"): 3,
        ("a", "c", 0): 4,
        ("a", "c", 1): 5,
        ("a", "c", 1, "d"): 5,
        ("list",): 6,
        ("list", 0): 7,
        ("list", 1): 8,
    }
    assert located.data == {"a": {"b": 1, "c": ["x", {"d": 2}]}, "list": [1, 2]}


@pytest.mark.parametrize(
    ("key", "where"),
    [
        (("a", "c", 1, "d"), "conf.yaml:5"),
        (("list", 1), "conf.yaml:8"),
        (("a", "missing"), "conf.yaml:1"),  # a key not written: its parent's line
        (("a", "c", 7, "e"), "conf.yaml:3"),
        (("nowhere",), "conf.yaml"),
        ((), "conf.yaml"),
    ],
)
def test_where_names_the_key_or_its_nearest_written_parent(
    key: tuple[str | int, ...], where: str
) -> None:
    assert parse_yaml(NESTED, FILE).where(key) == where


def test_where_is_unknown_for_text_without_a_file() -> None:
    assert parse_yaml(NESTED).where(("a", "b")) is None


def test_an_override_is_placed_where_it_was_given() -> None:
    located = parse_yaml("rate: 0.5\nsize: 2\n", FILE)

    located.override("size", {"inner": 3}, "--set size={inner: 3}")

    assert located.data == {"rate": 0.5, "size": {"inner": 3}}
    assert located.where(("size",)) == "--set size={inner: 3}"
    assert located.where(("size", "inner")) == "--set size={inner: 3}"
    assert located.where(("rate",)) == "conf.yaml:1"
    assert ("size",) not in located.lines


def test_an_origin_names_a_key_even_without_a_file() -> None:
    located = Located({"a": 1})
    located.override("a", 2, "--set a=2")

    assert located.where(("a",)) == "--set a=2"
    assert located.where(("b",)) is None


# ----------------------------------------------------------------------------- documents


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n", "--- # nothing\n...\n"])
def test_an_empty_document_is_an_empty_mapping(text: str) -> None:
    located = parse_yaml(text, FILE)

    assert located.data == {} and located.lines == {}


@pytest.mark.parametrize(
    ("text", "kind"), [("- 1\n- 2\n", "list"), ("just text\n", "str"), ("42\n", "int")]
)
def test_a_top_level_that_is_not_a_mapping_is_refused(text: str, kind: str) -> None:
    error = refused(text)

    assert error.message == f"the top level is a {kind}"
    assert (error.where, error.hint) == ("conf.yaml:1", "expected a mapping")
    assert refused(text, None).where == "config:1"


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        ("a: 1\n---\nb: 2\n", "not valid YAML: but found another document", "conf.yaml:2"),
        ("a: [1, 2\nb: 3\n", "not valid YAML: did not find expected ',' or ']'", "conf.yaml:2"),
        ("a: *nowhere\n", "not valid YAML: found undefined alias", "conf.yaml:1"),
        (
            "a: 1\nb: !!python/object/apply:os.system [ls]\n",
            "not valid YAML: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object/apply:os.system'",
            "conf.yaml:2",
        ),
    ],
    ids=["two-documents", "unclosed-list", "undefined-alias", "python-tag"],
)
def test_text_that_is_not_one_yaml_document_is_one_line_with_its_line(
    text: str, message: str, where: str
) -> None:
    error = refused(text)

    assert (error.message, error.where) == (message, where)


# ----------------------------------------------------------------------------- duplicate keys


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("items:\n  - {a: 1, a: 2}\n", "key 'items.0.a' is written twice, on lines 2 and 2"),
        ("a:\n  - b: 1\n    b: 2\n", "key 'a.0.b' is written twice, on lines 2 and 3"),
        (
            "x: 0\nouter:\n  inner:\n    k: 1\n    k: 2\n",
            "key 'outer.inner.k' is written twice, on lines 4 and 5",
        ),
        ("1: a\n1.0: b\n", "key '1.0' is written twice, on lines 1 and 2"),
        ("p: {x: {k: 1}, k: 2, k: 3}\n", "key 'p.k' is written twice, on lines 1 and 1"),
        ("f: {1: a, true: b}\n", "key 'f.true' is written twice, on lines 1 and 1"),
    ],
    ids=[
        "in-a-flow-list-item",
        "in-a-block-list-item",
        "deep",
        "numbers-written-alike",
        "the-same-name-deeper-on-its-line",
        "a-number-and-a-boolean-alike",
    ],
)
def test_a_duplicate_key_is_named_by_its_full_path_and_both_lines(text: str, message: str) -> None:
    error = refused(text)

    assert error.message == message
    assert error.where == f"conf.yaml:{message.rsplit(' ', 1)[1]}"
    assert error.hint == "keep one; YAML would silently use the later"


def test_the_same_key_in_two_mappings_is_no_duplicate() -> None:
    located = parse_yaml("a: {b: 1}\nc: {b: 2}\nd: [{b: 3}, {b: 4}]\n", FILE)

    assert located.data == {"a": {"b": 1}, "c": {"b": 2}, "d": [{"b": 3}, {"b": 4}]}


@pytest.mark.parametrize("text", ["? [a, b]\n: 1\n", "[a, b]: 1\n", "? {a: 1}\n: 2\n"])
def test_a_collection_as_a_key_is_one_line_not_a_traceback(text: str) -> None:
    assert refused(text).message.startswith("not valid YAML")


def test_a_number_key_and_a_boolean_key_lose_no_value() -> None:
    try:
        data = parse_yaml("1: a\ntrue: b\n", FILE).data
    except ConfigError:
        return  # refused as written twice: fine too
    assert len(data) == 2


@pytest.mark.parametrize("loader", sorted({Loader, FastLoader}, key=lambda c: c.__name__))
def test_both_loaders_refuse_a_duplicate_key(loader: type) -> None:
    with pytest.raises(yaml.MarkedYAMLError, match="key 'a' is written twice"):
        yaml.load("a: 1\nb: 2\na: 3\n", Loader=loader)


# ----------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("loader", sorted({Loader, FastLoader}, key=lambda c: c.__name__))
def test_exponent_numbers_are_floats_as_in_yaml_1_2(loader: type) -> None:
    data = yaml.load(
        "a: 1e-4\nb: 1E3\nc: 1.5e+2\nd: -2e-1\ne: '1e-4'\nf: 1e\ng: e5\nh: 10\n", Loader=loader
    )

    assert data == {
        "a": 1e-4,
        "b": 1000.0,
        "c": 150.0,
        "d": -0.2,
        "e": "1e-4",  # quoted: text
        "f": "1e",
        "g": "e5",
        "h": 10,
    }
    assert [type(data[k]) for k in "abcdh"] == [float, float, float, float, int]


# ----------------------------------------------------------------------------- read_text, load_yaml


@pytest.mark.parametrize(
    "raw",
    [
        codecs.BOM_UTF16_LE + "a: é\n".encode("utf-16-le"),
        codecs.BOM_UTF16_BE + "a: é\n".encode("utf-16-be"),
        codecs.BOM_UTF8 + "a: é\n".encode(),
    ],
    ids=["utf-16-le", "utf-16-be", "utf-8-sig"],
)
def test_a_byte_order_mark_is_read_and_dropped(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(raw)

    assert read_text(path) == "a: é\n"


@pytest.mark.parametrize(
    ("raw", "message", "line"),
    [
        (
            codecs.BOM_UTF16_LE + "a: ".encode("utf-16-le") + b"\x00\xd8",  # a lone surrogate
            "not UTF-16 text despite its byte-order mark (byte offset 8)",
            None,
        ),
        (
            b"a: 1\nb: \x00\n",
            "not UTF-8 text: binary data (a NUL byte on line 2, byte offset 8)",
            None,
        ),
        (b"a: 1\nb: 2\nc: \xff\n", "not UTF-8 text: byte 0xff on line 3 (byte offset 13)", 3),
    ],
    ids=["broken-utf-16", "nul-on-line-2", "bad-byte-on-line-3"],
)
def test_bytes_that_are_not_the_text_they_claim_name_the_first_bad_byte(
    tmp_path: Path, raw: bytes, message: str, line: int | None
) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(raw)

    with pytest.raises(ConfigError) as info:
        read_text(path)

    assert info.value.message == message
    assert info.value.where == (f"{path}:{line}" if line else str(path))
    assert info.value.hint


def test_an_unreadable_path_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        read_text(tmp_path / "missing.yaml")

    assert info.value.message == "cannot read it: No such file or directory"
    assert info.value.where == str(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("name", "message", "hint"),
    [("missing.yaml", "no such file", None), ("", "is a directory", "expected a YAML file")],
)
def test_load_yaml_refuses_a_missing_file_or_a_directory(
    tmp_path: Path, name: str, message: str, hint: str | None
) -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml(tmp_path / name)

    assert (info.value.message, info.value.hint) == (message, hint)


def test_load_yaml_keeps_the_files_path_for_its_messages(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("a:\n  b: 1\n")

    located = load_yaml(str(path))

    assert located.data == {"a": {"b": 1}}
    assert located.where(("a", "b")) == f"{path}:2"


# ----------------------------------------------------------------------------- validate

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["rate"],
    "properties": {
        "rate": {"type": "number", "minimum": 0, "maximum": 1},
        "size": {"type": "integer", "minimum": 1},
        "kind": {"enum": ["adam", "sgd"]},
        "level": {"enum": [1, 2]},
        "nested": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"deep": {"type": "boolean"}},
        },
        "pruner": {
            "type": "object",
            "properties": {"type": {"type": "string"}, "lower": {"type": "number"}},
            "required": ["lower"],
        },
        "either": {"type": "object", "anyOf": [{"required": ["a"]}, {"required": ["b"]}]},
    },
}


def invalid(text: str, schema: dict[str, Any] = SCHEMA) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        validate(parse_yaml(text, FILE), schema)
    return info.value


def test_a_valid_file_passes() -> None:
    validate(parse_yaml("rate: 0.5\nsize: 2\nkind: sgd\nnested: {deep: true}\n", FILE), SCHEMA)


@pytest.mark.parametrize(
    ("text", "message", "where", "hint"),
    [
        ("rate: 0.5\nsise: 2\n", "unknown key 'sise'", "conf.yaml:2", "did you mean 'size'?"),
        (
            "rate: 0.5\nzzzz: 2\n",
            "unknown key 'zzzz'",
            "conf.yaml:2",
            "expected one of ['either', 'kind', 'level', 'nested', 'pruner', 'rate', 'size']",
        ),
        (
            "rate: 0.5\nnested:\n  dep: true\n",
            "unknown key 'dep'",
            "conf.yaml:3",
            "did you mean 'deep'?",
        ),
    ],
    ids=["near", "far", "nested"],
)
def test_an_unknown_key_is_named_with_its_line_and_the_nearest_known_one(
    text: str, message: str, where: str, hint: str
) -> None:
    error = invalid(text)

    assert (error.message, error.where, error.hint) == (message, where, hint)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rate: 0.5\nkind: adm\n",
            "key 'kind': 'adm' is not one of ['adam', 'sgd'] (did you mean 'adam'?)",
        ),
        ("rate: 0.5\nkind: zzz\n", "key 'kind': 'zzz' is not one of ['adam', 'sgd']"),
        ("rate: 0.5\nlevel: 3\n", "key 'level': 3 is not one of [1, 2]"),
        ("rate: 2\n", "key 'rate': 2 is greater than the maximum of 1"),
        ("rate: 0.5\nnested: {deep: 3}\n", "key 'nested.deep': 3 is not of type 'boolean'"),
        (
            "rate: 0.5\npruner: {type: threshold}\n",
            "pruner 'threshold' needs option 'lower' (a number)",
        ),
        ("rate: 0.5\neither: {}\n", "key 'either' needs 'a' or 'b'"),
    ],
    ids=[
        "enum-near",
        "enum-far",
        "enum-numbers",
        "maximum",
        "nested-type",
        "pruner-option",
        "any-of",
    ],
)
def test_a_schema_error_is_one_plain_line(text: str, message: str) -> None:
    assert invalid(text).message == message


def test_a_missing_key_says_what_it_expects_and_names_the_file() -> None:
    error = invalid("size: 2\n")

    assert error.message == "key 'rate' is required (a number in [0, 1])"
    assert error.where == "conf.yaml"


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "integer", "minimum": 1}, "a whole number ≥ 1"),
        ({"type": "number", "exclusiveMinimum": 0}, "a number > 0"),
        ({"type": "string"}, "text"),
        ({"type": "boolean"}, "true or false"),
        ({"type": "array"}, "a list"),
        ({"type": "object"}, "a mapping"),
        ({"enum": ["a", "b"]}, "one of ['a', 'b']"),
    ],
)
def test_a_missing_key_describes_its_schema(schema: dict[str, Any], expected: str) -> None:
    wanted = {"type": "object", "required": ["k"], "properties": {"k": schema}}

    assert invalid("other: 1\n", wanted).message == f"key 'k' is required ({expected})"


def test_a_missing_key_of_an_undescribed_kind_is_just_required() -> None:
    wanted = {"type": "object", "required": ["k"], "properties": {"k": {"anyOf": []}}}

    assert invalid("other: 1\n", wanted).message == "key 'k' is required"


def test_the_shallowest_error_is_the_one_reported() -> None:
    error = invalid("rate: 0.5\nnested: {deep: 3}\nsize: 0\n")

    assert error.message == "key 'size': 0 is less than the minimum of 1"
    assert error.where == "conf.yaml:3"


def test_validate_refuses_a_non_finite_number_the_schema_would_pass() -> None:
    error = invalid("rate: 0.5\nsize: 1\nnested: {}\nextra_list: [1, .inf]\n", {"type": "object"})

    assert error.message == "key 'extra_list.1': inf is not a finite number"
    assert error.where == "conf.yaml:4"


# ----------------------------------------------------------------------------- check_finite


def test_check_finite_names_the_key_path_of_a_nan_or_inf() -> None:
    located = Located({"a": [1, {"b": -math.inf}]}, FILE)

    with pytest.raises(ConfigError) as info:
        check_finite(located, located.data)

    assert info.value.message == "key 'a.1.b': -inf is not a finite number"
    assert info.value.hint == "expected a finite number"


def test_check_finite_names_a_bare_value_the_top_level() -> None:
    with pytest.raises(ConfigError, match=r"key '\(top level\)': nan is not a finite number"):
        check_finite(Located({}), math.nan)


def test_check_finite_passes_finite_numbers_booleans_and_text() -> None:
    check_finite(Located({}), {"a": [1, 2.5, True, "nan", None, {"b": -1e308}]})


# ----------------------------------------------------------------------------- parse_override


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("a=[1,", "a", "[1,"),  # YAML cannot read it: kept as written
        ("a=", "a", ""),
        ("a=   ", "a", ""),
        ("a=b=c", "a", "b=c"),  # split at the first '='
        ("a={b: 1}", "a", {"b": 1}),
        ("kind=true", "kind", "true"),  # an enum of text keeps the text
        ("rate=.5", "rate", 0.5),
        ("rate=abc", "rate", "abc"),  # left for validate to refuse
        ("level=2", "level", 2),
    ],
)
def test_an_override_value_is_read_as_yaml_and_typed_by_its_key(
    text: str, key: str, value: Any
) -> None:
    open_schema = {"properties": SCHEMA["properties"]}  # other keys allowed

    assert parse_override(text, open_schema) == (key, value)


def test_any_key_may_be_overridden_when_the_schema_allows_other_keys() -> None:
    assert parse_override("anything=3", {"properties": {}}) == ("anything", 3)


def test_an_unknown_override_key_far_from_any_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        parse_override("zzzz=1", SCHEMA)

    assert info.value.message == "--set: unknown key 'zzzz'"
    assert (info.value.hint or "").startswith("expected one of ['either', 'kind'")


# ----------------------------------------------------------------------------- suggest, dump_yaml


@pytest.mark.parametrize(
    ("word", "choices", "expected"),
    [
        ("adm", ["sgd", "adam"], "adam"),
        ("Adam", {"adam"}, "adam"),
        ("xyz", ("adam", "sgd"), None),
        ("rate", [], None),
    ],
)
def test_suggest_gives_the_nearest_choice_or_none(
    word: str, choices: list[str] | set[str] | tuple[str, ...], expected: str | None
) -> None:
    assert suggest(word, choices) == expected


def test_dump_yaml_keeps_the_key_order_and_reads_back(tmp_path: Path) -> None:
    data = {"z": 1, "a": [1, 2], "m": {"k": "v", "f": 1e-4}}

    path = dump_yaml(data, tmp_path / "out.yaml")

    assert path == tmp_path / "out.yaml"
    assert [line.split(":")[0] for line in path.read_text().splitlines()] == ["z", "a", "m"]
    assert load_yaml(path).data == data
