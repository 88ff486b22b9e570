"""One model on one vs two worker processes (tuner/tabular/model/launch.py): examples
per second and the communication share of a step, in one run. Prints JSON.

    python bench/distributed.py [--data DIR|builtin:NAME] [--epochs 4] [--batch 256]

Three runs of the same DNN config and seed, one after the other:
- `fit`: one process, Keras's `fit` (what a trial without `workers` runs);
- `loop_1`: the data-parallel loop on one worker with HALF the global batch — one
  worker's share of a 2-worker step, with no peer to talk to;
- `loop_2`: two workers, the full global batch (each computes what loop_1 computes).
Examples per second are the median over epochs 2.. (epoch 1 traces). The communication
share of a 2-worker step is 1 − (loop_1's step time / loop_2's step time): the time a
step spends in the all-reduce and in waiting for the other worker. On this machine's
2 cores the two workers also share the CPUs that one process has alone, so loop_2
cannot be faster than fit here; the figure says what scaling across real nodes would
have to beat.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import resolve_data


def _run(config: dict[str, Any], out: Path, workers: int | None) -> dict[str, Any]:
    from tuner.tabular.model.launch import run_distributed
    from tuner.tabular.model.train import run_trial

    seen: list[dict[str, float]] = []

    def report(epoch: int, metrics: dict[str, float]) -> None:
        seen.append(dict(metrics))

    t0 = time.perf_counter()
    if workers is None:
        run_trial(config, report, out, resume=False, export=False)
    else:
        run_distributed(config, report, out, workers=workers, resume=False)
    later = seen[1:] or seen
    rate = statistics.median(m["examples_per_sec"] for m in later)
    return {
        "examples_per_sec": round(rate, 1),
        "step_ms": round(1000 * config["batch_size"] / rate, 3),
        "val_auc": round(seen[-1].get("val_auc", float("nan")), 5),
        "wall_s": round(time.perf_counter() - t0, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="converted data set, Adult source folder or builtin:NAME")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    ref, described, _ = resolve_data(args.data)
    base = {
        "dataset": ref,
        "model": "dnn",
        "hidden_units": [128, 64, 32],
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "epochs": args.epochs,
        "seed": 0,
    }
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp:
        fit = _run({**base, "batch_size": args.batch}, Path(tmp) / "fit", None)
        one = _run({**base, "batch_size": args.batch // 2}, Path(tmp) / "one", 1)
        two = _run({**base, "batch_size": args.batch}, Path(tmp) / "two", 2)
    # a loop_1 step is one worker's share of a loop_2 step, computed alone
    share = 1 - one["step_ms"] / two["step_ms"] if two["step_ms"] else None
    print(
        json.dumps(
            {
                "data": described,
                "global_batch": args.batch,
                "epochs": args.epochs,
                "fit": fit,
                "loop_1": one,
                "loop_2": two,
                "two_workers_over_fit": round(two["examples_per_sec"] / fit["examples_per_sec"], 3),
                "two_workers_over_one_loop": round(
                    two["examples_per_sec"] / one["examples_per_sec"], 3
                ),
                "communication_share_of_a_step": None if share is None else round(share, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
