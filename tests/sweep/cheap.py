"""A cheap objective without TensorFlow for orchestration tests: its score is a known
function of the params, with knobs for sleeping, failing, diverging and killing its own
worker process."""

from __future__ import annotations

import json
import math
import os
import signal
import time
from pathlib import Path
from typing import Any

from tuner.trial import MlflowModel, objective


def _weights_model(model_dir: Path) -> MlflowModel:
    """train's and tradeoff's model as an MLflow pyfunc model (`tune best --register`)."""
    from mlflow.pyfunc import PythonModel

    class Weights(PythonModel):
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return model_input

    return MlflowModel(
        python_model=Weights(),
        artifacts={"weights": str(model_dir / "weights.json")},
        pip_requirements=["pandas"],
    )


@objective(metrics=["score", "loss"], mlflow_model=_weights_model)
def train(config: dict[str, Any], report, trial_dir: Path) -> dict[str, Any]:
    """Checkpoints its epoch in trial_dir (like a real objective) and resumes after it;
    every epoch it trains is appended to trial_dir/epochs.log, so tests can tell a
    resumed trial from one trained twice. A finished trial "exports" model/ (what `tune
    best --export` copies and `--register` logs). `linger` keeps its thread that many
    seconds after it ends (an objective slow to unwind: Ray cannot reuse its worker)."""
    try:
        return _train(config, report, trial_dir)
    finally:
        time.sleep(float(config.get("linger", 0.0)))


def _train(config: dict[str, Any], report, trial_dir: Path) -> dict[str, Any]:
    """`checkpoint: false`: keeps no checkpoint (a run again starts from epoch 1);
    `jitter`: each run of the trial adds that much more to every score (a run again
    reports other values, deterministically). `meet`: a folder where each trial waits
    until trials in two worker processes have started (concurrency, under any load).
    `hold`: a file while which trials numbered `hold_from` or above wait before their
    second epoch (a test's sweep is still running when the test acts, under any load)."""
    x = float(config.get("x", 0.5))
    trial_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = trial_dir / "checkpoint.json"
    keep = config.get("checkpoint", True)
    runs = trial_dir / "runs.log"
    run = len(runs.read_text().split()) + 1 if runs.exists() else 1
    with runs.open("a") as log:
        log.write(f"{run}\n")
    history = json.loads(checkpoint.read_text())["history"] if keep and checkpoint.exists() else []
    for past in history:  # re-report what the checkpoint holds, as the real objective does
        report(past["epoch"], {"score": past["score"], "loss": 1 - past["score"]})
    if config.get("meet"):  # wait (≤ 60 s) until trials in two processes have started
        meet = Path(config["meet"])
        meet.mkdir(parents=True, exist_ok=True)
        (meet / f"{os.getpid()}-{trial_dir.name}").touch()
        deadline = time.monotonic() + 60
        while len({p.name.split("-")[0] for p in meet.iterdir()}) < 2:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    held = config.get("hold") and int(trial_dir.name) >= int(config.get("hold_from", 0))
    for epoch in range(len(history) + 1, int(config.get("epochs", 3)) + 1):
        while held and epoch > 1 and Path(config["hold"]).exists():
            time.sleep(0.05)
        time.sleep(float(config.get("sleep", 0.0)))
        if config.get("fail_at") == epoch or (config.get("fail_if_x_above", math.inf) < x):
            raise RuntimeError(f"planned failure at epoch {epoch} (x={x})")
        if config.get("die_at") == epoch:  # SIGKILL its own worker, die_times times in all
            deaths = trial_dir / "deaths.log"
            died = len(deaths.read_text().split()) if deaths.exists() else 0
            if died < int(config.get("die_times", 1)):
                with deaths.open("a") as log:
                    log.write(f"{os.getpid()}\n")
                os.kill(os.getpid(), signal.SIGKILL)
        score = x * (1 - 0.5**epoch) + float(config.get("jitter", 0.0)) * run
        with (trial_dir / "epochs.log").open("a") as log:
            log.write(f"{epoch}\n")
        tmp = trial_dir / "checkpoint.json.tmp"
        history.append({"epoch": epoch, "score": score})
        tmp.write_text(json.dumps({"history": history}))
        tmp.replace(checkpoint)
        report(epoch, {"score": score, "loss": 1 - score})
    (trial_dir / "model").mkdir(exist_ok=True)
    (trial_dir / "model" / "weights.json").write_text(json.dumps({"x": x}))
    (trial_dir / "done").write_text("ok")
    return {"status": "complete"}


@objective(metrics=["score", "loss"])
def noop(config: dict[str, Any], report, trial_dir: Path) -> None:
    for epoch in range(1, int(config.get("epochs", 1)) + 1):
        report(epoch, {"score": float(config.get("x", 0.5)), "loss": 0.0})


def _warm_log(config: dict[str, Any], line: str) -> None:
    with open(config["warm_log"], "a") as log:
        log.write(line + "\n")


def _setup(resources: dict[str, float]) -> None:
    _warm_log({"warm_log": os.environ["CHEAP_WARM_LOG"]}, f"setup {resources}")


def _warm(config: dict[str, Any]) -> None:
    _warm_log(config, f"warm {sorted(config)}")


@objective(metrics=["score"], setup_process=_setup, warm_up=_warm)
def warmed(config: dict[str, Any], report, trial_dir: Path) -> None:
    """Records its process hooks in config["warm_log"] (and $CHEAP_WARM_LOG)."""
    report(1, {"score": float(config.get("x", 0.5))})


@objective(metrics=["score", "cost", "size"], mlflow_model=_weights_model)
def tradeoff(config: dict[str, Any], report, trial_dir: Path) -> None:
    """Two objectives at odds: score (maximize) and cost (minimize) both grow with x, so
    every x is on the front — unless `waste` is set, which costs more and scores less at
    every epoch (dominated from the first epoch on: what the pareto pruner must stop).
    `size` (100·x) is there to be constrained."""
    x = float(config.get("x", 0.5))
    waste = bool(config.get("waste", False))
    trial_dir.mkdir(parents=True, exist_ok=True)
    for epoch in range(1, int(config.get("epochs", 3)) + 1):
        time.sleep(float(config.get("sleep", 0.0)))
        score = x * (1 - 0.5**epoch) * (0.5 if waste else 1.0)
        cost = x + (1.0 if waste else 0.0)
        report(epoch, {"score": score, "cost": cost, "size": 100 * x})
    (trial_dir / "model").mkdir(exist_ok=True)  # its "export": what `tune best --export` copies
    (trial_dir / "model" / "weights.json").write_text(json.dumps({"x": x, "waste": waste}))
