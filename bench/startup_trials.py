"""How many random trials TPE should start with, on the real-data corpus (JSON on stdout).

Optuna's TPE samples its first `n_startup_trials` (default 10) at random; a sweep of 10
trials is then a random search, one of 20 half random (issue 27). tuner now scales the
random start to the budget (tuner.search.distributions.scaled_startup). This bench runs
the same search with several random starts and compares the best value found after 10
and 20 trials, and how many trials each needs to reach a value.

For each data set (tests/corpus/datasets.py, converted as the corpus bench does) the
space is the one `tune init` writes, its epochs capped (`--epochs`, to keep the bench
affordable on 2 cores); each trial is the tabular objective trained in this process
(`run_trial`, no Ray, no pruner: the sampler alone differs), scored by its best epoch
as a sweep scores it. A TPE study per (data set, seed, random start) asks 20 trials. A
config asked again (the random starts share their first points for a seed) is trained
once and its value reused: training is seeded, so it would give the same value.

Reported per data set and start: the best value after 10 and 20 trials (mean over
seeds) and the trials it took to reach `target` — the upper quartile of every trial
value that data set saw (the lower for RMSE): a top-quarter trial — plus a summary
that compares tuner's scaled start (3 at 10 trials, 5 at 20) with Optuna's 10, as the
mean relative value (ours / Optuna's, oriented so that above 1 is better). At 50 trials
or more the scaled start is Optuna's 10, so there is nothing to compare there.

Usage: python bench/startup_trials.py [--only NAME,NAME] [--seeds N] [--starts 3,5,7,10]
                                      [--trials 20] [--epochs 8]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from common import load

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SETS = "mass-fgl,daag-leafshape,cardata-mroz,aer-caschools"


def best_epoch_value(history: list[dict[str, Any]], metric: str, goal: str) -> float:
    values = [h[metric] for h in history if isinstance(h.get(metric), float)]
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return -math.inf if goal == "maximize" else math.inf
    return max(values) if goal == "maximize" else min(values)


def running_best(values: list[float], goal: str) -> list[float]:
    out, best = [], None
    for v in values:
        best = v if best is None else (max(best, v) if goal == "maximize" else min(best, v))
        out.append(best)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=DEFAULT_SETS, help="comma-separated corpus names")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--starts", default="3,5,7,10", help="random starts to compare")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=8, help="cap on tune init's epochs")
    args = parser.parse_args()
    starts = [int(s) for s in args.starts.split(",")]

    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    os.environ.pop("MLFLOW_TRACKING_URI", None)

    import optuna

    from tests.corpus.datasets import METRICS, by_name, write_csv
    from tuner.search.distributions import make_sampler, scaled_startup, suggest
    from tuner.space.load import parse_spec
    from tuner.tabular.data.convert import ConvertOptions, convert
    from tuner.tabular.model.train import run_trial
    from tuner.tabular.space_init import space_text

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.perf_counter()
    load_before = load()
    work = Path(tempfile.mkdtemp(prefix="tuner-bench-startup-"))
    sets: list[dict[str, Any]] = []
    try:
        for name in args.only.split(","):
            entry = by_name(name)
            folder = work / entry.name
            folder.mkdir()
            schema = convert(
                write_csv(entry, folder),
                folder / "ds",
                ConvertOptions(label=entry.label, split=0.2),
            )
            metric, goal = METRICS[entry.task]
            text = space_text(str(folder / "ds"), schema, name=entry.name, trials=args.trials)
            spec = parse_spec(text, check_objective=False)
            spec = replace(
                spec,
                budget=replace(spec.budget, max_epochs=min(args.epochs, spec.budget.max_epochs)),
            )
            cache: dict[str, float] = {}
            curves: dict[int, list[list[float]]] = {k: [] for k in starts}
            for seed in range(args.seeds):
                for k in starts:
                    sampler_spec = replace(
                        spec.sampler,
                        seed=seed,
                        options={**spec.sampler.options, "n_startup_trials": k},
                    )
                    sampler = make_sampler(replace(spec, sampler=sampler_spec))
                    study = optuna.create_study(direction=goal, sampler=sampler)
                    values = []
                    for _ in range(args.trials):
                        trial = study.ask()
                        config = suggest(trial, spec)
                        key = json.dumps(config, sort_keys=True)
                        if key not in cache:
                            out = run_trial(
                                config,
                                lambda epoch, metrics: None,
                                folder / "trials" / str(len(cache)),
                                export=False,
                            )
                            cache[key] = best_epoch_value(out["history"], metric, goal)
                        values.append(cache[key])
                        study.tell(trial, cache[key])
                    curves[k].append(running_best(values, goal))
                    print(
                        json.dumps({"data_set": name, "seed": seed, "start": k, "values": values}),
                        file=sys.stderr,
                        flush=True,
                    )
            finite = [v for v in cache.values() if math.isfinite(v)]
            if goal == "maximize":
                target = statistics.quantiles(finite, n=4)[2] if len(finite) > 3 else max(finite)
            else:
                target = statistics.quantiles(finite, n=4)[0] if len(finite) > 3 else min(finite)

            def reached(curve: list[float], target: float = target, goal: str = goal) -> int | None:
                for i, v in enumerate(curve):
                    if (v >= target) if goal == "maximize" else (v <= target):
                        return i + 1
                return None

            rows = {}
            for k, runs in curves.items():
                rows[k] = {
                    "best_at_10": round(statistics.mean(c[min(9, len(c) - 1)] for c in runs), 4),
                    f"best_at_{args.trials}": round(statistics.mean(c[-1] for c in runs), 4),
                    "trials_to_target": [reached(c) for c in runs],
                }
            sets.append(
                {
                    "data_set": name,
                    "metric": metric,
                    "goal": goal,
                    "target": round(target, 4),
                    "trained": len(cache),
                    "by_start": rows,
                }
            )
            print(json.dumps(sets[-1]), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def relative(row: dict[str, Any], ours: int, theirs: int, at: str) -> float | None:
        if ours not in row["by_start"] or theirs not in row["by_start"]:
            return None
        a, b = row["by_start"][ours][at], row["by_start"][theirs][at]
        return round((a / b) if row["goal"] == "maximize" else (b / a), 4)

    at_n = f"best_at_{args.trials}"
    summary = {
        "scaled_start": {10: scaled_startup(10), args.trials: scaled_startup(args.trials)},
        "relative_to_optuna_10_at_10_trials": {
            r["data_set"]: relative(r, scaled_startup(10), 10, "best_at_10") for r in sets
        },
        f"relative_to_optuna_10_at_{args.trials}_trials": {
            r["data_set"]: relative(r, scaled_startup(args.trials), 10, at_n) for r in sets
        },
        "load_average": {"before": load_before, "after": load()},
        "wall_s": round(time.perf_counter() - started, 1),
        "settings": vars(args),
    }
    print(json.dumps({"data_sets": sets, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
