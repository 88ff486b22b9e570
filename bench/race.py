"""Time to quality: tuner against the tools a user would otherwise wire by hand, on Adult,
one after the other in one command (JSON on stdout, a Markdown table on stderr).

Every contestant searches the same space (the six optimizers × log learning rate
[1e-4, 1e-1] × depth 1–4 × width {32, 64, 128, 256}; model dnn, ≤ 10 epochs, batch 256,
seed 0) on the same data (Adult converted once; validation = adult.test), at the same
concurrency (2, except KerasTuner: one process, one trial at a time), within the same
wall budget counted from its own process start. Every one trains with the same code
(`tuner.tabular.model.train.run_trial`, without its SavedModel export for the peers), so
the race measures what the tools add: start-up, search, pruning, bookkeeping.

- `tuner*`: the real `tune run` CLI in a fresh process on a generated space file (the
  variants differ in sampler/pruner only: `--contestants tuner,tuner-asha,...`), or
  `tuner-adult` on search_spaces/adult.yaml (its own, larger space). Its times are read
  from its own records: the MLflow metric timestamps of every child run. Its start-up
  pieces come from `tuner.timeline` marks (TUNER_TIMELINE).
- `optuna`: one process, TPESampler + MedianPruner, `study.optimize(n_jobs=2)`, no Ray
  and no MLflow.
- `ray-random-asha`: Ray Tune's random search + ASHA (max_t 10, grace 1), a function
  trainable, Ray's defaults otherwise (a new worker process per trial).
- `ray-optuna-asha`: the same with `OptunaSearch` (TPE).
- `kerastuner`: KerasTuner Hyperband (factor 3, max_epochs 10) with `run_trial`
  overridden to train with the same code; a continued trial resumes from the checkpoint
  of the one it continues. Needs `pip install -e ".[bench]"`; skipped if missing.
The peers log each epoch (time, trial, epoch, val_auc, val_accuracy) as one JSON line.

Reported per contestant, in seconds from its process start: the first epoch, the first
epoch with val_auc ≥ 0.905 / 0.910 / 0.912 / 0.915 (any trial), the best val_auc within
the budget with that epoch's accuracy, the best accuracy, trials and epochs; and the
ratio of the best peer's time to tuner's at each threshold.
Usage: python bench/race.py [--budget 240] [--contestants a,b,...] [--seed 7]
                            [--data DIR | ADULT_SOURCE_DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import ROOT, load, resolve_data

THRESHOLDS = (0.905, 0.910, 0.912, 0.915)
OPTIMIZERS = ["sgd", "adadelta", "adagrad", "adam", "ftrl", "rmsprop"]
WIDTHS = [32, 64, 128, 256]
FIXED = {"model": "dnn", "batch_size": 256, "seed": 0, "epochs": 10}
MAX_EPOCHS = 10
CONCURRENCY = 2
PEERS = ("optuna", "ray-random-asha", "ray-optuna-asha", "kerastuner")
# tuner's variants: what a space file says about sampling and pruning (nothing: the
# defaults of a new space file)
TUNER_VARIANTS: dict[str, str] = {
    "tuner": "",
    "tuner-tpe-median": "sampler: {type: tpe, seed: SEED}\npruner: {type: median}\n",
    "tuner-mvtpe-median": "sampler: {type: tpe, seed: SEED, multivariate: true, "
    "constant_liar: true}\npruner: {type: median}\n",
    "tuner-tpe-sha": "sampler: {type: tpe, seed: SEED}\n"
    "pruner: {type: successive_halving, min_resource: 1, reduction_factor: 3}\n",
    "tuner-tpe-hyperband": "sampler: {type: tpe, seed: SEED}\n"
    "pruner: {type: hyperband, min_resource: 1, reduction_factor: 3}\n",
    "tuner-tpe-asha": "sampler: {type: tpe, seed: SEED}\n"
    "scheduler: {type: asha, grace_period: 1, reduction_factor: 3}\n",
}
ADULT_SPACE = ROOT / "search_spaces" / "adult.yaml"
DEFAULT_CONTESTANTS = ["tuner", *PEERS]

SPACE = """\
name: race
objective: tabular
dataset: {data}
metric: {{name: val_auc, goal: maximize}}
budget: {{trials: 10000, max_epochs: {epochs}, time: {budget}s}}
concurrency: {concurrency}
resources: {{cpu: 1, gpu: 0}}
{search}fixed: {{model: dnn, batch_size: 256, seed: 0}}
params:
  optimizer: {{choice: [sgd, adadelta, adagrad, adam, ftrl, rmsprop]}}
  learning_rate: {{float: [1.0e-4, 1.0e-1], log: true}}
  depth: {{int: [1, 4]}}
  width: {{choice: [32, 64, 128, 256]}}
"""


# --- in a contestant's process -------------------------------------------------------------


class Events:
    """The peers' record: one JSON line per reported epoch, appended and flushed at once
    (a process killed at the deadline keeps everything it reported)."""

    def __init__(self, path: Path):
        self.path = path

    def epoch(self, trial: Any, epoch: int, metrics: dict[str, float]) -> None:
        line = {
            "t": time.time(),
            "trial": str(trial),
            "epoch": epoch,
            "val_auc": metrics.get("val_auc"),
            "val_accuracy": metrics.get("val_accuracy"),
        }
        with open(self.path, "a") as fh:
            fh.write(json.dumps(line) + "\n")


def train(
    config: dict[str, Any],
    trial: Any,
    trial_dir: Path,
    data: str,
    events: Events,
    on_epoch: Callable[[int, dict[str, float]], None],
    epochs: int = MAX_EPOCHS,
) -> float:
    """One trial with tuner's training code; → its last val_auc."""
    from tuner.tabular.model.train import run_trial

    last = [math.nan]

    def report(epoch: int, metrics: dict[str, float]) -> None:
        events.epoch(trial, epoch, metrics)
        last[0] = metrics["val_auc"]
        on_epoch(epoch, metrics)

    cfg = {**FIXED, **config, "dataset": data, "epochs": epochs}
    run_trial(cfg, report, trial_dir, export=False)
    return last[0]


def run_optuna(data: str, work: Path, events: Events, deadline: float, seed: int) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(),
    )

    def objective(trial: optuna.Trial) -> float:
        config = {
            "optimizer": trial.suggest_categorical("optimizer", OPTIMIZERS),
            "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True),
            "depth": trial.suggest_int("depth", 1, 4),
            "width": trial.suggest_categorical("width", WIDTHS),
        }

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            trial.report(metrics["val_auc"], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        return train(config, trial.number, work / str(trial.number), data, events, on_epoch)

    study.optimize(
        objective, timeout=max(deadline - time.time(), 1), n_jobs=CONCURRENCY, catch=(Exception,)
    )


def run_ray(data: str, work: Path, events: Events, deadline: float, seed: int, search: str) -> None:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    space = {
        "optimizer": tune.choice(OPTIMIZERS),
        "learning_rate": tune.loguniform(1e-4, 1e-1),
        "depth": tune.randint(1, 5),
        "width": tune.choice(WIDTHS),
    }
    search_alg = None
    if search == "optuna":
        from ray.tune.search.optuna import OptunaSearch

        search_alg = OptunaSearch(seed=seed)

    def trainable(config: dict[str, Any]) -> None:
        trial_id = tune.get_context().get_trial_id()

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            tune.report({"val_auc": metrics["val_auc"], "epoch": epoch})

        train(config, trial_id, work / trial_id, data, events, on_epoch)

    tuner = tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(
            metric="val_auc",
            mode="max",
            search_alg=search_alg,
            scheduler=ASHAScheduler(max_t=MAX_EPOCHS, grace_period=1),
            num_samples=10000,
            max_concurrent_trials=CONCURRENCY,
            time_budget_s=max(deadline - time.time(), 1),
        ),
        run_config=tune.RunConfig(storage_path=str(work / "ray_results"), verbose=0),
    )
    tuner.fit()


def run_kerastuner(data: str, work: Path, events: Events, deadline: float, seed: int) -> None:
    import keras_tuner

    class Race(keras_tuner.Hyperband):
        """Hyperband's brackets and its continuation of a trial (`tuner/trial_id`), with
        our training code: a continued trial resumes the checkpoint of the one it
        continues, up to `tuner/epochs`."""

        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
            if time.time() >= deadline:
                os._exit(0)  # no timeout in KerasTuner: the budget ends the process
            hp = trial.hyperparameters
            config = {
                name: hp.get(name) for name in ("optimizer", "learning_rate", "depth", "width")
            }
            folder = work / "trials" / trial.trial_id
            earlier = hp.values.get("tuner/trial_id")
            if earlier and (work / "trials" / earlier).exists() and not folder.exists():
                shutil.copytree(work / "trials" / earlier, folder)

            def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
                if time.time() >= deadline:
                    os._exit(0)

            epochs = int(hp.values.get("tuner/epochs", MAX_EPOCHS))
            value = train(config, trial.trial_id, folder, data, events, on_epoch, epochs)
            return {"val_auc": value}

    space = keras_tuner.HyperParameters()  # declared up front: an empty space ends the search
    space.Choice("optimizer", OPTIMIZERS)
    space.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    space.Int("depth", 1, 4)
    space.Choice("width", WIDTHS)
    race = Race(
        hyperparameters=space,
        objective=keras_tuner.Objective("val_auc", direction="max"),
        max_epochs=MAX_EPOCHS,
        factor=3,
        hyperband_iterations=1000,
        seed=seed,
        directory=str(work / "kerastuner"),
        project_name="race",
        overwrite=True,
    )
    race.search()


def contestant_main(args: argparse.Namespace) -> None:
    work, deadline = Path(args.work), float(args.deadline)
    events = Events(work / "events.jsonl")
    if args.run == "optuna":
        run_optuna(args.data, work, events, deadline, args.seed)
    elif args.run == "ray-random-asha":
        run_ray(args.data, work, events, deadline, args.seed, "random")
    elif args.run == "ray-optuna-asha":
        run_ray(args.data, work, events, deadline, args.seed, "optuna")
    elif args.run == "kerastuner":
        run_kerastuner(args.data, work, events, deadline, args.seed)


# --- the race, in the parent ---------------------------------------------------------------


def tuner_space(name: str, data: str, budget: float, seed: int, work: Path) -> Path:
    import yaml

    path = work / "space.yaml"
    if name == "tuner-adult":
        space = yaml.safe_load(ADULT_SPACE.read_text())
        space["dataset"] = data
        space["budget"]["time"] = f"{budget:g}s"
        space["budget"]["trials"] = 10000
        path.write_text(yaml.safe_dump(space, sort_keys=False))
        return path
    search = TUNER_VARIANTS[name].replace("SEED", str(seed))
    if not search:  # the defaults of a new space file, seeded for a repeatable race
        search = f"sampler: {{seed: {seed}}}\n"
    text = SPACE.format(
        data=data, epochs=MAX_EPOCHS, budget=f"{budget:g}", concurrency=CONCURRENCY, search=search
    )
    path.write_text(text)
    return path


def tuner_events(results: Path, sweep: str) -> list[dict[str, Any]]:
    """Every epoch of every child run, timed by MLflow's metric timestamps."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{results / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(sweep)
    if experiment is None:
        return []
    out = []
    runs = client.search_runs(
        [experiment.experiment_id], "tags.`tuner.kind` = 'trial'", max_results=10000
    )
    for run in runs:
        accuracy = {
            m.step: m.value for m in client.get_metric_history(run.info.run_id, "val_accuracy")
        }
        for metric in client.get_metric_history(run.info.run_id, "val_auc"):
            out.append(
                {
                    "t": metric.timestamp / 1000,
                    "trial": run.data.tags.get("tuner.trial_number"),
                    "epoch": metric.step,
                    "val_auc": metric.value,
                    "val_accuracy": accuracy.get(metric.step),
                }
            )
    return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # the last line of a killed process
            continue
    return out


STARTUP = (
    ("cli_start", "python and the CLI's imports"),
    ("sweep_start", "space file loaded and checked"),
    ("study_ready", "study opened and locked"),
    ("ray_ready", "Ray started"),
    ("tracker_ready", "MLflow store open (in the background since sweep_start)"),
    ("fit_start", "MLflow parent run, Ray Tune set up"),
    ("warm_start", "first worker process warming up"),
    ("trial_start", "first trial in a worker"),
    ("tabular_imported", "TensorFlow and the model code imported"),
    ("data_loaded", "data set read"),
    ("model_built", "model built and compiled"),
    ("first_step", "first training steps"),
    ("epoch", "first epoch reported by the worker"),
)


def startup(marks: list[dict[str, Any]], t0: float) -> dict[str, float]:
    """Seconds from process start at which each start-up step was first reached."""
    first: dict[str, float] = {}
    for mark in sorted(marks, key=lambda m: m["t"]):
        first.setdefault(mark["event"], round(mark["t"] - t0, 2))
    return {event: first[event] for event, _ in STARTUP if event in first}


def summarize(events: list[dict[str, Any]], t0: float, budget: float) -> dict[str, Any]:
    seen: dict[tuple[str, int], dict[str, Any]] = {}
    for event in sorted(events, key=lambda e: e["t"]):
        key = (str(event["trial"]), int(event["epoch"]))
        if key not in seen and event["t"] - t0 <= budget and event.get("val_auc") is not None:
            seen[key] = {**event, "s": event["t"] - t0}
    timed = sorted(seen.values(), key=lambda e: e["s"])
    reached = {}
    for threshold in THRESHOLDS:
        hit = next((e["s"] for e in timed if e["val_auc"] >= threshold), None)
        reached[f"{threshold:.3f}"] = round(hit, 1) if hit is not None else None
    best = max(timed, key=lambda e: e["val_auc"], default=None)
    accuracies = [e["val_accuracy"] for e in timed if e.get("val_accuracy") is not None]
    return {
        "first_epoch_s": round(timed[0]["s"], 1) if timed else None,
        "auc_reached_s": reached,
        "best_auc": round(best["val_auc"], 4) if best else None,
        "best_auc_accuracy": round(best["val_accuracy"], 4)
        if best and best.get("val_accuracy") is not None
        else None,
        "best_auc_at_s": round(best["s"], 1) if best else None,
        "best_accuracy": round(max(accuracies), 4) if accuracies else None,
        "trials": len({e["trial"] for e in timed}),
        "epochs": len(timed),
    }


def wait_for_ray_exit(limit: float = 30.0) -> None:
    """A Ray contestant's processes outlive its driver by a moment: the next one must
    not share the CPUs with them."""
    end = time.time() + limit
    while time.time() < end:
        found = subprocess.run(
            ["pgrep", "-f", "ray::|raylet|gcs_server"], capture_output=True, text=True
        ).stdout.split()
        if not found:
            return
        time.sleep(0.5)


def race_one(name: str, data: str, budget: float, seed: int, root: Path) -> dict[str, Any]:
    work = root / name
    work.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "bench")]))
    env.pop("RAY_ADDRESS", None)
    log = open(work / "output.log", "w")  # noqa: SIM115 - closed below
    t0 = time.time()
    if name.startswith("tuner"):
        space = tuner_space(name, data, budget, seed, work)
        env["TUNER_TIMELINE"] = str(work / "timeline.jsonl")
        cmd = [sys.executable, "-m", "tuner", "run", str(space), "--results", str(work / "r")]
        cmd.append("--quiet")
    else:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--run",
            name,
            "--data",
            data,
            "--work",
            str(work),
            "--deadline",
            str(t0 + budget),
            "--seed",
            str(seed),
        ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        proc.wait(timeout=budget + 90)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    wall = time.time() - t0
    log.close()
    wait_for_ray_exit()
    if name.startswith("tuner"):
        import yaml

        sweep = yaml.safe_load((work / "space.yaml").read_text())["name"]
        events = tuner_events(work / "r", sweep)
        pieces = startup(read_jsonl(work / "timeline.jsonl"), t0)
    else:
        events, pieces = read_jsonl(work / "events.jsonl"), {}
    result = {
        **summarize(events, t0, budget),
        "exit_code": proc.returncode,
        "wall_s": round(wall, 1),
    }
    if pieces:
        result["startup_s"] = pieces
    if proc.returncode not in (0, -signal.SIGTERM) or not events:
        tail = (work / "output.log").read_text().splitlines()[-8:]
        result["output_tail"] = tail
    return result


def ratios(contestants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """At each threshold: the best peer's time over each tuner variant's (> 1: tuner is
    sooner); and each variant's best AUC minus the best peer's."""
    peers = {k: v for k, v in contestants.items() if not k.startswith("tuner")}
    out: dict[str, Any] = {}
    for name, result in contestants.items():
        if not name.startswith("tuner"):
            continue
        entry: dict[str, Any] = {}
        for threshold in [f"{t:.3f}" for t in THRESHOLDS]:
            ours = result["auc_reached_s"][threshold]
            times = [p["auc_reached_s"][threshold] for p in peers.values()]
            best_peer = min((t for t in times if t is not None), default=None)
            if ours is None or best_peer is None:
                entry[threshold] = None
            else:
                entry[threshold] = round(best_peer / ours, 2)
        aucs = [p["best_auc"] for p in peers.values() if p["best_auc"] is not None]
        if result["best_auc"] is not None and aucs:
            entry["best_auc_minus_best_peer"] = round(result["best_auc"] - max(aucs), 4)
        out[name] = entry
    return out


def table(contestants: dict[str, dict[str, Any]], budget: float) -> str:
    heads = ["first epoch", *[f"AUC ≥ {t:.3f}" for t in THRESHOLDS]]
    lines = [
        f"| | {' | '.join(heads)} | best AUC / accuracy in {budget:g} s | trials / epochs |",
        "|---|" + "---|" * (len(heads) + 2),
    ]

    def s(value: Any) -> str:
        return "never" if value is None else f"{value:.1f} s"

    for name, r in contestants.items():
        if r.get("skipped"):
            lines.append(f"| {name} | skipped: {r['skipped']} |")
            continue
        reached = [s(r["auc_reached_s"][f"{t:.3f}"]) for t in THRESHOLDS]
        best = (
            f"{r['best_auc']:.4f} / {100 * (r['best_auc_accuracy'] or 0):.2f} %"
            if r["best_auc"] is not None
            else "—"
        )
        cells = [s(r["first_epoch_s"]), *reached, best, f"{r['trials']} / {r['epochs']}"]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def startup_table(contestants: dict[str, dict[str, Any]]) -> str:
    """Where a tuner contestant's start-up went: seconds from process start at which
    each step was first reached."""
    runs = {k: v["startup_s"] for k, v in contestants.items() if v.get("startup_s")}
    if not runs:
        return ""
    lines = [f"| step | {' | '.join(runs)} |", "|---|" + "---|" * len(runs)]
    for event, label in STARTUP:
        cells = [f"{r[event]:.1f} s" if event in r else "—" for r in runs.values()]
        lines.append(f"| {label} (`{event}`) | {' | '.join(cells)} |")
    return "\n".join(lines)


def available(name: str) -> str | None:
    """Why a contestant cannot run here, or None."""
    import importlib.util

    if name == "kerastuner" and importlib.util.find_spec("keras_tuner") is None:
        return 'keras_tuner is not installed (pip install -e ".[bench]")'
    if name == "tuner-adult" and not ADULT_SPACE.exists():
        return f"{ADULT_SPACE} is missing"
    known = {*TUNER_VARIANTS, "tuner-adult", *PEERS}
    if name not in known:
        return f"unknown contestant (expected one of {sorted(known)})"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=240.0)
    parser.add_argument("--contestants", default=",".join(DEFAULT_CONTESTANTS))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    # a contestant's own process (internal)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--deadline", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        contestant_main(args)
        return
    data, described, convert_s = resolve_data(args.data)
    root = Path(tempfile.mkdtemp(prefix="tuner-race-"))
    result: dict[str, Any] = {
        "data": described,
        "convert_s": round(convert_s, 1),
        "budget_s": args.budget,
        "seed": args.seed,
        "load_average": {"before": load()},
        "contestants": {},
    }
    try:
        for name in [c.strip() for c in args.contestants.split(",") if c.strip()]:
            why = available(name)
            if why:
                result["contestants"][name] = {"skipped": why}
                continue
            print(f"race: {name} ({args.budget:g} s) ...", file=sys.stderr, flush=True)
            result["contestants"][name] = race_one(name, data, args.budget, args.seed, root)
    finally:
        if args.keep:
            print(f"race: work folder kept: {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    ran = {k: v for k, v in result["contestants"].items() if not v.get("skipped")}
    result["ratios_best_peer_over_tuner"] = ratios(ran)
    result["load_average"]["after"] = load()
    print(table(result["contestants"], args.budget), file=sys.stderr)
    if pieces := startup_table(result["contestants"]):
        print(f"\n{pieces}", file=sys.stderr)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
