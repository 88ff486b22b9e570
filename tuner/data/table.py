"""Typed columns in memory, between a source file and the TFRecord writer.

Sources (CSV, LIBSVM, built-in generators) produce a `Table`; the schema is derived from
the training table alone, and a validation table is then encoded against that schema, so
vocabularies, statistics, label classes and dimensions never leak from validation data.
Kept free of TensorFlow so that bad input is caught before TensorFlow is imported.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from tuner.data.schema import Feature, Label, LabelKind
from tuner.errors import DataError

# Values (after stripping white space) that mean "no value" in a CSV cell.
MISSING_TOKENS = frozenset({"", "?", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"})


@dataclass
class SparseColumn:
    """LIBSVM features in CSR form: row i holds ids[indptr[i]:indptr[i+1]] (0-based)."""

    indptr: np.ndarray  # int64, len rows + 1
    ids: np.ndarray  # int64
    values: np.ndarray  # float32
    dimension: int


@dataclass
class Table:
    """One split of a data set: feature columns, the label column and where rows came from.

    Numeric columns are float64 with NaN for missing; categorical columns are object arrays
    of str with "" for missing. `labels` holds the raw label values (str or float) until
    `encode_labels` turns them into class indices or floats.
    """

    source: str
    numeric: dict[str, np.ndarray] = field(default_factory=dict)
    categorical: dict[str, np.ndarray] = field(default_factory=dict)
    sparse: dict[str, SparseColumn] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # feature names in source order
    label_name: str = "label"
    labels: np.ndarray | None = None
    lines: np.ndarray | None = None  # source line number of each row, for error messages

    @property
    def rows(self) -> int:
        return 0 if self.labels is None else len(self.labels)

    def where(self, row: int) -> str:
        line = int(self.lines[row]) if self.lines is not None else row + 1
        return f"{self.source}:{line}"

    def take(self, index: np.ndarray) -> Table:
        """The rows at `index`, in that order (sparse columns are not split this way)."""
        if self.sparse:
            raise DataError("a random --split is supported for CSV sources only", where=self.source)
        return Table(
            source=self.source,
            numeric={k: v[index] for k, v in self.numeric.items()},
            categorical={k: v[index] for k, v in self.categorical.items()},
            order=list(self.order),
            label_name=self.label_name,
            labels=None if self.labels is None else self.labels[index],
            lines=None if self.lines is None else self.lines[index],
        )


def numeric_feature(name: str, values: np.ndarray) -> Feature:
    present = values[~np.isnan(values)]
    missing = int(len(values) - len(present))
    if len(present) == 0:
        return Feature(name, "numeric", mean=0.0, std=0.0, min=0.0, max=0.0, missing=missing)
    return Feature(
        name,
        "numeric",
        mean=float(present.mean()),
        std=float(present.std()),
        min=float(present.min()),
        max=float(present.max()),
        missing=missing,
    )


def categorical_feature(name: str, values: np.ndarray) -> Feature:
    counts = Counter(v for v in values.tolist() if v != "")
    vocabulary = tuple(v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return Feature(name, "categorical", vocabulary=vocabulary, missing=int((values == "").sum()))


def derive_features(table: Table) -> tuple[Feature, ...]:
    """Schema features from a training table, in source order."""
    out = []
    for name in table.order:
        if name in table.numeric:
            out.append(numeric_feature(name, table.numeric[name]))
        elif name in table.categorical:
            out.append(categorical_feature(name, table.categorical[name]))
        else:
            col = table.sparse[name]
            out.append(
                Feature(name, "sparse", dimension=col.dimension, ids_key="ids", values_key="values")
            )
    return tuple(out)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def derive_label(table: Table, task: LabelKind | None) -> Label:
    """Infer the task from the training labels unless `task` says it.

    Text labels are classes; numbers with exactly two distinct values are binary;
    other numbers are regression. Classes are sorted so that index 1 is the "positive"
    one for 0/1 and no/yes style labels, and `--label-map` can rename them first.
    """
    raw = table.labels
    assert raw is not None
    distinct = sorted(set(raw.tolist()))
    numeric = all(isinstance(v, float) or _is_number(v) for v in distinct)
    if task is None:
        if numeric and len({float(v) for v in distinct}) > 2:
            task = "regression"
        else:
            task = "binary" if len(distinct) == 2 else "multiclass"
    if task == "regression":
        if not numeric:
            bad = next(v for v in distinct if not _is_number(v))
            row = int(np.flatnonzero(raw == bad)[0])
            raise DataError(
                f"label '{table.label_name}': '{bad}' is not a number",
                where=table.where(row),
                hint="a regression label must be numeric",
            )
        return Label(table.label_name, "regression")
    if numeric:
        distinct = sorted(distinct, key=float)
        classes = tuple(_number_text(v) for v in distinct)
    else:
        classes = tuple(str(v) for v in distinct)
    if len(classes) < 2:
        raise DataError(
            f"label '{table.label_name}' has a single value '{classes[0]}' in the training data",
            where=table.source,
            hint="a classification label needs at least two classes",
        )
    if task == "binary" and len(classes) != 2:
        raise DataError(
            f"label '{table.label_name}' has {len(classes)} classes, --task binary needs 2",
            where=table.source,
        )
    return Label(table.label_name, task, classes=classes)


def _number_text(value: str | float) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number)


def encode_labels(table: Table, label: Label) -> np.ndarray:
    """Class indices (int64) or values (float32) for `table`, by the training label.

    A class the training data never had is an error naming the row, except for one
    documented normalization: a trailing period is dropped when that makes the value a
    known class (the Adult test file writes `>50K.` for the training file's `>50K`).
    """
    raw = table.labels
    assert raw is not None
    if label.kind == "regression":
        return np.array([float(v) for v in raw.tolist()], dtype=np.float32)
    assert label.classes is not None
    index = {c: i for i, c in enumerate(label.classes)}
    numeric_classes = all(_is_number(c) for c in label.classes)
    out = np.empty(len(raw), dtype=np.int64)
    for row, value in enumerate(raw.tolist()):
        key = _number_text(value) if numeric_classes and _is_number(str(value)) else str(value)
        if key not in index and key.endswith(".") and key[:-1] in index:
            key = key[:-1]
        if key not in index:
            raise DataError(
                f"label '{label.name}': '{value}' is not one of the training classes "
                f"{list(label.classes)}",
                where=table.where(row),
                hint="map it with --label-map OLD=NEW",
            )
        out[row] = index[key]
    return out
