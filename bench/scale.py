"""How a sweep's per-trial cost and its readers scale with its length (issue 30), as
ratios within one run (JSON on stdout):

1. One `run_sweep` of N trials of the analytic objective (bench/analytic.py, 2 epochs,
   the random sampler with seed 7 — TPE's own growth left out — no pruner by default,
   concurrency 2, MLflow on, no plots), in this process: after each trial is told, the
   process's CPU time (every thread: Ray's controller, the bridge, the MLflow client)
   and resident memory. Driver CPU per trial in an early window (trials N/10 to 2N/10)
   and the last tenth, and their ratio; memory growth per trial between those windows.
2. `tune status`, `tune best`, `tune ls` (fresh `tune` processes: wall time, the best
   of 3) on that sweep and on a 20-trial one, and their ratios; where the sweep keeps a
   summary (summary.json), the same reads after removing it (the journal replayed).
3. The sweep's files: Ray's (`.ray/`: bytes, trial folders), the journal, MLflow's store.
4. `--samplers N,...`: the sampler's own cost per trial in plain Optuna (no tuner), on an
   in-memory study already holding N finished trials of the same space: ms per ask,
   suggest and tell (mean of 10), for TPE's defaults and the options that change its
   cost (`n_ei_candidates`, `multivariate`), and for the random sampler. Skips 1-3.

Run it against another checkout with PYTHONPATH (the bench uses only run_sweep and the
CLI). Usage: python bench/scale.py [--trials N] [--pruner none|median] [--keep DIR]
                             [--samplers N,...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

SPACE = """\
name: {name}
objective: bench.analytic:bowl
metric: {{name: loss, goal: minimize}}
budget: {{trials: {trials}, max_epochs: 2}}
concurrency: 2
sampler: {{type: random, seed: 7}}
pruner: {pruner}
params:
  x: {{float: [0.0, 1.0]}}
  y: {{float: [-1.0, 1.0]}}
  lr: {{float: [1.0e-4, 1.0], log: true}}
  opt: {{choice: [adam, sgd, rmsprop]}}
"""


def rss_kb() -> int:
    """This process's resident memory now (KiB), from /proc."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * (resource.getpagesize() // 1024)


def sweep(results: Path, name: str, trials: int, pruner: str) -> list[tuple[float, int]]:
    """Run the sweep; (CPU seconds, RSS KiB) after each trial was told."""
    from tuner.space.load import parse_spec
    from tuner.sweep.bridge import Bridge
    from tuner.sweep.driver import RunOptions, run_sweep

    text = SPACE.format(name=name, trials=trials, pruner=pruner)
    spec = parse_spec(text, results / f"{name}.yaml", check_objective=False)
    marks: list[tuple[float, int]] = []
    finish = Bridge.finish

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return finish(self, *args, **kwargs)
        finally:
            marks.append((time.process_time(), rss_kb()))

    Bridge.finish = timed  # type: ignore[method-assign]
    try:
        run_sweep(spec, RunOptions(results=results, quiet=True, track=True, plots=False))
    finally:
        Bridge.finish = finish  # type: ignore[method-assign]
    return marks


def windows(marks: list[tuple[float, int]]) -> dict[str, Any]:
    n = len(marks)
    a, b = n // 10, 2 * n // 10  # early: trials N/10 .. 2N/10
    c, d = n - n // 10, n - 1  # late: the last tenth
    early = (marks[b][0] - marks[a][0]) / (b - a) * 1000
    late = (marks[d][0] - marks[c][0]) / (d - c) * 1000
    return {
        "told": n,
        "early_window": [a, b],
        "late_window": [c, d],
        "cpu_ms_per_trial_early": round(early, 2),
        "cpu_ms_per_trial_late": round(late, 2),
        "cpu_late_over_early": round(late / early, 3),
        "rss_mb_at_early": round(marks[b][1] / 1024, 1),
        "rss_mb_at_end": round(marks[d][1] / 1024, 1),
        "rss_kb_per_trial": round((marks[d][1] - marks[b][1]) / (d - b), 2),
    }


def read_time(args: list[str], repeat: int = 3) -> float:
    """Best-of-`repeat` wall seconds of `tune ARGS`."""
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "tuner", *args], capture_output=True, text=True, timeout=600
        )
        best = min(best, time.perf_counter() - began)
        if done.returncode != 0:
            raise SystemExit(f"bench: tune {' '.join(args)} failed: {done.stderr[-500:]}")
    return round(best, 3)


def reads(results: Path, name: str) -> dict[str, float]:
    where = ["--results", str(results)]
    return {
        "status_s": read_time(["status", name, *where]),
        "best_s": read_time(["best", name, *where]),
        "ls_s": read_time(["ls", *where]),
    }


def du(path: Path) -> int:
    """Bytes in a file, or in the files under a folder (0: none)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


SAMPLERS: dict[str, dict[str, Any]] = {
    "tpe": {},
    "tpe n_ei_candidates=8": {"n_ei_candidates": 8},
    "tpe multivariate": {"multivariate": True},
    "random": {},
}


def sampler_cost(sizes: list[int], repeat: int = 10) -> dict[str, dict[str, float]]:
    """ms per trial (ask, suggest the four params, tell) of each sampler, on a study
    already holding n finished trials, for n in `sizes` (see the module text, 4.)."""
    import random

    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    sys.path.insert(0, str(ROOT))
    from bench.analytic import loss

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {
        "x": FloatDistribution(0.0, 1.0),
        "y": FloatDistribution(-1.0, 1.0),
        "lr": FloatDistribution(1e-4, 1.0, log=True),
        "opt": CategoricalDistribution(["adam", "sgd", "rmsprop"]),
    }
    out: dict[str, dict[str, float]] = {}
    for n in sizes:
        rng = random.Random(7)
        history = []
        for _ in range(n):
            params = {
                "x": rng.random(),
                "y": rng.uniform(-1, 1),
                "lr": 10 ** rng.uniform(-4, 0),
                "opt": rng.choice(["adam", "sgd", "rmsprop"]),
            }
            history.append(
                optuna.trial.create_trial(params=params, distributions=space, value=loss(params))
            )
        for label, options in SAMPLERS.items():
            kind = (
                optuna.samplers.RandomSampler if label == "random" else optuna.samplers.TPESampler
            )
            study = optuna.create_study(sampler=kind(seed=7, **options))
            study.add_trials(history)
            began = time.process_time()
            for _ in range(repeat):
                trial = study.ask(space)
                study.tell(trial, loss(trial.params))
            spent = (time.process_time() - began) / repeat * 1000
            out.setdefault(label, {})[f"ms_at_{n}"] = round(spent, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--pruner", choices=["none", "median"], default="none")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    parser.add_argument("--samplers", help="N,...: the samplers' own cost only (see 4.)")
    args = parser.parse_args()
    if args.samplers:
        sizes = [int(n) for n in args.samplers.split(",")]
        print(json.dumps({"sampler_ms_per_trial": sampler_cost(sizes)}, indent=2))
        return

    os.chdir(ROOT)  # Ray's workers import bench.analytic from the repository root
    sys.path.insert(0, str(ROOT))
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    os.environ.pop("RAY_ADDRESS", None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    pruner = "{type: none}" if args.pruner == "none" else "{type: median}"
    work = args.keep or Path(tempfile.mkdtemp(prefix="tuner-bench-scale-"))
    began = time.perf_counter()
    try:
        big, small = work / "big", work / "small"
        marks = sweep(big, "scale", args.trials, pruner)
        sweep(small, "scale", 20, pruner)
        import tuner

        out: dict[str, Any] = {
            "tuner": str(Path(tuner.__file__).parent),
            "trials": args.trials,
            "pruner": args.pruner,
            "sweep": windows(marks),
        }
        at_n, at_20 = reads(big, "scale"), reads(small, "scale")
        out["reads"] = {
            f"at_{args.trials}": at_n,
            "at_20": at_20,
            "ratios": {k: round(at_n[k] / at_20[k], 3) for k in at_n},
        }
        kept = big / "scale" / "summary.json"
        if kept.exists():  # the same reads replaying the journal (each read rewrites it)
            replayed = {}
            for verb, cmd in (("status_s", ["status", "scale"]), ("best_s", ["best", "scale"])):
                times = []
                for _ in range(3):
                    kept.unlink(missing_ok=True)
                    times.append(read_time([*cmd, "--results", str(big)], repeat=1))
                replayed[verb] = min(times)
            out["reads"][f"at_{args.trials}_without_summary"] = replayed
        sweep_dir = big / "scale"
        ray_dir = sweep_dir / ".ray"
        out["files"] = {
            "ray_bytes": du(ray_dir),
            "ray_trial_folders": sum(1 for p in ray_dir.rglob("trial_*") if p.is_dir()),
            "ray_bytes_per_trial": round(du(ray_dir) / args.trials),
            "journal_bytes": (sweep_dir / "study.journal").stat().st_size,
            "mlflow_bytes": du(big / "mlflow.db") + du(big / "mlartifacts"),
        }
        out["wall_s"] = round(time.perf_counter() - began, 1)
        out["load_average"] = list(os.getloadavg())
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
