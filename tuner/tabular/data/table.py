"""Typed columns in memory, between a source file and the TFRecord writer.

Sources (CSV, LIBSVM, built-in generators) produce a `Table`; the schema is derived from
the training table alone, and a validation table is then encoded against that schema, so
vocabularies, statistics, label classes and dimensions never leak from validation data.
Kept free of TensorFlow so that bad input is caught before TensorFlow is imported.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tuner.errors import DataError
from tuner.tabular.data.schema import DateColumn, Feature, Label, LabelKind

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
    # the source lines of rows left out for having no label (--drop-missing-label)
    dropped: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    # a CSV source: how it was read (recorded in the schema, so predict reads alike)
    delimiter: str | None = None
    decimal_comma: bool = False
    dates: dict[str, DateColumn] = field(default_factory=dict)  # columns read as date parts

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
            dropped=self.dropped,
            delimiter=self.delimiter,
            decimal_comma=self.decimal_comma,
            dates=dict(self.dates),
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


# A number label is a class label when it is integer-valued and has at most this many
# distinct values: 2, or up to 20 when the training rows number 10 times as many
# (AutoGluon's style; wine: 3 of 178 rows → classes, diabetes: 214 of 442 → regression).
MAX_INFERRED_CLASSES = 20
ROWS_PER_INFERRED_CLASS = 10
FLOAT32_MAX = float(np.finfo(np.float32).max)
SHOWN = 5  # values a message lists before "… (N more)"


def few(values: Sequence[object], shown: int = SHOWN) -> str:
    """`a, b, c … (997 more)`: a list for a one-line message, however long the list."""
    items = [str(v) for v in values]
    text = ", ".join(items[:shown])
    return text + (f" … ({len(items) - shown} more)" if len(items) > shown else "")


def not_finite(text: str, value: float) -> str | None:
    """Why a parsed number cannot be stored (records hold 32-bit floats), or None."""
    if math.isnan(value) or math.isinf(value):
        return f"'{text}' is not a finite number"
    if abs(value) > FLOAT32_MAX:
        return f"'{text}' is beyond the 32-bit float range (±{FLOAT32_MAX:.4g})"
    return None


def _number(text: object) -> float | None:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _is_number(text: object) -> bool:
    return _number(text) is not None


def class_limit(rows: int) -> int:
    """The most distinct integer values a number label may have to be inferred as classes."""
    return max(2, min(MAX_INFERRED_CLASSES, rows // ROWS_PER_INFERRED_CLASS))


def derive_label(table: Table, task: LabelKind | None) -> Label:
    """Infer the task from the training labels unless `task` says it.

    The rule users of scikit-learn, AutoGluon and pandas expect: text labels are classes;
    numbers with two distinct values are binary; integer-valued numbers (7 or 7.0) with
    few distinct values (`class_limit`) are classes; other numbers are regression.
    Classes are sorted (numbers by value) so that index 1 is the "positive" one for 0/1
    and no/yes style labels, and `--label-map` can rename them first.
    """
    raw = table.labels
    assert raw is not None
    distinct = sorted(set(raw.tolist()), key=str)
    numbers = {v: _number(v) for v in distinct}
    numeric = all(n is not None for n in numbers.values())
    if numeric:
        for text, number in numbers.items():
            problem = not_finite(str(text), number)  # type: ignore[arg-type]
            if problem:
                row = int(np.flatnonzero(raw == text)[0])
                raise DataError(f"label '{table.label_name}': {problem}", where=table.where(row))
        by_value: dict[float, object] = {}
        for text in distinct:
            by_value.setdefault(numbers[text], text)  # type: ignore[arg-type]
        distinct = [by_value[v] for v in sorted(by_value)]
    if len(distinct) < 2:
        raise DataError(
            f"label '{table.label_name}' has the single value '{distinct[0]}' in every "
            "training row",
            where=table.source,
            hint="a label needs at least two values to learn from",
        )
    if task is None:
        integral = numeric and all(float(str(v)).is_integer() for v in distinct)
        if len(distinct) == 2 or not numeric:
            task = "binary" if len(distinct) == 2 else "multiclass"
        elif integral and len(distinct) <= class_limit(table.rows):
            task = "multiclass"
        else:
            task = "regression"
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
    classes = tuple(_number_text(v) for v in distinct) if numeric else tuple(map(str, distinct))
    if task == "binary" and len(classes) != 2:
        raise DataError(
            f"label '{table.label_name}' has {len(classes)} classes ({few(classes)}), "
            "--task binary needs 2",
            where=table.source,
            hint="map them to two with --label-map OLD=NEW, or pass --task multiclass",
        )
    return Label(table.label_name, task, classes=classes)


def describe_label(label: Label, inferred: bool) -> str:
    """What `tune data convert` prints: the task it settled on, and whether it guessed."""
    text = f"label '{label.name}': {label.kind}"
    if label.classes is not None:
        text += f", {len(label.classes)} classes ({few(label.classes)})"
    return text + (" (inferred; --task overrides)" if inferred else " (from --task)")


def _number_text(value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
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
        return _regression_values(table, label.name)
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
                f"label '{label.name}': '{value}' is not one of the "
                f"{len(label.classes)} training classes ({few(label.classes)})",
                where=table.where(row),
                hint="map it with --label-map OLD=NEW",
            )
        out[row] = index[key]
    return out


def _regression_values(table: Table, name: str) -> np.ndarray:
    """Label values as float32; a value that is not a finite 32-bit float names its row."""
    raw = table.labels
    assert raw is not None
    try:
        values = np.asarray(raw, dtype=np.float64)
    except ValueError:
        row = next(i for i, v in enumerate(raw.tolist()) if not _is_number(v))
        raise DataError(
            f"label '{name}': '{raw[row]}' is not a number", where=table.where(row)
        ) from None
    bad = np.flatnonzero(~(np.abs(values) <= FLOAT32_MAX))  # NaN compares False
    if len(bad):
        row = int(bad[0])
        problem = not_finite(str(raw[row]), float(values[row]))
        raise DataError(f"label '{name}': {problem}", where=table.where(row))
    return values.astype(np.float32)
