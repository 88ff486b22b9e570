"""A trial's inputs, read and checked before anything is written: the data set's
records (a split that fits in memory parsed whole and kept by the reader for every
trial of the process), the model's schema (the regression label's statistics, the
numbers' bucket boundaries), a resumed trial's config and a starting model's features
against the data set's; then each epoch's batches, keyed as the model's inputs. The
trial loop (train.py) and a sweep worker's warm-up read them the same way."""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from tuner.errors import ConfigError
from tuner.tabular.data import reader
from tuner.tabular.data.schema import Schema
from tuner.tabular.model.build import Built
from tuner.tabular.model.config import dataset_schema, defaults
from tuner.trial import CONFIG


def same_features(model_schema: Schema, data_schema: Schema, where: Path) -> None:
    """A model to start from (`--init-from`) takes the data set's features and task."""

    def shape(s: Schema) -> list[tuple[str, str]]:
        return [(f.name, f.kind) for f in s.features]

    if shape(model_schema) != shape(data_schema) or model_schema.label.kind != (
        data_schema.label.kind
    ):
        raise ConfigError(
            "--init-from: the model was trained on different features or task than the data set",
            where=where,
            hint=f"model features {shape(model_schema)}",
        )


def warm_up(config: dict[str, Any]) -> None:
    """A sweep worker's head start (the objective's warm_up hook): the splits every trial
    of the sweep reads, parsed into the reader's cache while Ray schedules the first
    trial (the reader's lock makes a trial that starts meanwhile wait for this parse, not
    parse again)."""
    cfg = {**defaults(), **config, "batch_size": 1024}  # (only a streamed split batches)
    data_dir, schema = dataset_schema(cfg["dataset"])
    check_records(data_dir, schema, cfg)


def check_records(data_dir: Path, schema: Schema, cfg: dict[str, Any]) -> None:
    """Read both splits as training will: a split that fits in memory is parsed whole
    now (and kept for the epochs: no extra work), a streamed one has each shard's first
    record checked against the schema, so a corrupt or mismatched data set fails before
    any write."""
    for split in dict.fromkeys((cfg["train_split"], cfg["validation_split"])):
        size = sum((data_dir / f).stat().st_size for f in schema.splits[split].files)
        if size <= reader.MEMORY_BUDGET:
            reader.load_split(data_dir, split)
        else:
            with reader.reading(data_dir, split):
                reader.dataset(data_dir, split, batch_size=cfg["batch_size"], shuffle=False)


def with_label_stats(schema: Schema, data_dir: Path, split: str) -> Schema:
    """The schema with the regression label's mean and std, computed from the training
    split when the data set was converted before convert recorded them."""
    label = schema.label
    if label.kind != "regression" or label.mean is not None:
        return schema
    count, total, squares = 0, 0.0, 0.0
    with reader.reading(data_dir, split):
        for _, y in reader.dataset(data_dir, split, batch_size=1 << 16, shuffle=False):
            values = y.numpy().astype(np.float64)
            count, total = count + len(values), total + float(values.sum())
            squares += float(np.square(values).sum())
    mean = total / max(count, 1)
    std = math.sqrt(max(squares / max(count, 1) - mean * mean, 0.0))
    return replace(schema, label=replace(label, mean=mean, std=std))


def with_quantiles(schema: Schema, data_dir: Path, cfg: dict[str, Any]) -> Schema:
    """The schema with each number's bucket boundaries for numeric_buckets: quantiles of
    the training split (missing values left out; repeated boundaries, as of a column
    that is mostly 0, merged). Kept in the model's copy of the schema, so a resumed
    trial, an export and a rebuild cut at the same places."""
    count = int(cfg.get("numeric_buckets") or 0)
    numeric = [f for f in schema.features if f.kind == "numeric"]
    if count < 2 or not numeric or all(f.quantiles is not None for f in numeric):
        return schema
    cut = _quantiles(str(data_dir), cfg["train_split"], count, tuple(f.name for f in numeric))
    features = tuple(
        replace(f, quantiles=cut[f.name]) if f.name in cut and f.quantiles is None else f
        for f in schema.features
    )
    return replace(schema, features=features)


@functools.lru_cache(maxsize=8)
def _quantiles(
    data_dir: str, split: str, count: int, names: tuple[str, ...]
) -> dict[str, tuple[float, ...]]:
    """Each column's bucket boundaries, computed once per process for a data set (every
    trial of a sweep asks for the same ones)."""
    columns: dict[str, list[Any]] = {name: [] for name in names}
    with reader.reading(data_dir, split):
        for x, _ in reader.dataset(data_dir, split, batch_size=1 << 16, shuffle=False):
            for name, chunks in columns.items():
                chunks.append(x[name].numpy())
    levels = np.linspace(0.0, 1.0, count + 1)[1:-1]
    cut = {}
    for name, parts in columns.items():
        column = np.concatenate(parts).astype(np.float64)
        column = column[np.isfinite(column)]
        edges = np.unique(np.quantile(column, levels)) if column.size else np.array([0.0])
        cut[name] = tuple(float(e) for e in edges)
    return cut


def epoch_batches(data_dir: Path, cfg: dict[str, Any], epoch: int, built: Built) -> Any:
    """The training split's batches of `epoch`, keyed as the model's inputs: their order
    is a function of (seed, epoch), whichever process reads them."""
    ds = reader.dataset(
        data_dir,
        cfg["train_split"],
        batch_size=cfg["batch_size"],
        shuffle=True,
        seed=cfg["seed"],
        epoch=epoch,
    )
    return for_model(ds, built)


def validation_batches(data_dir: Path, cfg: dict[str, Any], built: Built) -> Any:
    """The validation split in file order, in batches of at least 1,024 rows."""
    ds = reader.dataset(
        data_dir, cfg["validation_split"], batch_size=max(cfg["batch_size"], 1024), shuffle=False
    )
    return for_model(ds, built)


def for_model(ds: Any, built: Built) -> Any:
    """The reader's batches (features keyed by column name) keyed as the model's inputs;
    as they are when every name is its own key."""
    if all(name == key for name, key in built.keys.items()):
        return ds
    return ds.map(lambda x, y: (built.renamed(x), y))


def check_same_config(trial_dir: Path, cfg: dict[str, Any]) -> None:
    """A resumed trial's config is the one its checkpoint was trained with (but for
    `epochs` and `workers`, which a resume may change)."""
    path = trial_dir / CONFIG
    if not path.exists():
        return
    before = yaml.safe_load(path.read_text()) or {}
    changed = sorted(
        k
        for k in set(before) | set(cfg)
        if k not in ("epochs", "workers") and before.get(k) != cfg.get(k)
    )
    if changed:
        raise ConfigError(
            f"the checkpoint here was trained with a different config ({', '.join(changed)})",
            where=trial_dir,
            hint="use --from-scratch to start over, or another --out",
        )
