"""LIBSVM (`label id:value ...`) → `Table` with one sparse column, kept sparse.

Ids are stored 0-based. The index base is taken from the training file (1-based, the
LIBSVM convention, unless an id 0 appears) and the dimension is its largest id, unless
given; a validation file uses the training file's base and dimension, because a8a's test
file never mentions the last feature id.

Every value must be a finite 32-bit float (`nan`, `inf` and 1e39 are refused, naming the
line), and the dimension is bounded by `max_dimension` (default MAX_DIMENSION = 2**24
ids): a stray id like 99999999999 would otherwise make a model with that many weights,
which runs out of memory long after the conversion said nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tuner.errors import ConfigError, DataError
from tuner.tabular.data.sources import check_file
from tuner.tabular.data.table import SparseColumn, Table, not_finite

SPARSE_NAME = "features"
MAX_DIMENSION = 1 << 24  # 16,777,216 ids; `tune data convert --max-dimension N` raises it


def read_libsvm(
    path: str | Path,
    *,
    index_base: int | None = None,
    dimension: int | None = None,
    max_dimension: int = MAX_DIMENSION,
) -> tuple[Table, int]:
    """Read a LIBSVM file; returns the table and the index base it used."""
    check_dimensions(dimension, max_dimension)
    path = check_file(path)
    labels: list[str] = []
    lines: list[int] = []
    indptr = [0]
    ids: list[int] = []
    values: list[float] = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            label, *tokens = text.split()
            row_ids: list[int] = []
            for token in tokens:
                key, sep, value = token.partition(":")
                try:
                    if not sep:
                        raise ValueError
                    fid, fval = int(key), float(value)
                except ValueError:
                    raise DataError(
                        f"token '{token}' is not id:value", where=f"{path}:{line_no}"
                    ) from None
                if fid < 0:
                    raise DataError(f"feature id {fid} is negative", where=f"{path}:{line_no}")
                if fid > max_dimension:  # also keeps ids inside int64
                    raise _too_large(fid, max_dimension, f"{path}:{line_no}")
                problem = not_finite(value, fval)
                if problem:
                    raise DataError(
                        f"feature {fid}: {problem}",
                        where=f"{path}:{line_no}",
                        hint="LIBSVM values are stored as 32-bit floats; drop or replace it",
                    )
                row_ids.append(fid)
                values.append(fval)
            if len(set(row_ids)) != len(row_ids):
                raise DataError("a feature id appears twice in the row", where=f"{path}:{line_no}")
            order = np.argsort(row_ids, kind="stable")
            if len(row_ids) and np.any(order != np.arange(len(row_ids))):
                start = len(values) - len(row_ids)
                values[start:] = [values[start + k] for k in order]
                row_ids = [row_ids[k] for k in order]
            ids.extend(row_ids)
            indptr.append(len(ids))
            labels.append(label)
            lines.append(line_no)
    if not labels:
        raise DataError("no rows (only blank or comment lines)", where=path)
    id_array = np.array(ids, dtype=np.int64)
    if index_base is None:
        index_base = 0 if len(id_array) and id_array.min() == 0 else 1
    id_array -= index_base
    if len(id_array) and id_array.min() < 0:
        row = int(np.searchsorted(indptr, int(np.argmin(id_array)), side="right") - 1)
        raise DataError("feature id 0 in a 1-based data set", where=f"{path}:{lines[row]}")
    largest = int(id_array.max()) + 1 if len(id_array) else 1
    if largest > max_dimension:  # a 0-based file's id max_dimension
        bad = int(np.argmax(id_array))
        row = int(np.searchsorted(indptr, bad, side="right") - 1)
        raise _too_large(int(id_array[bad]) + index_base, max_dimension, f"{path}:{lines[row]}")
    if dimension is None:
        dimension = largest
    elif largest > dimension:
        bad = int(np.argmax(id_array >= dimension))
        row = int(np.searchsorted(indptr, bad, side="right") - 1)
        raise DataError(
            f"feature id {int(id_array[bad]) + index_base} is beyond the dimension {dimension}",
            where=f"{path}:{lines[row]}",
            hint="pass a larger --dimension when converting the training file",
        )
    table = Table(
        source=str(path),
        sparse={
            SPARSE_NAME: SparseColumn(
                indptr=np.array(indptr, dtype=np.int64),
                ids=id_array,
                values=np.array(values, dtype=np.float32),
                dimension=dimension,
            )
        },
        order=[SPARSE_NAME],
        label_name="label",
        labels=np.array(labels, dtype=object),
        lines=np.array(lines, dtype=np.int64),
    )
    return table, index_base


def check_dimensions(dimension: int | None, max_dimension: int) -> None:
    """The options, before any file is read."""
    if max_dimension < 1:
        raise ConfigError(f"--max-dimension {max_dimension}: expected 1 or more")
    if dimension is not None and dimension < 1:
        raise ConfigError(f"--dimension {dimension}: expected 1 or more")
    if dimension is not None and dimension > max_dimension:
        raise ConfigError(
            f"--dimension {dimension:,} is above the bound of {max_dimension:,} feature ids",
            hint="pass a larger --max-dimension if the model really needs that many weights",
        )


def _too_large(fid: int, max_dimension: int, where: str) -> DataError:
    return DataError(
        f"feature id {fid} is above the bound of {max_dimension:,} feature ids",
        where=where,
        hint="a model needs one weight per id; pass a larger --max-dimension if this id is real",
    )
