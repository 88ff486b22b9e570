"""LIBSVM (`label id:value ...`) → `Table` with one sparse column, kept sparse.

Ids are stored 0-based. The index base is taken from the training file (1-based, the
LIBSVM convention, unless an id 0 appears) and the dimension is its largest id, unless
given; a validation file uses the training file's base and dimension, because a8a's test
file never mentions the last feature id.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tuner.data.sources import check_file
from tuner.data.table import SparseColumn, Table
from tuner.errors import DataError

SPARSE_NAME = "features"


def read_libsvm(
    path: str | Path,
    *,
    index_base: int | None = None,
    dimension: int | None = None,
) -> tuple[Table, int]:
    """Read a LIBSVM file; returns the table and the index base it used."""
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
