"""The tabular objective's trial config: its JSON Schema, defaults, and the checks that
need the data set's schema (crosses name real categorical features, …).

Nothing here imports TensorFlow: a sweep checks every config before its first trial,
and `tune train` refuses a bad one in well under a second.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from tuner.errors import ConfigError
from tuner.space.yaml_file import Located, validate
from tuner.tabular.data.builtin import resolve
from tuner.tabular.data.schema import Schema, load_schema
from tuner.text import suggest

_SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "trial.schema.json"
OPTIMIZERS = ("sgd", "adadelta", "adagrad", "adam", "ftrl", "rmsprop")
MODELS = ("linear", "dnn", "wide_deep")
DEFAULT_WIDTH_SHRINK = 1.0


@cache
def trial_schema() -> dict[str, Any]:
    return json.loads(_SCHEMA_FILE.read_text())


def defaults() -> dict[str, Any]:
    return {k: v["default"] for k, v in trial_schema()["properties"].items() if "default" in v}


def validate_keys(config: dict[str, Any], where: str | None = None) -> None:
    """The schema check alone, for configs that did not come from a file."""

    located = Located(config)
    try:
        validate(located, trial_schema())
    except ConfigError as exc:
        raise ConfigError(exc.message, where=where or exc.where, hint=exc.hint) from None


def hidden_units(config: dict[str, Any]) -> list[int]:
    """The canonical layer list; `depth` + `width` (+ `shrink`) is shorthand for it."""
    if "hidden_units" in config:
        if "depth" in config or "width" in config:
            raise ConfigError(
                "give either hidden_units or depth + width, not both",
                hint=f"hidden_units={config['hidden_units']}",
            )
        return [int(u) for u in config["hidden_units"]]
    depth, width = config.get("depth"), config.get("width")
    if depth is None and width is None:
        return [128, 64, 32]
    if depth is None or width is None:
        raise ConfigError(
            f"'{'depth' if depth is None else 'width'}' is missing",
            hint="depth and width go together; or give hidden_units",
        )
    shrink = float(config.get("shrink", DEFAULT_WIDTH_SHRINK))
    return [max(1, math.floor(width * shrink**i + 0.5)) for i in range(depth)]


def dataset_schema(ref: str) -> tuple[Path, Schema]:
    """builtin:NAME (materialized on first use) or a converted directory → its schema."""

    directory = resolve(ref)
    return directory, load_schema(directory)


def parse_cross(cross: str | list[str]) -> list[str]:
    """'a x b' or [a, b] → the column names (names may hold spaces: 'native country x
    sex')."""
    parts = cross if isinstance(cross, list) else cross.split(" x ")
    return [part.strip() for part in parts if part.strip()]


def _check_cross_syntax(cfg: dict[str, Any], at: Callable[..., str | None]) -> None:
    """Every cross names at least two columns, none twice (JSON Schema's pattern message
    would be a raw regular expression)."""
    for i, cross in enumerate(cfg.get("crosses") or []):
        names = parse_cross(cross)
        shown = cross if isinstance(cross, str) else " x ".join(map(str, cross))
        if len(names) < 2:
            raise ConfigError(
                f"key 'crosses.{i}': '{shown}' names {len(names)} column"
                f"{'' if len(names) == 1 else 's'}; a cross needs at least two column names",
                where=at("crosses", i),
                hint="write it as 'education x occupation' (' x ' between names) "
                "or as a list [education, occupation]",
            )
        if len(set(names)) < len(names):
            raise ConfigError(
                f"key 'crosses.{i}': '{shown}' names a column twice",
                where=at("crosses", i),
                hint="a cross combines different columns",
            )


def prepare(
    config: dict[str, Any],
    where: str | None = None,
    locate: Callable[[tuple[str | int, ...]], str | None] | None = None,
) -> dict[str, Any]:
    """Check a config completely (schema, then against the data set) and return it with
    defaults filled in and layers in canonical form — what the trial actually runs.
    `locate(key path)` → 'file:line' lets errors point at the key's line."""

    def at(*key: str | int) -> str | None:
        return (locate(key) if locate else None) or where

    validate_keys(config, where)
    cfg = {**defaults(), **config}
    _check_cross_syntax(cfg, at)
    try:
        units = hidden_units(cfg)
    except ConfigError as exc:
        layer_key = next((k for k in ("hidden_units", "depth", "width") if k in config), "depth")
        raise ConfigError(exc.message, where=at(layer_key), hint=exc.hint) from None
    for key in ("depth", "width", "shrink"):
        cfg.pop(key, None)
    cfg["hidden_units"] = units
    _, schema = dataset_schema(cfg["dataset"])
    for split in (cfg["train_split"], cfg["validation_split"]):
        if split not in schema.splits:
            raise ConfigError(
                f"data set {cfg['dataset']} has no split '{split}'",
                where=at("validation_split" if split == cfg["validation_split"] else "train_split"),
                hint=f"it has {sorted(schema.splits)}",
            )
    categorical = [f.name for f in schema.features if f.kind == "categorical"]
    if cfg["model"] == "wide_deep":
        if "crosses" not in cfg:
            planted = schema.extra.get("crosses", [])
            cfg["crosses"] = [" x ".join(pair) for pair in planted]
        for i, cross in enumerate(cfg["crosses"]):
            for name in parse_cross(cross):
                if name not in categorical:
                    near = suggest(name, categorical)
                    raise ConfigError(
                        f"crosses: '{name}' (in '{cross}') is not a categorical feature of "
                        f"{cfg['dataset']}",
                        where=at("crosses", i),
                        hint=f"did you mean '{near}'?"
                        if near
                        else f"categorical features: {categorical}",
                    )
        cfg.setdefault("optimizer", "adagrad")
        cfg.setdefault("learning_rate", 0.05)
        if "wide_learning_rate" not in cfg:
            columns = len(categorical) + len(cfg["crosses"]) + len(schema.features)
            cfg["wide_learning_rate"] = round(min(0.2, 1 / math.sqrt(max(1, columns))), 6)
    else:
        for key in ("crosses", "hash_buckets", "wide_optimizer", "wide_learning_rate"):
            cfg.pop(key, None)
        cfg.setdefault("optimizer", "adam")
        cfg.setdefault("learning_rate", 0.001)
    if schema.label.kind != "multiclass":
        cfg.pop("top_k", None)
    return cfg


def metric_names(config: dict[str, Any]) -> frozenset[str]:
    """What a trial with this config reports every epoch."""
    _, schema = dataset_schema(config["dataset"])
    quality = {
        "binary": ("loss", "accuracy", "auc"),
        "multiclass": ("loss", "accuracy", "top_k_accuracy"),
        "regression": ("loss", "rmse", "mae"),
    }[schema.label.kind]
    names = {*quality, *(f"val_{q}" for q in quality)}
    names |= {"examples_per_sec", "epoch_time", "learning_rate"}
    names |= {"params", "model_bytes", "predict_ms"}  # the model's cost (train.py)
    if config.get("model") == "wide_deep":
        names.add("wide_learning_rate")
    return frozenset(names)
