"""Built-in data sets: materialized once into the cache, fixed splits, no download."""

from __future__ import annotations

from tuner.errors import DataError
from tuner.tabular.data import builtin, reader
from tuner.tabular.data.schema import load_schema


def test_breast_cancer():
    path = builtin.resolve("builtin:breast_cancer")
    schema = load_schema(path)
    assert schema.rows == 569
    assert [f.kind for f in schema.features] == ["numeric"] * 30
    assert (schema.label.kind, schema.label.classes) == ("binary", ("benign", "malignant"))
    assert (schema.splits["train"].rows, schema.splits["validation"].rows) == (455, 114)
    stamp = (path / "schema.json").stat().st_mtime_ns
    assert builtin.resolve("builtin:breast_cancer") == path  # cached, not rebuilt
    assert (path / "schema.json").stat().st_mtime_ns == stamp


def test_census_synthetic_is_seeded_and_mixed():
    schema = load_schema(builtin.resolve("builtin:census_synthetic"))
    kinds = {f.name: f.kind for f in schema.features}
    assert kinds["education"] == "categorical" and kinds["age"] == "numeric"
    assert schema.feature("occupation").missing > 0
    assert schema.extra["crosses"][0] == ["education", "occupation"]
    again = builtin.census_synthetic()
    assert again.labels.tolist() == builtin.census_synthetic().labels.tolist()
    batch, label = next(
        iter(reader.dataset(builtin.resolve("builtin:census_synthetic"), batch_size=4))
    )
    assert batch["education"].dtype.name == "string" and label.shape == (4,)


def test_unknown_builtin(cli):
    code, _, err = cli("data", "inspect", "builtin:nope")
    assert code == 2 and "unknown built-in data set 'nope'" in err and "breast_cancer" in err
    try:
        builtin.resolve("builtin:nope")
    except DataError as exc:
        assert "census_synthetic" in str(exc)
