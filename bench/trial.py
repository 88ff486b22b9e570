"""One trial's speed and reuse, measured in one process (JSON on stdout).

1. steps/s of our training loop (run_trial itself: steps_per_execution, one fit per
   epoch) vs a default `model.fit` on the same model, built the same way (build_model,
   the same optimizer, loss and metrics, Keras's default compile: steps_per_execution=1)
   on the same tf.data data set from the reader. The two alternate epoch by epoch — the
   baseline's epoch runs inside run_trial's report callback — so machine noise hits
   both alike; the first epoch of each is a warm-up. Where the time goes: the same model
   at other steps_per_execution values, the same models on one repeated in-memory batch
   (the compute ceiling, no input pipeline) and the input pipeline alone.
2. Time from trial start to first step (run_trial's timings.start_to_first_step, i.e.
   up to the end of the first execution of steps_per_execution steps): the first trial in
   the process vs later ones (same config, new trial folder); whether a later trial read
   the data set again (reader.parse_count, and the reader's shard reads from disk) and
   whether TensorFlow was imported again.
3. Resident memory (VmRSS) after the first trial vs after the last of N trials.

The trials of 2 and 3 run first (the first must meet a cold process), then 1.
Usage: python bench/trial.py [--data DIR | ADULT_SOURCE_DIR | builtin:NAME] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import load, resolve_data

ROOT = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def trial_series(config: dict[str, Any], count: int, export: bool, work: Path) -> dict[str, Any]:
    """`count` trials of one config in this process: start-to-first-step, reuse, memory."""
    from tuner.tabular.data import reader
    from tuner.tabular.model.train import run_trial
    from tuner.tabular.runtime import tensorflow

    tf_before = tensorflow()
    reads = [0]  # the reader's shard reads from disk (a cold split)
    read_records = reader.read_records

    def counting_read(*args: Any, **kwargs: Any) -> Any:
        reads[0] += 1
        return read_records(*args, **kwargs)

    reader.read_records = counting_read
    rows: list[dict[str, Any]] = []
    try:
        for i in range(1, count + 1):
            parses, read = reader.parse_count, reads[0]
            start = time.perf_counter()
            payload = run_trial(config, lambda e, m: None, work / f"trial-{i}", export=export)
            seconds = time.perf_counter() - start
            gc.collect()
            rows.append(
                {
                    "trial": i,
                    "seconds": seconds,
                    "start_to_first_step": payload["timings"]["start_to_first_step"],
                    "parses": reader.parse_count - parses,
                    "disk_reads": reads[0] - read,
                    "parse_count": reader.parse_count,
                    "rss_mb": rss_mb(),
                }
            )
    finally:
        reader.read_records = read_records
    later = [r["start_to_first_step"] for r in rows[2:]] or [rows[-1]["start_to_first_step"]]
    first, second = rows[0], rows[1]
    reimported = not (sys.modules.get("tensorflow") is tf_before and tensorflow() is tf_before)
    return {
        "trials": count,
        "start_to_first_step_s": {
            "first_trial": round(first["start_to_first_step"], 3),
            "second_trial": round(second["start_to_first_step"], 3),
            "later_trials_median": round(statistics.median(later), 3),
            "first_over_second": round(
                first["start_to_first_step"] / second["start_to_first_step"], 2
            ),
        },
        "trial_seconds": {
            "first": round(first["seconds"], 2),
            "later_median": round(statistics.median(r["seconds"] for r in rows[1:]), 2),
        },
        "reuse": {
            "parse_count_after_trial": [r["parse_count"] for r in rows[:3]],
            "parse_count_after_last": rows[-1]["parse_count"],
            "disk_reads_per_trial": [r["disk_reads"] for r in rows[:3]],
            "disk_reads_after_trial_1": sum(r["disk_reads"] for r in rows[1:]),
            "parses_after_trial_2": sum(r["parses"] for r in rows[2:]),
            "tensorflow_reimported": reimported,
            "note": "parse_count counts a split when it is read and parsed into memory "
            "(trial 1 reads train and validation); a re-parse would be a disk read after "
            "trial 1",
        },
        "memory_mb": {
            "after_trial_1": round(first["rss_mb"]),
            "after_trial_2": round(second["rss_mb"]),
            f"after_trial_{count}": round(rows[-1]["rss_mb"]),
            "growth_1_to_last": round(rows[-1]["rss_mb"] - first["rss_mb"]),
            "growth_2_to_last": round(rows[-1]["rss_mb"] - second["rss_mb"]),
            "every_5th": [round(r["rss_mb"]) for r in rows[::5]],
        },
    }


def training_speed(
    config: dict[str, Any], epochs: int, sweep: list[int], work: Path
) -> dict[str, Any]:
    """Ours (run_trial) vs default fit, alternating epoch by epoch, plus where time goes."""
    from tuner.tabular.data import reader
    from tuner.tabular.model import train
    from tuner.tabular.model.build import build_model, label_scale
    from tuner.tabular.model.config import dataset_schema, prepare
    from tuner.tabular.model.layers import keras, tf
    from tuner.tabular.model.optimizers import combined, optimizers_for

    cfg = prepare({**config, "epochs": epochs + 1})
    data_dir, schema = dataset_schema(cfg["dataset"])
    rows = schema.splits[cfg["train_split"]].rows
    bs = cfg["batch_size"]
    steps = max(1, math.ceil(rows / bs))
    ours_spe = cfg.get("steps_per_execution", min(train.DEFAULT_STEPS_PER_EXECUTION, steps))
    sweep = sorted({min(s, steps) for s in sweep} - {1, ours_spe})

    def model(spe: int | None) -> Any:
        """The trial's model and optimizer, loss, metrics; spe=None: Keras's defaults."""
        keras.utils.set_random_seed(cfg["seed"])
        built = build_model(schema, cfg)
        optimizer = combined(optimizers_for(cfg, steps))
        loss, metrics = train.loss_and_metrics(built.task, cfg, label_scale(schema)[1])
        if spe is None:
            built.model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        else:
            built.model.compile(
                optimizer=optimizer,
                loss=loss,
                metrics=metrics,
                steps_per_execution=spe,
                jit_compile=False,
            )
        return built.model

    def data(epoch: int) -> Any:
        return reader.dataset(
            data_dir, cfg["train_split"], batch_size=bs, shuffle=True, seed=cfg["seed"], epoch=epoch
        )

    def fit_epoch(m: Any, ds: Any, callbacks: list[Any] | None = None) -> float:
        """Steps/s of one fit epoch (the data set is built before the clock starts, as in
        run_trial)."""
        start = time.perf_counter()
        m.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=callbacks)
        return steps / (time.perf_counter() - start)

    def drain(ds: Any) -> float:
        start = time.perf_counter()
        ds.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1).numpy()
        return steps / (time.perf_counter() - start)

    def iterate(ds: Any) -> float:
        start = time.perf_counter()
        for _ in ds:
            pass
        return steps / (time.perf_counter() - start)

    one_batch = None
    models: dict[str, Any] = {}
    times: dict[str, list[float]] = {}
    extra_epoch = iter(range(10_000, 20_000))  # other epochs' orders for the side loops

    def report(epoch: int, metrics: dict[str, float]) -> None:
        nonlocal one_batch
        if not models:  # built after run_trial's clear_session, before its timed epochs
            models["baseline"] = model(None)
            for s in sweep:
                models[f"spe_{s}"] = model(s)
            models["fixed_ours"] = model(ours_spe)
            models["fixed_baseline"] = model(None)
            one_batch = next(iter(data(0)))

        def fixed() -> Any:
            return tf.data.Dataset.from_tensors(one_batch).repeat(steps)

        # run_trial: examples_per_sec = rows / (seconds of its fit call)
        results = {"ours": metrics["examples_per_sec"] * steps / rows}
        results["baseline"] = fit_epoch(models["baseline"], data(epoch))
        for s in sweep:
            callbacks = [keras.callbacks.TerminateOnNaN()]  # what run_trial passes
            results[f"spe_{s}"] = fit_epoch(models[f"spe_{s}"], data(epoch), callbacks)
        results["fixed_ours"] = fit_epoch(models["fixed_ours"], fixed())
        results["fixed_baseline"] = fit_epoch(models["fixed_baseline"], fixed())
        results["pipeline_in_graph"] = drain(data(next(extra_epoch)))
        results["pipeline_python_loop"] = iterate(data(next(extra_epoch)))
        if epoch > 1:  # epoch 1 of every loop is its warm-up (tracing, first execution)
            for name, value in results.items():
                times.setdefault(name, []).append(value)

    load_before = load()
    train.run_trial({**config, "epochs": epochs + 1}, report, work / "speed", export=False)
    median = {k: statistics.median(v) for k, v in times.items()}
    best = {k: max(v) for k, v in times.items()}
    per_epoch_ratio = [o / b for o, b in zip(times["ours"], times["baseline"], strict=True)]

    def side(name: str) -> dict[str, float]:
        return {"median": round(median[name]), "best": round(best[name])}

    return {
        "config": {k: cfg[k] for k in ("model", "hidden_units", "batch_size", "optimizer")},
        "steps_per_epoch": steps,
        "timed_epochs": epochs,
        "ours": {"steps_per_execution": ours_spe, **side("ours")},
        "baseline": {"steps_per_execution": 1, **side("baseline")},
        "ratio": {
            "median_of_epoch_ratios": round(statistics.median(per_epoch_ratio), 2),
            "of_medians": round(median["ours"] / median["baseline"], 2),
            "of_bests": round(best["ours"] / best["baseline"], 2),
            "per_epoch": [round(r, 2) for r in per_epoch_ratio],
        },
        "where_the_time_goes": {
            "steps_per_execution_sweep": {
                "1 (baseline)": side("baseline"),
                f"{ours_spe} (ours)": side("ours"),
                **{str(s): side(f"spe_{s}") for s in sweep},
            },
            "one_repeated_batch_no_pipeline": {
                f"spe_{ours_spe}": side("fixed_ours"),
                "spe_1": side("fixed_baseline"),
                "ratio_of_bests": round(best["fixed_ours"] / best["fixed_baseline"], 2),
            },
            # the share of our best epoch's time the input pipeline adds (it shares the CPUs)
            "pipeline_share_of_ours": round(1 - best["ours"] / best["fixed_ours"], 2),
            "pipeline_only": {
                "in_graph_reduce": side("pipeline_in_graph"),
                "python_loop": side("pipeline_python_loop"),
            },
        },
        "load_average": {"before": load_before, "after": load()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="converted data set, Adult source folder or builtin:NAME")
    parser.add_argument("--quick", action="store_true", help="fewer epochs and trials")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--trials", type=int, help="trials for memory (default 30, quick 5)")
    parser.add_argument("--epochs", type=int, help="timed epochs (default 8, quick 2)")
    parser.add_argument(
        "--no-export", action="store_true", help="trials of 2 and 3 skip the SavedModel export"
    )
    args = parser.parse_args()
    trials = args.trials or (5 if args.quick else 30)
    epochs = args.epochs or (2 if args.quick else 8)
    if trials < 3:
        sys.exit("bench: --trials must be 3 or more")
    started = time.perf_counter()

    rss_start = rss_mb()
    from tuner.tabular.runtime import tensorflow

    t0 = time.perf_counter()
    tensorflow()
    import_s = time.perf_counter() - t0
    ref, described, convert_s = resolve_data(args.data)
    from tuner.tabular.model import train  # keras; before the first trial, as in a worker

    rss_imported = rss_mb()
    config = {
        "dataset": ref,
        "model": "dnn",
        "hidden_units": [128, 64, 32],
        "batch_size": args.batch_size,
        "epochs": 1,
    }
    work = Path(tempfile.mkdtemp(prefix="tuner-bench-trial-"))
    series = trial_series(config, trials, not args.no_export, work / "series")
    speed = training_speed(config, epochs, [8, 64, 128, 1 << 30] if not args.quick else [128], work)
    checks = {
        "later_trials_read_no_data": series["reuse"]["disk_reads_after_trial_1"] == 0
        and series["reuse"]["parses_after_trial_2"] == 0,
        "tensorflow_not_reimported": not series["reuse"]["tensorflow_reimported"],
    }
    targets = {"speed_ratio_min": 2.0, "memory_growth_mb_max": 200}
    result = {
        "bench": "trial",
        "data": described,
        "quick": args.quick,
        "trial_config": {**config, "dataset": "(above)", "export": not args.no_export},
        "setup": {
            "tensorflow_import_s": round(import_s, 2),
            "convert_s": round(convert_s, 2),
            "rss_mb_at_start": round(rss_start),
            "rss_mb_after_imports": round(rss_imported),
            "default_steps_per_execution": train.DEFAULT_STEPS_PER_EXECUTION,
            "cpus": os.cpu_count(),
        },
        "1_training_speed": speed,
        "2_start_to_first_step": {
            **series["start_to_first_step_s"],
            "trial_seconds": series["trial_seconds"],
            "reuse": series["reuse"],
        },
        "3_memory": {"trials": trials, **series["memory_mb"]},
        "checks": checks,
        "targets": targets,
        "met": {
            "speed_ratio": speed["ratio"]["median_of_epoch_ratios"] >= targets["speed_ratio_min"],
            "memory_growth": series["memory_mb"]["growth_1_to_last"]
            < targets["memory_growth_mb_max"],
        },
        "wall_s": round(time.perf_counter() - started, 1),
    }
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if not all(checks.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
