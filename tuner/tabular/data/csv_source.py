"""CSV → `Table`, with every problem reported as file:line and column.

Rules (also in the README):
- The first non-blank line is the header unless `columns` is given; blank lines are skipped.
- White space around every value is stripped.
- `?`, empty, `NA`, `N/A`, `NaN`, `null`, `None` are missing values: numeric → NaN (the model
  imputes the training mean), categorical → "" (its own lookup id). A missing label is an
  error naming its line, unless `drop_missing_label`: then the row is left out
  (`Table.dropped` keeps its line) and kinds are inferred from the rows kept.
- `ignore` leaves columns out as if the file did not hold them (a file that lacks one,
  such as a validation file or a file to predict, is fine).
- `dates` (`--dates`) reads columns of dates as numeric parts `COL.year` … (dates.py), in
  the one format every training value is written in; a later file (validation, predict)
  is read in that format (`date_specs`, from the schema), a value not so written an error.
- A column is numeric when every present training value parses as a number, categorical
  otherwise; `categorical`/`numeric` override. A validation file follows the training kinds.
- A numeric value must be a finite 32-bit float: `inf`, `-inf`, `Infinity` or 1e39 in a
  numeric column is an error naming the row and column (it is no missing value: mark
  those with `?` or `NA`; `--categorical` keeps the column as text).
- Column names are kept exactly as written (after stripping white space): `a/b`, `x y`,
  `1st`, `é` are all names; an empty header cell is an error (name it, or use --columns).
- The delimiter is `,` (tab for `.tsv`) unless that reads the first line as one column:
  then it is detected among `,` `;` tab `|` (the csv module's Sniffer, checked against
  the first lines); `delimiter` pins it. A file still read as one column is an error
  that names the delimiter its header line holds.
- Decimal commas (`1,5`) are read only when asked (`decimal_comma`): a column whose
  values are all such numbers is an error without it, never silently categorical.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from tuner.errors import ConfigError, DataError
from tuner.tabular.data.dates import (
    DAY_PARTS,
    FORMATS,
    TIME_PARTS,
    date_format,
    date_parts,
    parse,
    parts_of,
)
from tuner.tabular.data.schema import DateColumn
from tuner.tabular.data.sources import check_file
from tuner.tabular.data.table import FLOAT32_MAX, MISSING_TOKENS, Table, few, not_finite
from tuner.text import suggest


def _suggest(name: str, names: Sequence[str]) -> str | None:
    near = suggest(name, names)
    return f"did you mean '{near}'?" if near else None


DELIMITERS = (",", ";", "\t", "|")  # the delimiters detection chooses among
SAMPLE_LINES = 50  # lines of the file detection looks at
_NAMES = {"tab": "\t", "\\t": "\t"}  # --delimiter tab, --delimiter '\\t'
# a number written with a decimal comma: 1,5  -0,25  ,5  3  2,5e3
_DECIMAL_COMMA = re.compile(r"[+-]?(\d+(,\d*)?|,\d+)([eE][+-]?\d+)?")


def delimiter_name(delimiter: str) -> str:
    """How messages, the summary line and a shell write a delimiter: `';'`, `tab`."""
    return "tab" if delimiter == "\t" else f"'{delimiter}'"


def parse_delimiter(text: str) -> str:
    """`--delimiter`'s value: one character, or `tab` / `\\t` for a tab."""
    value = _NAMES.get(text, text)
    if len(value) != 1 or value in '"\r\n' or value.isalnum():
        raise ConfigError(
            f"--delimiter {text!r}: expected one character such as ';' or '|', or tab"
        )
    return value


def extension_delimiter(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def _sample(path: Path) -> tuple[list[str], bool]:
    """The first lines of the file, and whether there are more."""
    lines: list[str] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            for line in fh:
                if len(lines) == SAMPLE_LINES:
                    return lines, True
                lines.append(line)
    except (UnicodeDecodeError, OSError):
        return [], False  # the read itself reports it, with the line
    return lines, False


def _records(lines: list[str], delimiter: str, truncated: bool) -> list[list[str]]:
    try:
        records = [r for r in csv.reader(lines, delimiter=delimiter) if any(c.strip() for c in r)]
    except csv.Error:
        return []
    return records[:-1] if truncated and len(records) > 1 else records


def _splits_evenly(records: list[list[str]]) -> bool:
    """Every record has the same number of fields, more than one."""
    counts = {len(r) for r in records}
    return len(counts) == 1 and counts.pop() > 1


def detect_delimiter(
    path: Path, *, preferred: str | None = None, expected: Iterable[str] = ()
) -> str:
    """The delimiter to read `path` with, when none was given.

    `preferred` (the training file's, or the data set's recorded one) comes before the
    extension's. With `expected` column names (a validation file, a file to predict),
    the first delimiter that finds them all in the header wins. Otherwise the default
    stays unless it reads the first line as one column: a file that splits into columns
    now splits the same way as before detection existed.
    """
    default = preferred or extension_delimiter(path)
    lines, truncated = _sample(path)
    records = {d: _records(lines, d, truncated) for d in dict.fromkeys([default, *DELIMITERS])}
    wanted = set(expected)
    if wanted:
        for d, found in records.items():
            if found and wanted <= {c.strip() for c in found[0]}:
                return d
    first = records[default][:1]
    if not first or len(first[0]) > 1:
        return default
    try:  # whole lines only: a cut last line would look uneven
        text = "".join(lines[:-1] if truncated else lines)
        sniffed = csv.Sniffer().sniff(text, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    for d in ([sniffed] if sniffed else []) + list(DELIMITERS):
        if d != default and _splits_evenly(records[d]):  # the Sniffer's guess, checked
            return d
    return default


def _one_column(name: str, delimiter: str, where: str | Path) -> DataError:
    """A file read as a single column: most likely another delimiter (say which)."""
    seen = [d for d in DELIMITERS if d != delimiter and d in name]
    if seen:
        best = max(seen, key=name.count)
        return DataError(
            f"one column found ('{name}'): is the file {delimiter_name(best)}-delimited?",
            where=where,
            hint=f"pass --delimiter {delimiter_name(best)}",
        )
    return DataError(
        f"one column found ('{name}')",
        where=where,
        hint="a data set needs feature columns besides the label; if the columns are split "
        "by another character, pass --delimiter",
    )


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
    delimiter: str | None = None,
    preferred_delimiter: str | None = None,
    decimal_comma: bool = False,
    drop_missing_label: bool = False,
    ignore: Iterable[str] = (),
    dates: Iterable[str] = (),
    date_specs: Mapping[str, DateColumn] | None = None,
) -> Table:
    """Read one CSV file. `kinds` (name → numeric|categorical) pins column kinds: those
    of the training file (a validation file) or of the model's data set (prediction).

    `features_only` (for prediction) ignores the label column if there is one and
    leaves `labels` empty; columns not in `kinds` are then ignored too. `delimiter`
    pins the delimiter; otherwise it is detected (`detect_delimiter`), trying
    `preferred_delimiter` first. `decimal_comma` reads `1,5` as 1.5 in numeric columns.
    `drop_missing_label` leaves out the rows without a label; `ignore` leaves out columns.
    `dates` (training) names columns of dates to read as numeric parts, in the format
    their values are written in; `date_specs` (a later file) says which, and how.
    """
    path = check_file(path)
    specs, dates = dict(date_specs or {}), set(dates)
    if delimiter is None:
        expected = _header_names(kinds or {}, specs) if columns is None else set()
        if expected and label and not features_only:
            expected.add(label)
        delimiter = detect_delimiter(path, preferred=preferred_delimiter, expected=expected)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        rows: list[list[str]] = []
        lines: list[int] = []
        header: list[str] | None = list(columns) if columns else None
        header_line = 0
        if header is not None and len(header) == 1:
            raise _one_column(header[0], delimiter, path)
        try:
            for record in reader:
                if not record or all(not cell.strip() for cell in record):
                    continue
                if header is None:
                    header = [cell.strip() for cell in record]
                    header_line = reader.line_num
                    if len(header) == 1 and not (kinds and header[0] in kinds):
                        raise _one_column(header[0], delimiter, f"{path}:{header_line}")
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
            hint="every column needs a name: add it to the header"
            + ("" if features_only else ", or pass --columns"),
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
    categorical, numeric, ignored = set(categorical), set(numeric), set(ignore)
    _check_ignored(ignored, header, label, categorical, numeric, path, training=kinds is None)
    _check_dates(dates, header, label, categorical | numeric | ignored, path)
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
    label_col = matrix[:, header.index(label)] if label else np.array([], dtype=object)
    if label_map:
        label_col = np.array([label_map.get(v, v) for v in label_col.tolist()], dtype=object)
    dropped = np.array([], dtype=np.int64)
    if not features_only:
        missing_label = np.isin(label_col, list(MISSING_TOKENS))
        _check_missing_labels(missing_label, label, path, line_numbers, drop_missing_label)
        if missing_label.any():
            dropped = line_numbers[missing_label]
            keep = ~missing_label
            matrix, line_numbers, label_col = matrix[keep], line_numbers[keep], label_col[keep]
            lines = line_numbers.tolist()
    table = Table(source=str(path), label_name=label, lines=line_numbers, dropped=dropped)

    if features_only:
        table.labels = np.array([], dtype=object)
    else:
        table.labels = _label_numbers(label_col, label, decimal_comma, path, lines)
    pinned = "model" if features_only else "training"

    for j, name in enumerate(header):
        if name == label or name in ignored:
            continue
        raw = matrix[:, j]
        if name in specs or name in dates:
            _add_date_parts(table, name, raw, specs.get(name), path)
            continue
        source = pinned
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
            kind, source = "numeric", "given"
        elif _all_numbers(raw, decimal_comma):
            kind = "numeric"
        else:
            kind = "categorical"
            comma = None if decimal_comma else _decimal_comma_row(raw)
            if comma is not None:
                raise DataError(
                    f"column '{name}' holds numbers written with a decimal comma ('{raw[comma]}')",
                    where=f"{path}:{lines[comma]}",
                    hint=f"pass --decimal-comma to read them as numbers, or --categorical "
                    f"{name} to keep the column as text",
                )
        if kind == "numeric":
            table.numeric[name] = _to_numbers(
                raw, name, path, line_numbers, decimal_comma=decimal_comma, source=source
            )
        else:
            table.categorical[name] = np.array(
                ["" if v in MISSING_TOKENS else v for v in raw.tolist()], dtype=object
            )
        table.order.append(name)
    if kinds is not None:
        made = {p: name for name, spec in specs.items() for p in spec.features(name)}
        absent = list(dict.fromkeys(made.get(k, k) for k in kinds if k not in table.order))
        if absent:
            raise DataError(
                f"{len(absent)} columns of the training data are missing: {few(absent)}",
                where=path,
            )
    table.delimiter, table.decimal_comma = delimiter, decimal_comma
    return table


def _check_ignored(
    ignored: set[str],
    header: Sequence[str],
    label: str,
    categorical: set[str],
    numeric: set[str],
    path: Path,
    *,
    training: bool,
) -> None:
    """`--ignore` names columns of the training file (a later file may lack them), never
    the label, and no column it also gives a kind."""
    for name in sorted(ignored):
        if name == label:
            raise DataError(f"column '{name}' is the label; it cannot be ignored", where=path)
        if training and name not in header:
            raise DataError(
                f"--ignore: column '{name}' does not exist",
                where=path,
                hint=_suggest(name, header),
            )
    for option, given in (("--categorical", categorical), ("--numeric", numeric)):
        if ignored & given:
            raise DataError(
                f"column(s) {sorted(ignored & given)} are both --ignore and {option}",
                where=path,
            )


def _header_names(kinds: Mapping[str, str], specs: Mapping[str, DateColumn]) -> set[str]:
    """The columns a file of these kinds has: a date's parts are its one column."""
    parts = {p for name, spec in specs.items() for p in spec.features(name)}
    return (set(kinds) - parts) | set(specs)


def _check_dates(
    dates: set[str], header: Sequence[str], label: str, others: set[str], path: Path
) -> None:
    """`--dates` names columns of the file, not the label, none given another role, and
    their parts' names are not columns of the file already."""
    for name in sorted(dates):
        if name not in header:
            raise DataError(
                f"--dates: column '{name}' does not exist", where=path, hint=_suggest(name, header)
            )
        if name == label:
            raise DataError(f"column '{name}' is the label; it cannot be --dates", where=path)
        if name in others:
            raise DataError(
                f"column '{name}' is --dates and also --ignore, --categorical or --numeric",
                where=path,
            )
        taken = [f"{name}.{p}" for p in DAY_PARTS + TIME_PARTS if f"{name}.{p}" in header]
        if taken:
            raise DataError(
                f"--dates {name}: its part '{taken[0]}' is a column of the file already",
                where=path,
                hint=f"rename that column, or leave {name} text",
            )


def _add_date_parts(
    table: Table, name: str, raw: np.ndarray, spec: DateColumn | None, path: Path
) -> None:
    """The date column `name` as numeric features `name.year` …: read in `spec`'s format
    (a later file), or in the one every training value is written in (`--dates`)."""
    assert table.lines is not None
    if spec is None:
        spec = _date_spec(name, raw, path, table.lines)
    parts, bad = date_parts(raw.tolist(), spec.format, spec.parts, MISSING_TOKENS)
    if bad is not None:
        raise DataError(
            f"column '{name}': '{raw[bad]}' is not a date written as the training data "
            f"writes them ({spec.example})",
            where=f"{path}:{table.lines[bad]}",
        )
    for part, column in zip(spec.features(name), parts.values(), strict=True):
        table.numeric[part] = np.array(column, dtype=np.float64)
        table.order.append(part)
    table.dates[name] = spec


def _date_spec(name: str, raw: np.ndarray, path: Path, lines: np.ndarray) -> DateColumn:
    """How the training column `name` writes its dates; a value that is no date, or one
    written in another format than the first value, is an error naming its line."""
    present = np.flatnonzero(_present(raw))
    if len(present) == 0:
        raise DataError(f"--dates {name}: the column has no values", where=path)
    values = raw[present].tolist()
    distinct = sorted(set(values))
    fmt = date_format(distinct)
    if fmt is None:
        first = _format_of(values[0])
        for row, text in zip(present.tolist(), values, strict=True):
            if first is None or _format_of(text) is None:
                problem = f"'{text}' is not a date"
            elif parse(text, first) is None:
                problem = f"'{text}' is not written as '{values[0]}' is"
            else:
                continue
            raise DataError(
                f"--dates {name}: {problem}",
                where=f"{path}:{lines[row]}",
                hint="expected dates written alike, such as 2016-07-02, 2016-07-02 13:40, "
                "7/2/2016 or 2.7.2016",
            )
        raise DataError(f"--dates {name}: the values are dates of several formats", where=path)
    moments = [parse(text, fmt) for text in distinct]
    return DateColumn(fmt, parts_of(m for m in moments if m is not None), str(values[0]))


def _format_of(text: str) -> str | None:
    """The first format `text` is a date in, or None."""
    return next((f for f in FORMATS if parse(text, f) is not None), None)


def _check_missing_labels(
    missing: np.ndarray, label: str, path: Path, lines: np.ndarray, drop: bool
) -> None:
    """A row without a label is an error naming its line and the option that drops such
    rows; with `drop`, only a file of no labelled row is."""
    count = int(missing.sum())
    if count == 0:
        return
    if not drop:
        raise DataError(
            f"label '{label}' is missing",
            where=f"{path}:{lines[int(np.argmax(missing))]}",
            hint=f"{count} row{'s' * (count != 1)} {'have' if count != 1 else 'has'} none; "
            f"pass --drop-missing-label to leave {'them' if count != 1 else 'it'} out",
        )
    if count == len(missing):
        raise DataError(f"every row's label '{label}' is missing", where=path)


def _present(raw: np.ndarray) -> np.ndarray:
    return ~np.isin(raw, list(MISSING_TOKENS))


def _decimal_commas(raw: np.ndarray) -> np.ndarray:
    """`raw` with `1,5` written `1.5` (only values that are numbers so written)."""
    return np.array(
        [v.replace(",", ".") if _DECIMAL_COMMA.fullmatch(v) else v for v in raw.tolist()],
        dtype=object,
    )


def _decimal_comma_row(raw: np.ndarray) -> int | None:
    """The first row holding a decimal comma when every present value is a number written
    so (`1,5`, `3`), else None: such a column is numbers, not categories."""
    values = raw[_present(raw)].tolist()
    if not values or not all(_DECIMAL_COMMA.fullmatch(v) for v in values):
        return None
    first = next((i for i, v in enumerate(raw.tolist()) if "," in v), None)
    return first


def _label_numbers(
    raw: np.ndarray, name: str, decimal_comma: bool, path: Path, lines: list[int]
) -> np.ndarray:
    """The label column, decimal commas read as points when asked; without it, a label of
    numbers written with decimal commas is an error (it would be read as classes)."""
    if decimal_comma:
        return _decimal_commas(raw)
    row = _decimal_comma_row(raw)
    if row is not None:
        raise DataError(
            f"label '{name}': '{raw[row]}' looks like a number with a decimal comma",
            where=f"{path}:{lines[row]}",
            hint="pass --decimal-comma to read such numbers",
        )
    return raw


def _all_numbers(raw: np.ndarray, decimal_comma: bool = False) -> bool:
    present = raw[_present(raw)]
    try:
        np.asarray(_decimal_commas(present) if decimal_comma else present, dtype=np.float64)
    except ValueError:
        return False
    return True


def _not_a_number_hint(name: str, value: str, source: str, decimal_comma: bool) -> str:
    """What to do about a value a numeric column cannot read, for the verb at hand:
    `source` says who made the column numeric (`given`: --numeric, `training`: the
    training file, for a validation file, `model`: the model's data set, for predict)."""
    if not decimal_comma and "," in value and _DECIMAL_COMMA.fullmatch(value):
        return "it is written with a decimal comma: pass --decimal-comma"
    if source == "model":
        return (
            f"'{name}' is numeric in the model's data set: the file must hold a number "
            "there (? or NA for a missing value)"
        )
    if source == "training":
        return (
            f"'{name}' is numeric in the training file; --categorical {name} makes it text in both"
        )
    return "the column is numeric; use --categorical to treat it as categories"


def _to_numbers(
    raw: np.ndarray,
    name: str,
    path: Path,
    lines: np.ndarray,
    *,
    decimal_comma: bool = False,
    source: str = "given",
) -> np.ndarray:
    out = np.full(len(raw), np.nan)
    present = _present(raw)
    text = _decimal_commas(raw) if decimal_comma else raw
    try:
        out[present] = np.asarray(text[present], dtype=np.float64)
    except ValueError:
        for row in np.flatnonzero(present):
            try:
                float(text[row])
            except ValueError:
                raise DataError(
                    f"column '{name}': '{raw[row]}' is not a number",
                    where=f"{path}:{lines[row]}",
                    hint=_not_a_number_hint(name, str(raw[row]), source, decimal_comma),
                ) from None
    # NaN in any spelling is missing; inf, -inf and values beyond float32 are refused
    bad = np.flatnonzero(np.abs(out) > FLOAT32_MAX)
    if len(bad):
        first = int(bad[0])
        problem = not_finite(str(raw[first]), float(out[first]))
        raise DataError(
            f"column '{name}': {problem}",
            where=f"{path}:{lines[first]}",
            hint="mark a missing value with ? or NA"
            + ("" if source == "model" else "; --categorical keeps the column as text"),
        )
    return out
