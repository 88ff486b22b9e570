"""One trial on several worker processes (tuner/tabular/model/launch.py and
distributed.py): the same trajectory as one process with the same global batch and seed,
resume, the export, a killed launcher or worker, and `tune train --workers`."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]

CONFIG = {
    "dataset": "builtin:breast_cancer",
    "model": "dnn",
    "batch_size": 64,
    "seed": 3,
    "optimizer": "adam",
    "learning_rate": 0.01,
    "hidden_units": [16, 8],
    "l2": 1e-4,
}


def _train(config: dict[str, Any], out: Path, **kwargs: Any) -> list[tuple[int, dict]]:
    from tuner.tabular.model.launch import train_trial

    seen: list[tuple[int, dict]] = []
    train_trial(config, lambda e, m: seen.append((e, dict(m))), out, **kwargs)
    return seen


def _workers(parent: int | None = None) -> dict[int, int]:
    """pid → rank of the distributed workers running now (`python -m MODULE SPEC RANK
    …`), those started by `parent` only when given (a test sees no other run's)."""
    found: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            words = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if "tuner.tabular.model.distributed" not in words:
            continue
        if parent is None or ppid == parent:
            found[int(entry.name)] = int(words[words.index("tuner.tabular.model.distributed") + 2])
    return found


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()}


@pytest.mark.timeout(300)
def test_two_workers_follow_one_process_with_the_same_global_batch(tmp_path: Path) -> None:
    one = _train({**CONFIG, "epochs": 3}, tmp_path / "one")
    two = _train({**CONFIG, "epochs": 3, "workers": 2}, tmp_path / "two")
    assert [e for e, _ in two] == [1, 2, 3]
    names = set(one[0][1])
    assert set(two[0][1]) == names  # the metrics a sweep was told the objective reports
    for (_, a), (_, b) in zip(one, two, strict=True):
        for key in ("loss", "val_loss", "val_auc", "val_accuracy", "auc", "params"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-5), key
    summary = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert (summary["status"], summary["workers"], summary["epoch"]) == ("complete", 2, 3)

    # the export is a single-process trial's kind of model, and predicts as it validated
    import tensorflow as tf

    served = [tf.saved_model.load(str(tmp_path / d / "model")) for d in ("one", "two")]
    signature = served[0].signatures["serve"]
    inputs = {k: tf.constant([0.5], tf.float32) for k in signature.structured_input_signature[1]}
    a, b = (s.signatures["serve"](**inputs)["probability"].numpy() for s in served)
    assert b == pytest.approx(a, rel=1e-4)

    # more epochs on the same folder resume from its last checkpoint (every worker
    # restores the chief's) and continue the uninterrupted trajectory
    more = _train({**CONFIG, "epochs": 5, "workers": 2}, tmp_path / "two")
    assert [e for e, _ in more] == [1, 2, 3, 4, 5]  # the kept epochs re-reported first
    straight = _train({**CONFIG, "epochs": 5}, tmp_path / "five")
    assert more[-1][1]["val_loss"] == pytest.approx(straight[-1][1]["val_loss"], rel=1e-4)
    assert not (tmp_path / "two" / ".worker-1").exists()  # scratch checkpoints removed
    assert _workers(os.getpid()) == {}


@pytest.mark.timeout(300)
def test_embeddings_and_a_wide_part_train_on_two_workers(tmp_path: Path) -> None:
    """Categorical features (embeddings, hashed crosses): with SGD the same trajectory;
    an optimizer with state (Adam) applies the embeddings' gradients dense here, where
    one process updates only the rows a batch touched, so it only comes close."""
    census = {"dataset": "builtin:census_synthetic", "epochs": 2, "batch_size": 256, "seed": 3}
    dnn = {**census, "model": "dnn", "hidden_units": [32], "optimizer": "sgd"}
    one = _train(dnn, tmp_path / "one")
    two = _train({**dnn, "workers": 2}, tmp_path / "two")
    assert two[-1][1]["val_loss"] == pytest.approx(one[-1][1]["val_loss"], rel=1e-4)
    wide = {**census, "model": "wide_deep", "hidden_units": [16]}  # adagrad + ftrl
    one = _train(wide, tmp_path / "wide-one")
    two = _train({**wide, "workers": 2}, tmp_path / "wide-two")
    assert two[-1][1]["val_auc"] == pytest.approx(one[-1][1]["val_auc"], abs=0.02)
    assert (tmp_path / "wide-two" / "model" / "saved_model.pb").is_file()


@pytest.mark.timeout(300)
def test_a_last_batch_smaller_than_the_workers_trains(tmp_path: Path) -> None:
    """breast_cancer's 455 training rows in batches of 454: the last batch has one row
    for two workers. Each then takes it whole (batch normalization of no rows would be
    NaN); the gradient is the one process's."""
    config = {**CONFIG, "batch_size": 454, "epochs": 3}
    one = _train(config, tmp_path / "one")
    two = _train({**config, "workers": 2}, tmp_path / "two")
    assert two[-1][1]["val_loss"] == pytest.approx(one[-1][1]["val_loss"], rel=1e-4)
    normed = _train({**config, "batch_norm": True, "workers": 2}, tmp_path / "bn")
    assert all(math.isfinite(v) for _, m in normed for v in m.values())


@pytest.mark.timeout(300)
def test_a_killed_launcher_takes_its_workers_and_tune_train_resumes(tmp_path: Path, cli) -> None:
    """`tune train --workers 2` SIGKILLed after its first epoch: its workers exit (they
    watch their launcher); the same command again resumes from the checkpoint."""
    import yaml

    config = write(tmp_path / "c.yaml", yaml.safe_dump({**CONFIG, "epochs": 40}))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuner", "train", str(config), "--workers", "2", "--out", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        metrics = out / "metrics.json"
        if metrics.exists() and json.loads(metrics.read_text()).get("epoch", 0) >= 2:
            break
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.2)
    else:
        pytest.fail("no epoch finished in time")
    ranks = set(_workers(proc.pid))
    assert len(ranks) == 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for _ in range(40):  # the workers notice within a second or so
        if not _alive(ranks):
            break
        time.sleep(0.25)
    assert _alive(ranks) == set()
    done = json.loads((out / "metrics.json").read_text())["epoch"]
    code, _, err = cli("train", config, "--workers", "2", "--set", "epochs=4", "--out", out)
    assert code == 0, err
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["status"] == "complete" and summary["workers"] == 2
    assert [h["epoch"] for h in summary["history"]] == list(range(1, max(done, 4) + 1))


@pytest.mark.timeout(200)
@pytest.mark.parametrize("victim", [1, 0])
def test_a_dead_worker_fails_the_trial_with_one_line(tmp_path: Path, victim: int) -> None:
    """SIGKILL to a worker mid-training: the trial fails naming the worker and the
    signal, not TensorFlow's start-up noise (issue 25: `… ended (exit code -9): … failed
    call to cuInit: INTERNAL: CUDA error`); metrics.json says failed, not running; no
    process is left behind."""
    import threading

    from tuner.errors import TrialFailed

    def kill() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = [pid for pid, rank in _workers(os.getpid()).items() if rank == victim]
            if found and (tmp_path / "out" / "metrics.json").exists():
                os.kill(found[0], signal.SIGKILL)
                return
            time.sleep(0.2)

    killer = threading.Thread(target=kill, daemon=True)
    killer.start()
    with pytest.raises(TrialFailed) as caught:
        _train({**CONFIG, "epochs": 200, "workers": 2}, tmp_path / "out")
    killer.join()
    message = caught.value.message
    assert message == f"distributed worker {victim} of 2 was killed by SIGKILL", message
    assert caught.value.hint == f"its output: {tmp_path / 'out' / 'workers' / f'{victim}.log'}"
    assert _workers(os.getpid()) == {}
    summary = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert (summary["status"], summary["error"]) == ("failed", message)
    assert summary["history"]  # what it trained is kept


@pytest.mark.timeout(200)
def test_a_pruned_distributed_trial_stops_every_worker(tmp_path: Path) -> None:
    """`report` raising StopTrial (the sweep's pruner) ends the workers at once; the
    checkpoint of the epoch reported stays for a resume."""
    from tuner.tabular.model.launch import train_trial
    from tuner.trial import StopTrial

    def prune(epoch: int, metrics: dict) -> None:
        raise StopTrial("pruned after epoch 1")

    started = time.monotonic()
    with pytest.raises(StopTrial):
        train_trial({**CONFIG, "epochs": 100, "workers": 2}, prune, tmp_path / "out")
    assert time.monotonic() - started < 90  # not the 100 epochs
    assert _workers(os.getpid()) == {}
    summary = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert (summary["status"], summary["epoch"]) == ("stopped", 1)  # as report said: no further
    assert (tmp_path / "out" / "checkpoints" / "last").is_dir()


@pytest.mark.timeout(300)
def test_two_workers_export_the_best_epochs_weights_when_asked(tmp_path: Path) -> None:
    """`restore_best` (a sweep scoring by the best epoch) on two workers: the chief keeps
    the best epoch by the sweep's metric and exports its weights, as one process does."""
    from tests.tabular.model.test_train import OVERFIT, _validation_log_loss
    from tuner.space.model import Metric

    out = tmp_path / "two"
    seen = _train(  # (its val_loss is lowest at epoch 7 of 8 on two workers)
        {**OVERFIT, "learning_rate": 0.01, "workers": 2},
        out,
        keep_best=Metric("val_loss", "minimize"),
        restore_best=True,
    )
    losses = {e: m["val_loss"] for e, m in seen}
    best = min(losses, key=lambda e: (losses[e], e))
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["best"] == {"metric": "val_loss", "epoch": best, "value": losses[best]}
    assert summary["model_checkpoint"] == "best" and summary["model_epoch"] == best
    assert _validation_log_loss(out / "model") == pytest.approx(losses[best], abs=1e-3)
    assert best < 8 and losses[8] - losses[best] > 2e-3, losses  # (else it tests nothing)
