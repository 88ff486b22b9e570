"""Built-in data sets, so that the shipped search spaces run with no download.

Each is generated or loaded from a package already installed, converted once into the
cache directory with a fixed train/validation split, and reused from then on.
`builtin:NAME` anywhere a data set path is accepted resolves here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tuner.errors import DataError
from tuner.tabular.data.table import Table

PREFIX = "builtin:"
SPLIT_SEED = 0
VALIDATION_FRACTION = 0.2


def cache_dir() -> Path:
    root = os.environ.get("TUNER_CACHE_DIR") or Path.home() / ".cache" / "tuner"
    return Path(root).absolute() / "datasets"


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def breast_cancer() -> Table:
    """scikit-learn's bundled Wisconsin diagnostic data: 569 rows, 30 numeric features."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    table = Table(source="builtin:breast_cancer", label_name="diagnosis")
    for j, name in enumerate(bunch.feature_names):
        table.numeric[_snake(name)] = bunch.data[:, j].astype(np.float64)
        table.order.append(_snake(name))
    table.labels = np.array([bunch.target_names[t] for t in bunch.target], dtype=object)
    table.lines = np.arange(1, len(bunch.target) + 1)
    return table


# Census-like columns: name → categories (most common first).
_CATEGORIES = {
    "workclass": ["Private", "Self-emp", "Local-gov", "State-gov", "Federal-gov", "Without-pay"],
    "education": [
        "HS-grad",
        "Some-college",
        "Bachelors",
        "Masters",
        "Assoc-voc",
        "11th",
        "Assoc-acdm",
        "10th",
        "7th-8th",
        "Prof-school",
        "9th",
        "12th",
        "Doctorate",
        "5th-6th",
        "1st-4th",
        "Preschool",
    ],
    "marital_status": ["Married", "Never-married", "Divorced", "Separated", "Widowed"],
    "occupation": [
        "Prof-specialty",
        "Craft-repair",
        "Exec-managerial",
        "Adm-clerical",
        "Sales",
        "Other-service",
        "Machine-op-inspct",
        "Transport-moving",
        "Handlers-cleaners",
        "Farming-fishing",
        "Tech-support",
        "Protective-serv",
        "Priv-house-serv",
        "Armed-Forces",
    ],
    "relationship": ["Husband", "Not-in-family", "Own-child", "Unmarried", "Wife"],
    "sex": ["Male", "Female"],
    "region": ["North", "South", "East", "West", "Central", "Coast", "Islands", "Abroad"],
}
CENSUS_CROSSES = [
    ["education", "occupation"],
    ["marital_status", "relationship"],
    ["region", "workclass"],
]


def census_synthetic(rows: int = 15_000, seed: int = 1996) -> Table:
    """Census-like rows whose label depends on planted feature crosses.

    Each cell of education × occupation, marital_status × relationship and
    region × workclass carries its own random effect on the log-odds, on top of small
    main effects, so a wide part with those crosses learns what a plain DNN must
    discover through its hidden layers.
    """
    rng = np.random.default_rng(seed)
    table = Table(source="builtin:census_synthetic", label_name="income")
    codes = {}
    for name, cats in _CATEGORIES.items():
        weights = 1.0 / np.arange(1, len(cats) + 1) ** 0.8
        codes[name] = rng.choice(len(cats), size=rows, p=weights / weights.sum())
    age = np.clip(rng.normal(39, 13, rows), 17, 90).round()
    hours = np.clip(rng.normal(40, 12, rows), 1, 99).round()
    gain = np.where(rng.random(rows) < 0.9, 0.0, rng.lognormal(8, 1.2, rows)).round()

    logit = -1.0 + 0.035 * (age - 39) - 0.0012 * (age - 39) ** 2 + 0.025 * (hours - 40)
    logit += 0.25 * np.log1p(gain) / 3
    for name in _CATEGORIES:
        logit += rng.normal(0, 0.3, len(_CATEGORIES[name]))[codes[name]]
    for a, b in CENSUS_CROSSES:
        effect = rng.normal(0, 1.6, (len(_CATEGORIES[a]), len(_CATEGORIES[b])))
        logit += effect[codes[a], codes[b]]
    label = rng.random(rows) < 1 / (1 + np.exp(-logit))

    table.numeric["age"] = age
    table.numeric["hours_per_week"] = np.where(rng.random(rows) < 0.01, np.nan, hours)
    table.numeric["capital_gain"] = gain
    for name, cats in _CATEGORIES.items():
        values = np.array(cats, dtype=object)[codes[name]]
        if name in ("workclass", "occupation"):
            values[rng.random(rows) < 0.02] = ""
        table.categorical[name] = values
    table.order = [
        "age",
        "workclass",
        "education",
        "marital_status",
        "occupation",
        "relationship",
        "sex",
        "region",
        "hours_per_week",
        "capital_gain",
    ]
    table.labels = np.where(label, ">50K", "<=50K").astype(object)
    table.lines = np.arange(1, rows + 1)
    return table


BUILTINS: dict[str, tuple[int, Callable[[], Table], dict]] = {
    # name → (version, generator, extra schema info); a new version is a new cache folder
    # (2: shard fingerprints, which let the reader read shards in bulk)
    "breast_cancer": (2, breast_cancer, {}),
    "census_synthetic": (2, census_synthetic, {"crosses": CENSUS_CROSSES}),
}


def is_builtin(ref: str | Path) -> bool:
    return str(ref).startswith(PREFIX)


def resolve(ref: str | Path) -> Path:
    """A data set reference (`builtin:NAME` or a directory) → a converted data set."""
    if not is_builtin(ref):
        return Path(ref).absolute()
    name = str(ref)[len(PREFIX) :]
    if name not in BUILTINS:
        raise DataError(
            f"unknown built-in data set '{name}'", hint=f"expected one of {sorted(BUILTINS)}"
        )
    version, make, extra = BUILTINS[name]
    out = cache_dir() / f"{name}-v{version}"
    if (out / "schema.json").exists():
        return out
    from tuner.tabular.data.convert import _split, write_dataset

    table = make()
    tables = _split(table, VALIDATION_FRACTION, SPLIT_SEED)
    try:
        write_dataset(
            tables,
            out,
            source_format="builtin",
            extra={"builtin": name, "version": version, **extra},
        )
    except (DataError, OSError):
        if not (out / "schema.json").exists():  # not a lost race with another process
            raise
    return out
