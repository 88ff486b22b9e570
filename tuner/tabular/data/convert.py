"""`tune data convert`: a source file (plus an optional validation file) → a data set.

Everything that can be wrong with the input is checked while reading the sources,
before TensorFlow is imported and before anything is written; the output directory then
appears in one rename, so a failed or interrupted conversion leaves nothing behind.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from tuner import faults
from tuner.atomic import staged_dir
from tuner.errors import ConfigError, DataError
from tuner.tabular.data.libsvm_source import MAX_DIMENSION, check_dimensions
from tuner.tabular.data.schema import (
    SCHEMA_FILE,
    CsvDialect,
    Feature,
    Label,
    LabelKind,
    Schema,
    Split,
    save_schema,
)
from tuner.tabular.data.sources import check_file, detect_format, sha256
from tuner.tabular.data.table import (
    Table,
    derive_features,
    derive_label,
    encode_labels,
    few,
)

# a --split side with fewer rows than this is said: metrics on it say little
FEW_SPLIT_ROWS = 10


def warn_stderr(message: str) -> None:
    print(f"tune: warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class ConvertOptions:
    """Everything `tune data convert` accepts besides the source and the output."""

    format: str | None = None
    validation: Path | None = None
    split: float | None = None
    seed: int = 0
    columns: Sequence[str] | None = None
    label: str | None = None
    categorical: Iterable[str] = ()
    numeric: Iterable[str] = ()
    label_map: Mapping[str, str] = field(default_factory=dict)
    task: LabelKind | None = None
    shards: int = 1
    compression: str | None = None  # None or "GZIP"
    dimension: int | None = None
    max_dimension: int | None = None  # None: MAX_DIMENSION
    force: bool = False
    delimiter: str | None = None  # CSV: None detects it (csv_source.detect_delimiter)
    decimal_comma: bool = False  # CSV: numbers are written 1,5
    drop_missing_label: bool = False  # CSV: leave out rows without a label (else an error)
    ignore: Iterable[str] = ()  # CSV: columns left out of the data set
    dates: Iterable[str] = ()  # CSV: columns of dates read as numeric parts (COL.year, …)


def convert(
    src: str | Path,
    out: str | Path,
    options: ConvertOptions,
    *,
    warn: Callable[[str], None] = warn_stderr,
    notes: Callable[[str], None] | None = None,
) -> Schema:
    """Convert `src` (and the validation file) into a data set at `out`; what is worth a
    word but no refusal (a tiny split, a validation split without some classes, a column
    that looks like an identifier or dates) goes to `warn`, and what the conversion did
    besides converting (rows dropped without a label) to `notes`, for its summary line."""
    src = check_file(src)
    out = Path(out)
    _check_options(out, options)
    # held until write_dataset's checks pass: a refused conversion says one line only
    held: list[str] = []
    fmt = detect_format(src, options.format)
    if options.validation is not None:
        check_file(options.validation)

    if fmt == "csv":
        from tuner.tabular.data.csv_source import read_csv

        train = read_csv(
            src,
            columns=options.columns,
            label=options.label,
            categorical=options.categorical,
            numeric=options.numeric,
            label_map=options.label_map,
            delimiter=options.delimiter,
            decimal_comma=options.decimal_comma,
            drop_missing_label=options.drop_missing_label,
            ignore=options.ignore,
            dates=options.dates,
        )
        kinds = {n: "numeric" if n in train.numeric else "categorical" for n in train.order}
        tables = _split(train, options.split, options.seed, held.append)
        if options.validation is not None:
            tables["validation"] = read_csv(
                options.validation,
                columns=options.columns,
                label=train.label_name,
                label_map=options.label_map,
                kinds=kinds,
                delimiter=options.delimiter,
                preferred_delimiter=train.delimiter,
                decimal_comma=options.decimal_comma,
                drop_missing_label=options.drop_missing_label,
                ignore=options.ignore,
                date_specs=train.dates,
            )
        if notes is not None:
            _note_dropped([train, *([tables["validation"]] if options.validation else [])], notes)
        from tuner.tabular.data.columns import warn_columns

        warn_columns(tables["train"], set(options.categorical), held.append)
        dialect = CsvDialect(train.delimiter or ",", options.decimal_comma, dict(train.dates))
    elif fmt == "libsvm":
        from tuner.tabular.data.libsvm_source import read_libsvm

        if options.split is not None:
            raise ConfigError("--split is supported for CSV sources only", where=src)
        if options.delimiter is not None or options.decimal_comma:
            raise ConfigError("--delimiter and --decimal-comma read CSV sources only", where=src)
        if options.drop_missing_label or options.ignore or options.dates:
            raise ConfigError(
                "--drop-missing-label, --ignore and --dates read CSV sources only", where=src
            )
        train, base = read_libsvm(src, dimension=options.dimension, max_dimension=_bound(options))
        tables = {"train": train}
        dialect = None
        if options.validation is not None:
            tables["validation"], _ = read_libsvm(
                options.validation,
                index_base=base,
                dimension=train.sparse["features"].dimension,
                max_dimension=_bound(options),
            )
    else:
        raise ConfigError(f"unknown format '{fmt}'", hint="expected csv or libsvm")

    sources = {"train": src, "validation": options.validation or src}
    return write_dataset(
        tables,
        out,
        source_format=fmt,
        task=options.task,
        shards=options.shards,
        compression=options.compression,
        force=options.force,
        sources={k: sources[k] for k in tables},
        csv=dialect,
        split_by=f"--split {options.split}" if options.split is not None else None,
        warn=warn,
        held=held,
    )


def _note_dropped(tables: Sequence[Table], notes: Callable[[str], None]) -> None:
    """`dropped 8 rows of train.csv without a label (lines 16, 43, …), 2 of val.csv
    (lines 5, 9)`: the rows --drop-missing-label left out, by file and line."""
    parts: list[str] = []
    for table in tables:
        count = len(table.dropped)
        if not count:
            continue
        name = Path(table.source).name
        lines = f"line{'s' * (count != 1)} {few(table.dropped.tolist())}"
        if parts:
            parts.append(f"{count} of {name} ({lines})")
        else:
            parts.append(
                f"dropped {count} row{'s' * (count != 1)} of {name} without a label ({lines})"
            )
    if parts:
        notes(", ".join(parts))


def _check_options(out: Path, options: ConvertOptions) -> None:
    if options.split is not None and not 0.0 < options.split < 1.0:
        raise ConfigError(f"--split {options.split}: expected a fraction between 0 and 1")
    if options.split is not None and options.validation is not None:
        raise ConfigError("--split and --validation exclude each other: pick one")
    if options.shards < 1:
        raise ConfigError(f"--shards {options.shards}: expected 1 or more")
    if options.compression not in (None, "GZIP"):
        raise ConfigError(f"compression '{options.compression}': expected GZIP or none")
    check_dimensions(options.dimension, _bound(options))
    check_output(out, options.force)


def _bound(options: ConvertOptions) -> int:
    return MAX_DIMENSION if options.max_dimension is None else options.max_dimension


def check_output(out: Path, force: bool) -> None:
    """That `out` can be created, or replaced with --force, before any work is done.

    --force replaces a data set (a folder with schema.json) or an empty folder, never a
    file or a folder of something else: a mistyped `--out ~ --force` must not delete it.
    """
    for parent in out.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError("is a file, so the output cannot be made in it", where=parent)
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ConfigError("cannot write here (permission denied)", where=parent)
            break
    if not out.exists():
        return
    if not force:
        raise ConfigError("already exists", where=out, hint="pass --force to replace it")
    if not out.is_dir():
        raise ConfigError(
            "is a file, not a data set folder; --force replaces only data sets", where=out
        )
    if not (out / SCHEMA_FILE).exists() and any(out.iterdir()):
        raise ConfigError(
            f"is a folder without {SCHEMA_FILE}; --force replaces only data sets",
            where=out,
            hint="pick another --out, or remove the folder yourself",
        )


def _split(
    table: Table, fraction: float | None, seed: int, warn: Callable[[str], None] = warn_stderr
) -> dict[str, Table]:
    """A seeded random split that keeps source order inside each part."""
    if fraction is None:
        return {"train": table}
    n = table.rows
    k = round(n * fraction)
    if k == 0 or k == n:
        raise ConfigError(
            f"--split {fraction} of {n} rows leaves one side empty", where=table.source
        )
    if min(k, n - k) < FEW_SPLIT_ROWS:
        warn(
            f"--split {fraction} of {n} rows leaves {n - k} training and {k} validation "
            f"row{'s' * (k != 1)}: metrics on so few rows say little"
        )
    perm = np.random.default_rng(seed).permutation(n)
    return {
        "train": table.take(np.sort(perm[k:])),
        "validation": table.take(np.sort(perm[:k])),
    }


def write_dataset(
    tables: Mapping[str, Table],
    out: Path,
    *,
    source_format: str,
    task: LabelKind | None = None,
    shards: int = 1,
    compression: str | None = None,
    force: bool = False,
    sources: Mapping[str, Path] | None = None,
    extra: Mapping[str, object] | None = None,
    csv: CsvDialect | None = None,
    split_by: str | None = None,
    warn: Callable[[str], None] = warn_stderr,
    held: Sequence[str] = (),
) -> Schema:
    """Derive the schema from tables['train'], encode every split, write atomically.

    `split_by` names the option that made the validation split (`--split`), for the
    messages about its classes. `held`: warnings said only once the label and the
    validation classes pass their checks (a refusal is one line, not warnings and it)."""
    train = tables["train"]
    features: tuple[Feature, ...] = derive_features(train)
    label: Label = derive_label(train, task)
    encoded = {name: encode_labels(t, label) for name, t in tables.items()}
    said = list(held)
    if "validation" in encoded:
        check = encoded["validation"], label, tables["validation"]
        _check_validation_classes(*check, split_by, said.append)
    for message in said:
        warn(message)
    if label.kind == "regression":  # the model trains on the label standardized by these
        values = encoded["train"].astype(np.float64)
        label = replace(label, mean=float(values.mean()), std=float(values.std()))

    from tuner.tabular.data.shards import fingerprint
    from tuner.tabular.data.writer import write_split

    out = out.absolute()
    _check_new(out, force)  # before the work, and again before publishing (a race)
    with staged_dir(out) as tmp:
        splits = {}
        hashes = {p: sha256(Path(p)) for p in set((sources or {}).values())}
        for name, table in tables.items():
            files, file_rows = write_split(
                table, encoded[name], label, tmp, name, shards, compression
            )
            source = (sources or {}).get(name)
            splits[name] = Split(
                rows=table.rows,
                files=tuple(files),
                file_rows=tuple(file_rows),
                source=str(Path(source).absolute()) if source else None,
                source_sha256=hashes.get(source) if source else None,
                fingerprints=tuple(fingerprint(tmp / f) for f in files),
            )
        schema = Schema(
            features=features,
            label=label,
            splits=splits,
            source_format=source_format,  # type: ignore[arg-type]
            compression=compression,  # type: ignore[arg-type]
            extra=dict(extra or {}),
            csv=csv,
        )
        save_schema(schema, tmp)
        faults.point("convert")  # the resume tests kill a conversion here
        _check_new(out, force)
    return schema


def _check_validation_classes(
    encoded: np.ndarray,
    label: Label,
    table: Table,
    split_by: str | None,
    warn: Callable[[str], None],
) -> None:
    """A classification validation split needs two classes at least: AUC (and any
    per-class view) is undefined on one, and Keras would report it as 0.0. Classes of
    the training data it lacks are said: its metrics then miss them."""
    if label.classes is None or len(encoded) == 0:
        return
    present = sorted({int(i) for i in encoded.tolist()})
    rows = len(encoded)
    held = f"{split_by} holds out" if split_by else "the validation file has"
    if len(present) < 2:
        raise DataError(
            f"{held} {rows} row{'s' * (rows != 1)}, "
            f"{'all ' if rows != 1 else ''}of class '{label.classes[present[0]]}': "
            "validation AUC and accuracy need rows of two classes at least",
            where=table.source,
            hint="hold out more rows with a larger --split, or give a --validation file "
            "with every class"
            if split_by
            else "give a validation file with rows of every class",
        )
    missing = [c for i, c in enumerate(label.classes) if i not in present]
    if missing:
        warn(
            f"{table.source}: {held} no rows of {len(missing)} of the {len(label.classes)} "
            f"training classes ({few(missing)}): its metrics miss them"
        )


def _check_new(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise DataError("already exists", where=out, hint="pass --force to replace it")
