"""Where `tune run`'s start-up goes, without TensorFlow (JSON on stdout).

Runs `python -m tuner run` on a one-trial, one-epoch sweep of the cheap test objective
(`tests.sweep.cheap:train`, no sleep) in a fresh results folder, REPEAT times per
variant, with `TUNER_TIMELINE` on, and reports for each start-up mark the median
seconds from the process's start (as bench/race.py's start-up pieces, minus the model's
own). Variants are environment settings tried against the baseline in the same command,
interleaved run by run (this machine is shared and noisy); the figure to read is each
variant's ratio to the baseline's median first epoch and process time.

Usage: python bench/startup.py [--repeat N] [--variants "name=VAR=VALUE[,VAR=VALUE];name2=..."]
e.g.   python bench/startup.py --variants prestart=RAY_prestart_worker_first_driver=1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, load

SPACE = """\
name: startup
objective: tests.sweep.cheap:train
metric: {name: score, goal: maximize}
budget: {trials: 1, max_epochs: 1}
sampler: {type: random, seed: 1}
pruner: {type: none}
params:
  x: {float: [0.1, 0.9]}
"""
MARKS = ("cli_start", "sweep_start", "study_ready", "ray_ready", "tracker_ready")
MARKS += ("fit_start", "warm_start", "trial_start", "epoch", "fit_end", "written_up", "cli_end")


def one(work: Path, env: dict[str, str]) -> dict[str, float]:
    """One `tune run`: seconds from the process's start to each mark's first time."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "space.yaml").write_text(SPACE)
    timeline = work / "timeline.jsonl"
    full = {**os.environ, "PYTHONPATH": str(ROOT), "TUNER_TIMELINE": str(timeline), **env}
    full.pop("MLFLOW_TRACKING_URI", None)
    t0 = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "tuner", "run", str(work / "space.yaml"), "-q"],
        cwd=work,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )
    total = time.time() - t0
    if done.returncode != 0:
        sys.exit(f"startup: tune run failed ({done.returncode}): {done.stderr[-2000:]}")
    first: dict[str, float] = {}
    for line in timeline.read_text().splitlines():
        mark = json.loads(line)
        first.setdefault(mark["event"], mark["t"] - t0)
    return {**{m: first[m] for m in MARKS if m in first}, "process": total}


def variants(spec: str | None) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {"baseline": {}}
    for item in filter(None, (spec or "").split(";")):
        name, _, settings = item.partition("=")
        out[name] = dict(kv.split("=", 1) for kv in settings.split(","))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--variants", help="name=VAR=VALUE[,VAR=VALUE];name2=...")
    args = parser.parse_args()
    tried = variants(args.variants)
    root = Path(tempfile.mkdtemp(prefix="tuner-startup-"))
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in tried}
    before = load()
    try:
        for _ in range(args.repeat):
            for name, env in tried.items():
                runs[name].append(one(root / name, env))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result: dict[str, Any] = {"repeat": args.repeat, "load_average": {"before": before}}
    for name, got in runs.items():
        keys = [k for k in (*MARKS, "process") if all(k in r for r in got)]
        result[name] = {
            "env": tried[name],
            "median_s": {k: round(statistics.median(r[k] for r in got), 2) for k in keys},
        }
    base = result["baseline"]["median_s"]
    for name in tried:
        mine = result[name]["median_s"]
        result[name]["ratio_to_baseline"] = {
            k: round(mine[k] / base[k], 3) for k in ("epoch", "process") if k in mine and k in base
        }
    result["load_average"]["after"] = load()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
