"""The schema file written beside every converted data set.

It is the contract between conversion, the reader and the models: feature kinds and
vocabularies, normalization statistics from the training split only, the label's task,
and the shards of each split. Reading it validates it against a published JSON Schema
so that a hand-edited or truncated file is reported, not half-understood.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from tuner.atomic import write_text_atomic
from tuner.errors import DataError

SCHEMA_FILE = "schema.json"
FORMAT_VERSION = 1
_JSON_SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "dataset.schema.json"

FeatureKind = Literal["numeric", "categorical", "sparse"]
LabelKind = Literal["binary", "multiclass", "regression"]


@dataclass(frozen=True)
class Feature:
    """One model input. Which fields apply depends on `kind`."""

    name: str
    kind: FeatureKind
    # numeric: statistics of the training split, missing values excluded
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    # numeric, in a model's copy of the schema only: the bucket boundaries (quantiles of
    # the training split) of a model with numeric_buckets
    quantiles: tuple[float, ...] | None = None
    # categorical: training vocabulary, most frequent first; missing is not a value
    vocabulary: tuple[str, ...] | None = None
    # numeric and categorical: how many training rows had no value
    missing: int = 0
    # sparse (LIBSVM): 0-based ids below `dimension`, stored under two record keys
    dimension: int | None = None
    ids_key: str | None = None
    values_key: str | None = None

    @property
    def sparse_dimension(self) -> int:
        """A sparse feature's dimension (the data set schema requires one for it)."""
        if self.dimension is None:
            raise ValueError(f"feature '{self.name}' ({self.kind}) has no sparse dimension")
        return self.dimension

    @property
    def sparse_keys(self) -> tuple[str, str]:
        """A sparse feature's record keys, (ids, values) (required for it, as above)."""
        if self.ids_key is None or self.values_key is None:
            raise ValueError(f"feature '{self.name}' ({self.kind}) has no sparse record keys")
        return self.ids_key, self.values_key

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None}
        if self.vocabulary is not None:
            out["vocabulary"] = list(self.vocabulary)
        if self.quantiles is not None:
            out["quantiles"] = list(self.quantiles)
        if self.kind == "sparse":
            out.pop("missing", None)
        return out


@dataclass(frozen=True)
class Label:
    name: str
    kind: LabelKind
    classes: tuple[str, ...] | None = None  # class index i ↔ classes[i]
    # regression: the training split's label mean and std (the model standardizes with them)
    mean: float | None = None
    std: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.classes is not None:
            out["classes"] = list(self.classes)
        if self.mean is not None:
            out["mean"], out["std"] = self.mean, self.std
        return out


@dataclass(frozen=True)
class Split:
    rows: int
    files: tuple[str, ...]  # relative to the data set directory
    file_rows: tuple[int, ...]  # records in each file
    source: str | None = None
    source_sha256: str | None = None
    # FarmHash64 of each file as written: lets the reader read a shard in bulk (shards.py)
    fingerprints: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rows": self.rows,
            "files": list(self.files),
            "file_rows": list(self.file_rows),
        }
        if self.fingerprints is not None:
            out["fingerprints"] = list(self.fingerprints)
        if self.source is not None:
            out["source"] = self.source
            out["source_sha256"] = self.source_sha256
        return out


@dataclass(frozen=True)
class DateColumn:
    """A CSV column of dates made numeric features `<column>.<part>` (`--dates`): how its
    text is written (tuner.tabular.data.dates.FORMATS), its parts, and a training value
    (for messages and the MLflow model's input example)."""

    format: str
    parts: tuple[str, ...]
    example: str

    def features(self, column: str) -> list[str]:
        return [f"{column}.{p}" for p in self.parts]

    def to_json(self) -> dict[str, Any]:
        return {"format": self.format, "parts": list(self.parts), "example": self.example}


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV source was read, so that a later CSV of the same data set (`tune
    predict`) is read the same way: its delimiter, whether numbers are written with a
    decimal comma (`1,5`), and which columns of dates became numeric parts."""

    delimiter: str = ","
    decimal_comma: bool = False
    dates: dict[str, DateColumn] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"delimiter": self.delimiter, "decimal_comma": self.decimal_comma}
        if self.dates:
            out["dates"] = {name: d.to_json() for name, d in self.dates.items()}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CsvDialect:
        dates = {
            name: DateColumn(d["format"], tuple(d["parts"]), d["example"])
            for name, d in data.get("dates", {}).items()
        }
        return cls(data["delimiter"], data.get("decimal_comma", False), dates)


@dataclass(frozen=True)
class Schema:
    features: tuple[Feature, ...]
    label: Label
    splits: dict[str, Split]
    source_format: Literal["csv", "libsvm", "builtin"]
    compression: Literal["GZIP"] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    csv: CsvDialect | None = None  # a CSV source's dialect (older data sets: none)

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.splits.values())

    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def record_keys(self) -> dict[str, str]:
        """Every key a record holds, mapped to its protobuf list kind."""
        keys: dict[str, str] = {}
        for f in self.features:
            if f.kind == "numeric":
                keys[f.name] = "float_list"
            elif f.kind == "categorical":
                keys[f.name] = "bytes_list"
            else:
                keys[f.ids_key or ""] = "int64_list"
                keys[f.values_key or ""] = "float_list"
        keys[self.label.name] = "float_list" if self.label.kind == "regression" else "int64_list"
        return keys

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "source_format": self.source_format,
            "compression": self.compression,
            "features": [f.to_json() for f in self.features],
            "label": self.label.to_json(),
            "splits": {name: s.to_json() for name, s in self.splits.items()},
            "rows": self.rows,
            **({"csv": self.csv.to_json()} if self.csv else {}),
            **({"extra": self.extra} if self.extra else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schema:
        features = tuple(
            Feature(
                **{
                    **f,
                    "vocabulary": tuple(f["vocabulary"]) if "vocabulary" in f else None,
                    "quantiles": tuple(f["quantiles"]) if "quantiles" in f else None,
                }
            )
            for f in data["features"]
        )
        label = data["label"]
        return cls(
            features=features,
            label=Label(
                name=label["name"],
                kind=label["kind"],
                classes=tuple(label["classes"]) if "classes" in label else None,
                mean=label.get("mean"),
                std=label.get("std"),
            ),
            splits={
                name: Split(
                    rows=s["rows"],
                    files=tuple(s["files"]),
                    file_rows=tuple(s["file_rows"]),
                    source=s.get("source"),
                    source_sha256=s.get("source_sha256"),
                    fingerprints=tuple(s["fingerprints"]) if "fingerprints" in s else None,
                )
                for name, s in data["splits"].items()
            },
            source_format=data["source_format"],
            compression=data.get("compression"),
            extra=data.get("extra", {}),
            csv=CsvDialect.from_json(data["csv"]) if "csv" in data else None,
        )


def json_schema() -> dict[str, Any]:
    return json.loads(_JSON_SCHEMA.read_text())


def load_schema(directory: str | Path) -> Schema:
    """Read and validate `schema.json` of a converted data set."""
    directory = Path(directory)
    if not directory.exists():
        raise DataError("no such data set directory", where=directory)
    if not directory.is_dir():
        raise DataError(
            "not a data set directory", where=directory, hint="expected a folder with schema.json"
        )
    path = directory / SCHEMA_FILE
    if not path.exists():
        raise DataError(
            f"no {SCHEMA_FILE} here",
            where=directory,
            hint="convert the source first with `tune data convert`",
        )
    text = path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"line {exc.lineno}: not valid JSON: {exc.msg}", where=path) from None
    # a space file's load checks prepare one config per probe, each loading this schema:
    # its JSON Schema check (~10 ms) runs once per distinct text
    if text not in _VALID_TEXTS:
        _validate(data, path)
        _VALID_TEXTS[text] = None
        while len(_VALID_TEXTS) > 32:
            del _VALID_TEXTS[next(iter(_VALID_TEXTS))]
    schema = Schema.from_json(data)
    for name, split in schema.splits.items():
        for rel in split.files:
            if not (directory / rel).is_file():
                raise DataError(f"split '{name}' lists {rel}, which does not exist", where=path)
    for name, split in schema.splits.items():
        if len(split.file_rows) != len(split.files) or sum(split.file_rows) != split.rows:
            raise DataError(
                f"split '{name}': file_rows do not add up to rows {split.rows}", where=path
            )
        if split.fingerprints is not None and len(split.fingerprints) != len(split.files):
            raise DataError(f"split '{name}': one fingerprint per file expected", where=path)
    return schema


_VALID_TEXTS: dict[str, None] = {}  # schema.json texts that passed _validate (oldest first)


@functools.cache
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(json_schema())


def _validate(data: Any, path: Path) -> None:
    validator = _validator()
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        key = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise DataError(f"key '{key}': {err.message}", where=path, hint="not a valid tuner schema")


def save_schema(schema: Schema, directory: str | Path) -> Path:
    """Write atomically: a reader never sees a half-written schema."""
    return write_text_atomic(
        Path(directory) / SCHEMA_FILE, json.dumps(schema.to_json(), indent=2) + "\n"
    )
