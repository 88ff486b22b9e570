"""A program trial's cost against the same model as a Python objective (JSON on stdout).

The model is the same in every contestant: logistic regression by full-batch gradient
descent on 20,000 × 20 synthetic rows in numpy (~40 ms an epoch here), 30 epochs. It
runs four ways, one trial each, alternating over --repeat rounds in one process so
machine noise hits all alike:

- `python`: the model as a Python objective, called with the trial's report function;
- `output`: the same code as a program (`python program.py --epochs=30 ...`) run by
  `tuner.program.runner.run_program`, its epochs read from the lines it prints;
- `report`: the program reporting with `tuner.report`;
- `tensorboard`: the program writing TensorBoard event files (TensorBoard's record
  writer, no TensorFlow), read from its trial folder.

Per contestant: the trial's wall time, the time to its first reported epoch, and the
per-epoch time from the first report to the last; the ratios are to `python` in the
same round. The program's start (a Python interpreter importing numpy) is in its
first-epoch time, not in its per-epoch time. The report and TensorBoard routes are read
every 0.5 s (POLL_S), so their epochs reach the pruner up to that late, in batches.
Usage: python bench/program.py [--repeat 3] [--epochs 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = """
import numpy as np

def train(epochs, emit):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20000, 20))
    y = (x @ rng.normal(size=20) + rng.normal(size=20000) > 0).astype(float)
    w = np.zeros(20)
    for epoch in range(1, epochs + 1):
        for _ in range(40):
            p = 1 / (1 + np.exp(-(x @ w)))
            w -= 0.1 * x.T @ (p - y) / len(y)
        loss = float(-np.mean(y * np.log(p + 1e-9) + (1 - y) * np.log(1 - p + 1e-9)))
        emit(epoch, 1 - loss)
"""

EMIT = {
    "output": 'def emit(epoch, score):\n    print(f"epoch={epoch} score={score!r}", flush=True)',
    "report": "from tuner import report\ndef emit(epoch, score):\n    report(epoch, score=score)",
    "tensorboard": "import os, time\nfrom pathlib import Path\n"
    "from tests.program.events import Events\n"
    "events = Events(Path(os.environ['TUNER_TRIAL_DIR']) / 'tb')\n"
    "def emit(epoch, score):\n    events.scalar('score', epoch, score)",
}


def program_file(folder: Path, route: str) -> Path:
    path = folder / f"program_{route}.py"  # (not tensorboard.py: it would shadow the package)
    path.write_text(
        textwrap.dedent(MODEL)
        + EMIT[route]
        + "\nimport argparse\np = argparse.ArgumentParser(); p.add_argument('--epochs', type=int)"
        + "\ntrain(p.parse_args().epochs, emit)\n"
    )
    return path


def timed(run: Any) -> dict[str, float]:
    stamps: list[float] = []
    started = time.perf_counter()

    def report(epoch: int, metrics: dict[str, float]) -> None:
        stamps.append(time.perf_counter())

    run(report)
    total = time.perf_counter() - started
    return {
        "wall_s": total,
        "first_epoch_s": stamps[0] - started,
        # from the first report to the last (the polled routes report in batches)
        "epoch_ms": (stamps[-1] - stamps[0]) / (len(stamps) - 1) * 1000,
        "epochs": len(stamps),
    }


def main() -> None:
    import os

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])

    from tuner.program.runner import run_program
    from tuner.program.spec import ProgramSpec

    work = Path(tempfile.mkdtemp(prefix="tuner-bench-program-"))
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(MODEL), namespace)  # the Python objective: the same code

    def python(report: Any) -> None:
        namespace["train"](args.epochs, lambda epoch, score: report(epoch, {"score": score}))

    def program(route: str) -> Any:
        path = program_file(work, route)
        spec = ProgramSpec(command=f"python {path.name}", metrics=("score",), cwd=str(work))

        def run(report: Any) -> None:
            trial = Path(tempfile.mkdtemp(dir=work))
            run_program(spec, {"epochs": args.epochs}, report, trial)

        return run

    contestants = {"python": python, **{route: program(route) for route in EMIT}}
    rounds: list[dict[str, dict[str, float]]] = []
    for _ in range(args.repeat):
        rounds.append({name: timed(run) for name, run in contestants.items()})
    summary: dict[str, Any] = {}
    for name in contestants:
        keys = ("wall_s", "first_epoch_s", "epoch_ms")
        median = {k: statistics.median(r[name][k] for r in rounds) for k in keys}
        ratio = {
            f"{k}_ratio": statistics.median(r[name][k] / r["python"][k] for r in rounds)
            for k in keys
        }
        summary[name] = {**median, **ratio}
    print(json.dumps({"epochs": args.epochs, "repeat": args.repeat, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
