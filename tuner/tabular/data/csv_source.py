"""CSV → `Table`, with every problem reported as file:line and column.

Rules (also in the README):
- The first non-blank line is the header unless `columns` is given; blank lines are skipped.
- White space around every value is stripped.
- `?`, empty, `NA`, `N/A`, `NaN`, `null`, `None` are missing values: numeric → NaN (the model
  imputes the training mean), categorical → "" (its own lookup id). A missing label is an error.
- A column is numeric when every present training value parses as a number, categorical
  otherwise; `categorical`/`numeric` override. A validation file follows the training kinds.
- A numeric value must be a finite 32-bit float: `inf`, `-inf`, `Infinity` or 1e39 in a
  numeric column is an error naming the row and column (it is no missing value: mark
  those with `?` or `NA`; `--categorical` keeps the column as text).
- Column names are kept exactly as written (after stripping white space): `a/b`, `x y`,
  `1st`, `é` are all names; an empty header cell is an error (name it, or use --columns).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from tuner.errors import DataError
from tuner.space.yaml_file import suggest
from tuner.tabular.data.sources import check_file
from tuner.tabular.data.table import FLOAT32_MAX, MISSING_TOKENS, Table, few, not_finite


def _suggest(name: str, names: Sequence[str]) -> str | None:
    near = suggest(name, names)
    return f"did you mean '{near}'?" if near else None


def read_csv(
    path: str | Path,
    *,
    columns: Sequence[str] | None = None,
    label: str | None = None,
    categorical: Iterable[str] = (),
    numeric: Iterable[str] = (),
    label_map: Mapping[str, str] | None = None,
    kinds: Mapping[str, str] | None = None,
    features_only: bool = False,
) -> Table:
    """Read one CSV file. `kinds` (name → numeric|categorical) pins column kinds.

    `features_only` (for prediction) ignores the label column if there is one and
    leaves `labels` empty; columns not in `kinds` are then ignored too.
    """
    path = check_file(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        rows: list[list[str]] = []
        lines: list[int] = []
        header: list[str] | None = list(columns) if columns else None
        header_line = 0
        try:
            for record in reader:
                if not record or all(not cell.strip() for cell in record):
                    continue
                if header is None:
                    header = [cell.strip() for cell in record]
                    header_line = reader.line_num
                    continue
                if len(record) != len(header):
                    raise DataError(
                        f"expected {len(header)} fields, found {len(record)}",
                        where=f"{path}:{reader.line_num}",
                        hint="the header is "
                        + (f"line {header_line}" if header_line else "--columns"),
                    )
                rows.append([cell.strip() for cell in record])
                lines.append(reader.line_num)
        except csv.Error as exc:
            raise DataError(f"not valid CSV: {exc}", where=f"{path}:{reader.line_num}") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"not UTF-8 text: {exc.reason}", where=path) from None
    if header is None:
        raise DataError("no header and no rows", where=path, hint="the file holds only blank lines")
    if "" in header:
        raise DataError(
            f"column {header.index('') + 1} has no name",
            where=f"{path}:{header_line}" if header_line else path,
            hint="every column needs a name: add it to the header, or pass --columns",
        )
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise DataError(
            f"column '{dup}' appears twice in the header", where=f"{path}:{header_line}"
        )
    if not rows:
        raise DataError("no data rows after the header", where=path)

    label = label or header[-1]
    if features_only:
        label = label if label in header else ""
    elif label not in header:
        raise DataError(
            f"label column '{label}' does not exist; the {len(header)} columns are {few(header)}",
            where=path,
            hint=_suggest(label, header),
        )
    categorical, numeric = set(categorical), set(numeric)
    for name in sorted(categorical | numeric):
        if name not in header:
            raise DataError(
                f"column '{name}' does not exist", where=path, hint=_suggest(name, header)
            )
        if name == label:
            raise DataError(
                f"column '{name}' is the label; it cannot be a feature kind", where=path
            )
    if categorical & numeric:
        raise DataError(
            f"column(s) {sorted(categorical & numeric)} are both --categorical and --numeric"
        )

    matrix = np.array(rows, dtype=object)
    line_numbers = np.array(lines, dtype=np.int64)
    table = Table(source=str(path), label_name=label, lines=line_numbers)

    if features_only:
        table.labels = np.array([], dtype=object)
    label_col = matrix[:, header.index(label)] if label else np.array([], dtype=object)
    if label_map:
        label_col = np.array([label_map.get(v, v) for v in label_col.tolist()], dtype=object)
    missing_label = np.flatnonzero(np.isin(label_col, list(MISSING_TOKENS)))
    if len(missing_label) and not features_only:
        row = int(missing_label[0])
        raise DataError(f"label '{label}' is missing", where=f"{path}:{lines[row]}")
    if not features_only:
        table.labels = label_col

    for j, name in enumerate(header):
        if name == label:
            continue
        raw = matrix[:, j]
        if kinds is not None:
            if name not in kinds:
                if features_only:
                    continue
                raise DataError(
                    f"column '{name}' is not in the training data's schema",
                    where=path,
                    hint=f"expected the {len(kinds) + 1} columns {few([*kinds, label])}",
                )
            kind = kinds[name]
        elif name in categorical:
            kind = "categorical"
        elif name in numeric:
            kind = "numeric"
        else:
            kind = "numeric" if _all_numbers(raw) else "categorical"
        if kind == "numeric":
            table.numeric[name] = _to_numbers(raw, name, path, line_numbers)
        else:
            table.categorical[name] = np.array(
                ["" if v in MISSING_TOKENS else v for v in raw.tolist()], dtype=object
            )
        table.order.append(name)
    if kinds is not None:
        absent = [k for k in kinds if k not in header]
        if absent:
            raise DataError(
                f"{len(absent)} columns of the training data are missing: {few(absent)}",
                where=path,
            )
    return table


def _present(raw: np.ndarray) -> np.ndarray:
    return ~np.isin(raw, list(MISSING_TOKENS))


def _all_numbers(raw: np.ndarray) -> bool:
    try:
        np.asarray(raw[_present(raw)], dtype=np.float64)
    except ValueError:
        return False
    return True


def _to_numbers(raw: np.ndarray, name: str, path: Path, lines: np.ndarray) -> np.ndarray:
    out = np.full(len(raw), np.nan)
    present = _present(raw)
    try:
        out[present] = np.asarray(raw[present], dtype=np.float64)
    except ValueError:
        for row in np.flatnonzero(present):
            try:
                float(raw[row])
            except ValueError:
                raise DataError(
                    f"column '{name}': '{raw[row]}' is not a number",
                    where=f"{path}:{lines[row]}",
                    hint="the column is numeric; use --categorical to treat it as categories",
                ) from None
    # NaN in any spelling is missing; inf, -inf and values beyond float32 are refused
    bad = np.flatnonzero(np.abs(out) > FLOAT32_MAX)
    if len(bad):
        first = int(bad[0])
        problem = not_finite(str(raw[first]), float(out[first]))
        raise DataError(
            f"column '{name}': {problem}",
            where=f"{path}:{lines[first]}",
            hint="mark a missing value with ? or NA; --categorical keeps the column as text",
        )
    return out
