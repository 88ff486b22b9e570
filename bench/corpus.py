"""A sweep's best validation metric against scikit-learn's untuned gradient boosting, on
the real-data corpus of tests/corpus/datasets.py (JSON on stdout).

For each data set: written as CSV (`df.to_csv(path, index=False)`, R's row names dropped),
converted as a user would (`tune data convert CSV --label COL --split 0.2`, no --task),
then swept (`tune run`'s path: `run_sweep` on a space file, concurrency 2). The space
file, `--space`: `init` (the default) is the one `tune init DATASET` writes for the
converted data set (tuner/tabular/space_init.py: batch size and epochs from its rows,
Adam, cosine decay, width, depth, dropout, L2, numeric buckets, embeddings; TPE and the
median pruner), 20 trials; `plain` is the earlier hand-written one (8 trials × 8
epochs, TPE, median pruner, a DNN over learning rate, width, depth, dropout and batch
size). The baseline is `HistGradientBoostingClassifier`/`Regressor` with its
defaults (it stops early on a slice of its own training rows), fitted on exactly the
converted training rows and scored on exactly the validation rows (the converter's split,
copied in tests/corpus/datasets.py and checked against the converted data set by the
corpus test); text columns are ordinal-encoded (missing and unseen values as missing, at
most 254 categories, rarer ones grouped) and declared categorical, missing numbers left
as NaN (HistGradientBoosting handles both natively).

Both sides score the project's metric for the task, as the tabular objective reports it:
binary `val_auc`, multiclass `val_accuracy`, regression `val_rmse` (in the label's units).
`ratio` = ours / sklearn; `relative` is oriented so that above 1 means the sweep did
better (ours / sklearn for AUC and accuracy, sklearn / ours for RMSE). The summary gives
the geometric mean of `relative` per task and overall, and the data sets that failed.

Usage: python bench/corpus.py [--space init|plain] [--quick] [--trials N] [--epochs E]
                              [--concurrency C] [--only NAME,NAME] [--keep DIR]
--quick: the corpus test's budget (2 trials × 2 epochs, one at a time, a fixed space).
--epochs: the plain space's epochs (init's come from the data set).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from common import load

ROOT = Path(__file__).resolve().parent.parent

SPACE = """\
name: {name}
dataset: {dataset}
metric: {{name: {metric}, goal: {goal}}}
budget: {{trials: {trials}, max_epochs: {epochs}, time: 30m}}
concurrency: {concurrency}
sampler: {{type: tpe, seed: 0}}
pruner: {{type: median, warmup_epochs: 2, startup_trials: 4}}
fixed: {{model: dnn, optimizer: adam}}
params:
  learning_rate: {{float: [1.0e-3, 3.0e-2], log: true}}
  width: {{choice: [32, 64, 128]}}
  depth: {{int: [1, 3]}}
  dropout: {{float: [0.0, 0.3]}}
  batch_size: {{choice: [64, 256]}}
"""

QUICK_SPACE = """\
name: {name}
dataset: {dataset}
metric: {{name: {metric}, goal: {goal}}}
budget: {{trials: {trials}, max_epochs: {epochs}, time: 10m}}
concurrency: {concurrency}
sampler: {{type: random, seed: 0}}
pruner: {{type: none}}
fixed: {{model: dnn, batch_size: 256, depth: 1, width: 16}}
params:
  learning_rate: {{float: [3.0e-3, 3.0e-2], log: true}}
"""


def sklearn_score(entry: Any, csv: Path, classes: list[str] | None) -> tuple[float, float]:
    """(the task's metric on the validation rows, seconds) for untuned HistGradientBoosting
    trained on the training rows of the converter's split."""
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.preprocessing import OrdinalEncoder

    from tests.corpus.datasets import canonical, split_rows
    from tuner.tabular.data.table import MISSING_TOKENS

    started = time.perf_counter()
    text = pd.read_csv(csv, dtype=str, keep_default_na=False)
    text = text.apply(lambda col: col.str.strip())
    y_text = text.pop(entry.label)
    missing = text.isin(list(MISSING_TOKENS))
    features = text.mask(missing)
    numeric, categorical = [], []
    for name in features.columns:  # the converter's rule: numeric when every value parses
        values = pd.to_numeric(features[name], errors="coerce")
        if values.notna().sum() == features[name].notna().sum():
            features[name] = values
            numeric.append(name)
        else:
            categorical.append(name)
    train, validation = split_rows(len(features))
    encode = ColumnTransformer(
        [
            (
                "text",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                    max_categories=254,
                    dtype=float,
                ),
                categorical,
            )
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    x_train = encode.fit_transform(features.iloc[train])
    x_val = encode.transform(features.iloc[validation])
    cats = [x_train.columns.get_loc(c) for c in categorical]
    if entry.task == "regression":
        y = y_text.astype(float).to_numpy()
        model = HistGradientBoostingRegressor(categorical_features=cats or None, random_state=0)
        model.fit(x_train, y[train])
        score = float(np.sqrt(np.mean((model.predict(x_val) - y[validation]) ** 2)))
    else:
        y = np.array([canonical(v) for v in y_text])
        model = HistGradientBoostingClassifier(categorical_features=cats or None, random_state=0)
        model.fit(x_train, y[train])
        if entry.task == "binary":
            assert classes is not None
            positive = list(model.classes_).index(classes[1])
            proba = model.predict_proba(x_val)[:, positive]
            score = float(roc_auc_score(y[validation] == classes[1], proba))
        else:
            score = float(accuracy_score(y[validation], model.predict(x_val)))
    return score, time.perf_counter() - started


def run_one(entry: Any, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from tests.corpus.datasets import METRICS, write_csv
    from tuner.space.load import load_spec
    from tuner.sweep.driver import RunOptions, run_sweep
    from tuner.tabular.data.convert import ConvertOptions, convert

    folder = work / entry.name
    folder.mkdir()
    metric, goal = METRICS[entry.task]
    row: dict[str, Any] = {
        "data_set": f"{entry.package}/{entry.item}",
        "label": entry.label,
        "expected_task": entry.task,
        "metric": metric,
    }
    started = time.perf_counter()
    csv = write_csv(entry, folder)
    schema = convert(csv, folder / "ds", ConvertOptions(label=entry.label, split=0.2, seed=0))
    row["inferred_task"] = schema.label.kind
    row["rows"] = {name: split.rows for name, split in schema.splits.items()}
    row["features"] = len(schema.features)
    row["convert_s"] = round(time.perf_counter() - started, 2)
    if schema.label.kind != entry.task:
        raise RuntimeError(f"inferred {schema.label.kind}, expected {entry.task}")

    space = folder / "space.yaml"
    if args.space == "init" and not args.quick:
        from tuner.tabular.space_init import space_text

        space.write_text(
            space_text(str(folder / "ds"), schema, name=entry.name, trials=args.trials)
        )
    else:
        template = QUICK_SPACE if args.quick else SPACE
        space.write_text(
            template.format(
                name=entry.name,
                dataset=json.dumps(str(folder / "ds")),
                metric=metric,
                goal=goal,
                trials=args.trials,
                epochs=args.epochs,
                concurrency=args.concurrency,
            )
        )
    spec = load_spec(space, concurrency=args.concurrency)
    row["space"] = {"max_epochs": spec.budget.max_epochs, "fixed": spec.fixed}
    started = time.perf_counter()
    outcome = run_sweep(spec, RunOptions(results=folder / "results", quiet=True, plots=False))
    row["sweep_s"] = round(time.perf_counter() - started, 1)
    row["trials"] = outcome.counts
    if outcome.best_value is None:
        raise RuntimeError(f"no complete trial: {outcome.counts}")
    ours = float(outcome.best_value)
    classes = list(schema.label.classes) if schema.label.classes else None
    theirs, sklearn_s = sklearn_score(entry, csv, classes)
    row["sklearn_s"] = round(sklearn_s, 1)
    row["ours"] = round(ours, 4)
    row["sklearn_hgb"] = round(theirs, 4)
    row["ratio"] = round(ours / theirs, 4) if theirs else None
    relative = (theirs / ours) if goal == "minimize" else (ours / theirs)
    row["relative"] = round(relative, 4) if math.isfinite(relative) else None
    return row


def geomean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None and v > 0]
    if not values:
        return None
    return round(math.exp(sum(map(math.log, values)) / len(values)), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--space",
        choices=["init", "plain"],
        default="init",
        help="the space file: tune init's for the data set (default), or the plain one",
    )
    parser.add_argument("--quick", action="store_true", help="the corpus test's budget")
    parser.add_argument("--trials", type=int, help="trials per sweep (init 20, plain 8; quick 2)")
    parser.add_argument("--epochs", type=int, help="plain: epochs per trial (8; quick 2)")
    parser.add_argument("--concurrency", type=int, help="trials at once (default 2; quick 1)")
    parser.add_argument("--only", help="comma-separated corpus names (see --list)")
    parser.add_argument("--list", action="store_true", help="print the corpus names and exit")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    args.trials = args.trials or (2 if args.quick else 20 if args.space == "init" else 8)
    args.epochs = args.epochs or (2 if args.quick else 8)
    args.concurrency = args.concurrency or (1 if args.quick else 2)

    # the workers import the objectives from the repository root: cwd and PYTHONPATH
    # (passed on by ensure_ray); our own local Ray, whatever RAY_ADDRESS says
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    os.environ.pop("RAY_ADDRESS", None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)

    from tests.corpus.datasets import CORPUS, by_name

    if args.list:
        print("\n".join(f"{e.name}\t{e.task}\t{e.why}" for e in CORPUS))
        return
    entries = [by_name(n) for n in args.only.split(",")] if args.only else list(CORPUS)

    started = time.perf_counter()
    load_before = load()
    from tuner.sweep.driver import ensure_ray

    ensure_ray()
    work = args.keep or Path(tempfile.mkdtemp(prefix="tuner-bench-corpus-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    try:
        for entry in entries:
            try:
                row = run_one(entry, args, work)
            except Exception as exc:  # one data set's failure is a result, not the end
                row = {
                    "data_set": f"{entry.package}/{entry.item}",
                    "expected_task": entry.task,
                    "error": f"{type(exc).__name__}: {exc}"[:500],
                    "where": traceback.format_exc().strip().splitlines()[-3:],
                }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)  # progress
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    tasks = sorted({e.task for e in entries})
    summary = {
        "budget": {
            "trials": args.trials,
            "epochs": args.epochs,
            "concurrency": args.concurrency,
            "space": "quick" if args.quick else args.space,
        },
        "data_sets": len(rows),
        "failed": [r["data_set"] for r in rows if "error" in r],
        "relative_geomean": {
            task: geomean([r.get("relative") for r in rows if r["expected_task"] == task])
            for task in tasks
        },
        "relative_geomean_all": geomean([r.get("relative") for r in rows]),
        "at_least_98_percent_of_sklearn": sum(1 for r in rows if (r.get("relative") or 0) >= 0.98),
        "below_90_percent_of_sklearn": [
            r["data_set"] for r in rows if r.get("relative") is not None and r["relative"] < 0.9
        ],
        "load_average": {"before": load_before, "after": load()},
        "wall_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps({"data_sets": rows, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
