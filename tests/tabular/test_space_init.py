"""`tune init DATASET`: the space file chosen from a data set's metadata — for every task
(binary, multiclass, regression) and size class (tiny, small, large training rows) —
is a valid space file whose batch size gives every trial enough steps, whose choices
are explained in comments, and which is written atomically, never over a file without
--force. Fast: schemas written as JSON, no training (tests/corpus/test_corpus.py runs
the written files end to end on real data)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tuner.space.load import load_spec, parse_spec
from tuner.tabular.data.schema import Feature, Label, Schema, Split
from tuner.tabular.space_init import (
    MAX_EPOCHS,
    MIN_EPOCHS,
    STEPS_PER_EPOCH,
    Facts,
    batch_size,
    epochs,
    space_text,
    sweep_name,
)

ROOT = Path(__file__).resolve().parents[2]
TASKS = {
    "binary": Label("y", "binary", classes=("no", "yes")),
    "multiclass": Label("y", "multiclass", classes=tuple("abcdefg")),
    "regression": Label("y", "regression", mean=3.0, std=2.0),
}
SIZES = {"tiny": 180, "small": 4_000, "large": 50_000}


def schema_of(task: str, rows: int, *, text: bool = True, vocabulary: int = 5) -> Schema:
    features = [Feature("x1", "numeric", mean=0.0, std=1.0, min=-3.0, max=3.0)]
    if text:
        features.append(
            Feature("city", "categorical", vocabulary=tuple(map(str, range(vocabulary))))
        )
    val = max(1, rows // 4)
    return Schema(
        features=tuple(features),
        label=TASKS[task],
        splits={
            "train": Split(rows, ("train-0.tfrecord",), (rows,)),
            "validation": Split(val, ("validation-0.tfrecord",), (val,)),
        },
        source_format="csv",
    )


def write_dataset(folder: Path, schema: Schema) -> Path:
    folder.mkdir(parents=True)
    (folder / "schema.json").write_text(json.dumps(schema.to_json()))
    for split in schema.splits.values():  # (no records: only the metadata is read)
        for name in split.files:
            (folder / name).touch()
    return folder


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("task", TASKS)
def test_every_task_and_size_gets_a_valid_space_with_enough_steps(task: str, size: str) -> None:
    rows = SIZES[size]
    schema = schema_of(task, rows)
    assert Facts.of(schema).size == size
    text = space_text("data/ds", schema)
    spec = parse_spec(text, check_objective=False)  # the JSON Schema and the cross-key checks
    metric = {"binary": "val_auc", "multiclass": "val_accuracy", "regression": "val_rmse"}[task]
    assert spec.metric.name == metric
    assert spec.metric.direction == ("minimize" if task == "regression" else "maximize")
    assert spec.budget.trials == 20 and spec.sampler.type == "tpe"
    assert "n_startup_trials" not in spec.sampler.options  # (scaled to the budget)
    batch = spec.fixed["batch_size"]
    steps = math.ceil(rows * 1.0 / batch)
    # enough steps an epoch where the rows allow it, and enough a trial
    assert steps >= min(STEPS_PER_EPOCH, rows // 16)
    assert MIN_EPOCHS <= spec.budget.max_epochs <= MAX_EPOCHS
    assert steps * spec.budget.max_epochs >= min(1000, steps * MAX_EPOCHS)
    params = {p.name for p in spec.params}
    assert {"learning_rate", "width", "depth", "dropout", "l2"} <= params
    assert {"numeric_buckets", "embedding_dim"} <= params  # a number and a text column
    assert spec.fixed["optimizer"] == "adam" and spec.fixed["model"] == "dnn"


def test_the_issues_few_hundred_rows_get_small_batches_and_more_epochs() -> None:
    """A batch of 64 on a few hundred rows was 5 steps an epoch (issue 27)."""
    assert batch_size(300) == 16 and epochs(300, 16) == 40
    assert batch_size(4_000) == 64 and epochs(4_000, 64) == 16
    assert batch_size(50_000) == 512 and epochs(50_000, 512) == 11
    assert batch_size(0) == 16 and batch_size(10**7) == 512


def test_only_the_columns_the_data_set_has_get_their_params() -> None:
    numbers_only = parse_spec(
        space_text("d", schema_of("binary", 500, text=False)), check_objective=False
    )
    assert "embedding_dim" not in {p.name for p in numbers_only.params}
    few = parse_spec(space_text("d", schema_of("binary", 500, vocabulary=4)), check_objective=False)
    many = parse_spec(
        space_text("d", schema_of("binary", 500, vocabulary=40)), check_objective=False
    )
    dims = {s.name: s for s in few.params}["embedding_dim"].choices
    assert list(dims) == [4, 8]
    assert list({s.name: s for s in many.params}["embedding_dim"].choices) == [4, 8, 16]


def test_every_choice_is_explained_and_identifiers_are_named() -> None:
    text = space_text("data/shops", schema_of("regression", 400, vocabulary=390))
    lines = text.splitlines()
    for i, line in enumerate(lines):
        key = line.split(":")[0].strip()
        if (
            line.startswith("  ")
            and not line.startswith("  #")
            and key
            in (
                "optimizer",
                "batch_size",
                "lr_schedule",
                "learning_rate",
                "width",
                "dropout",
                "numeric_buckets",
                "embedding_dim",
            )
        ):
            assert lines[i - 1].lstrip().startswith("#") or lines[i - 2].lstrip().startswith("#"), (
                key
            )
    assert "text column 'city' has 390 distinct values in 400 rows" in text
    assert "--ignore 'city'" in text
    assert text.startswith("# yaml-language-server: $schema=")
    assert Path(text.split("$schema=")[1].splitlines()[0]).is_file()


def test_sweep_names() -> None:
    assert sweep_name("builtin:breast_cancer") == "breast_cancer"
    assert sweep_name("data/My Shop (2024)") == "My-Shop--2024-"
    assert sweep_name("data/.hidden") == "hidden"


def test_tune_init_writes_refuses_to_overwrite_and_forces(cli, tmp_path: Path, monkeypatch) -> None:
    ds = write_dataset(tmp_path / "shops", schema_of("multiclass", 250))
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("init", "shops")
    assert code == 0, err
    written = tmp_path / "shops.yaml"
    assert (
        f"wrote {Path('shops.yaml')}: multiclass classification (7 classes); 250 training rows"
        in out
    )
    assert "next: tune run shops.yaml" in out
    spec = load_spec(written)  # as `tune run` reads it, the objective checks included
    assert spec.name == "shops" and spec.dataset == str(ds)
    assert 'dataset: "shops"' in written.read_text()  # as given: relative to where tune runs

    before = written.read_text()
    code, out, err = cli("init", ds, "--out", written, "--trials", "12")
    assert (code, out) == (2, "") and err.count("\n") == 1, err
    assert f"{written}: already exists (--force to overwrite it)" in err
    assert written.read_text() == before
    code, out, err = cli("init", ds, "--out", written, "--trials", "12", "--force", "--name", "s2")
    assert code == 0, err
    spec = load_spec(written)
    assert (spec.budget.trials, spec.name) == (12, "s2")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere"], "nowhere: no such data set directory"),
        (["builtin:nope"], "unknown built-in data set 'nope'"),
        (["DS", "--trials", "0"], "--trials"),
        (["DS", "--out", "DIR"], "is a directory"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli, tmp_path: Path, monkeypatch, args, message) -> None:
    write_dataset(tmp_path / "DS", schema_of("binary", 100))
    (tmp_path / "DIR").mkdir()
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("init", *args)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith("tune: error: ") and message in err, err


@pytest.mark.timeout(120)
def test_tune_init_reads_metadata_only(tmp_path: Path) -> None:
    """No TensorFlow (nor Ray, MLflow): the schema is JSON."""
    ds = write_dataset(tmp_path / "ds", schema_of("regression", 20_000))
    probe = (
        "import sys\n"
        "from tuner.cli.app import main\n"
        f"code = main(['init', {str(ds)!r}, '--out', {str(tmp_path / 's.yaml')!r}])\n"
        "heavy = ('tensorflow', 'keras', 'ray', 'mlflow')\n"
        "print(code, sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=100, cwd=ROOT
    )
    assert done.stdout.strip().splitlines()[-1] == "0 []", (done.stdout, done.stderr)
