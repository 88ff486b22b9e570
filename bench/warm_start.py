"""What a warm start buys (JSON on stdout): trials to reach an earlier sweep's best.

On a cheap analytic objective (`bench/analytic.py`: a bowl in x, y, a log-scaled lr and a
choice of optimizer, 2 epochs a trial), through the whole `tune run` path (`run_sweep`:
Ray Tune, the study in its journal; MLflow and plots off):

1. sweep A from scratch: N trials (TPE, seed 0) on the full space; its best value is the
   target (met when a trial's value is within --tolerance of it, relatively);
2. for each of a few seeds, three sweeps of M trials on a changed space (x narrowed to
   [-1, 2], the choice rmsprop removed, so some of A's trials no longer fit), TPE with
   that seed, no pruner:
   - warm: `warm_start: {from: A, top: 3}` — A's fitting trials as history, its best 3
     run first;
   - history only: `warm_start: {from: A, top: 0}` — the sampler's gain alone;
   - scratch: no warm start.
   For each: how many of its own trials it took to reach the target (M + 1 when it never
   did, counted as not reached) and its best value after M trials.

Medians over the seeds. The warm sweep's first trial re-runs A's best config, so on this
deterministic objective it meets the target at once by construction; "history only"
shows what the sampler alone learns from the history.

Usage: python bench/warm_start.py [--a-trials N] [--trials M] [--seeds 1,2,3,4,5]
                                  [--tolerance 0.02]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

SPACE = """\
name: {name}
objective: bench.analytic:bowl
metric: {{name: loss, goal: minimize}}
budget: {{trials: {trials}, max_epochs: 2}}
concurrency: 1
sampler: {{type: tpe, seed: {seed}}}
pruner: {{type: none}}
params:
  x: {{float: [{x_low}, 2.0]}}
  y: {{float: [-2.0, 2.0]}}
  lr: {{float: [1.0e-5, 1.0], log: true}}
  opt: {{choice: [{choices}]}}
{warm}"""


def space(name: str, trials: int, seed: int, *, changed: bool, warm: str = "") -> str:
    return SPACE.format(
        name=name,
        trials=trials,
        seed=seed,
        x_low=-1.0 if changed else -2.0,
        choices="adam, sgd" if changed else "adam, sgd, rmsprop",
        warm=warm,
    )


def sweep(text: str, work: Path) -> Any:
    from tuner.space.load import parse_spec
    from tuner.sweep.driver import RunOptions, run_sweep

    spec = parse_spec(text, work / "space.yaml")
    options = RunOptions(
        results=work / "results", quiet=True, track=False, plots=False, stream=io.StringIO()
    )
    return run_sweep(spec, options)


def measure(outcome: Any, target: float) -> dict[str, Any]:
    """Trials (own, in order) until one met the target, and the best after all of them."""
    from tuner.study.records import own_trials

    values = [
        t.value
        for t in sorted(own_trials(outcome.study.get_trials()), key=lambda t: t.number)
        if t.state.name == "COMPLETE" and t.value is not None
    ]
    reached = next((i for i, v in enumerate(values, 1) if v <= target), None)
    return {
        "to_target": reached if reached is not None else len(values) + 1,
        "reached": reached is not None,
        "best": min(values) if values else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-trials", type=int, default=30, help="sweep A's trials (N)")
    parser.add_argument("--trials", type=int, default=30, help="each later sweep's trials (M)")
    parser.add_argument("--seeds", default="1,2,3,4,5", help="comma-separated sampler seeds")
    parser.add_argument("--tolerance", type=float, default=0.02, help="relative, on A's best")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s]
    started = time.perf_counter()

    # Ray workers import bench.analytic from the repository root (cwd and PYTHONPATH are
    # passed on by ensure_ray); our own local Ray, whatever RAY_ADDRESS says.
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    os.environ.pop("RAY_ADDRESS", None)
    work = Path(tempfile.mkdtemp(prefix="tuner-bench-warm-start-"))
    try:
        result = run(args, seeds, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=2))


def run(args: argparse.Namespace, seeds: list[int], work: Path) -> dict[str, Any]:
    from tuner.study.records import read_warm_start
    from tuner.sweep.driver import ensure_ray

    ensure_ray(num_cpus=2)
    a = sweep(space("a", args.a_trials, 0, changed=False), work)
    assert a.best_value is not None
    target = a.best_value * (1 + args.tolerance)
    kinds = {
        "warm": "warm_start: {from: a, top: 3}\n",
        "history_only": "warm_start: {from: a, top: 0}\n",
        "scratch": "",
    }
    per_seed: list[dict[str, Any]] = []
    added: dict[str, Any] | None = None
    for seed in seeds:
        row: dict[str, Any] = {"seed": seed}
        for kind, warm in kinds.items():
            name = f"{kind.replace('_', '-')}-{seed}"
            outcome = sweep(space(name, args.trials, seed, changed=True, warm=warm), work)
            row[kind] = measure(outcome, target)
            added = added or read_warm_start(outcome.study)
        per_seed.append(row)
        print(f"bench: seed {seed}: {json.dumps(row)}", file=sys.stderr, flush=True)

    def median(kind: str, key: str) -> float:
        return statistics.median(r[kind][key] for r in per_seed)

    return {
        "objective": "bench.analytic:bowl (minimize loss; 0 at the optimum)",
        "a": {"trials": args.a_trials, "best": a.best_value},
        "target": {"value": target, "tolerance": args.tolerance},
        "later_sweeps": {
            "trials": args.trials,
            "seeds": seeds,
            "changed_space": "x narrowed to [-1, 2], choice rmsprop removed",
        },
        "warm_start": added,
        "median_trials_to_target": {k: median(k, "to_target") for k in kinds},
        "reached_target": {k: sum(r[k]["reached"] for r in per_seed) for k in kinds},
        "median_best_after_all": {k: median(k, "best") for k in kinds},
        "per_seed": per_seed,
    }


if __name__ == "__main__":
    main()
