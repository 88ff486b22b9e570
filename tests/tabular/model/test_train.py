"""`tune train` and `tune predict` as a user runs them: outputs, resume after a kill,
warm start, divergence, and the exported model in a process that imports only TensorFlow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write

pytestmark = pytest.mark.slow

CENSUS = """\
dataset: builtin:census_synthetic
model: wide_deep
epochs: {epochs}
batch_size: 256
hidden_units: [32, 16]
dropout: 0.1
seed: 3
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[3])
    return env


def _tune(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tuner", *map(str, args)],
        env=env or _env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _history(out: Path) -> list[dict]:
    return json.loads((out / "metrics.json").read_text())["history"]


@pytest.mark.timeout(240)
def test_resume_after_kill_follows_the_uninterrupted_trajectory(tmp_path: Path) -> None:
    epochs = 12
    config = write(tmp_path / "census.yaml", CENSUS.format(epochs=epochs))
    env = {**_env(), "TUNER_DETERMINISTIC": "1"}
    straight = _tune("train", config, "--out", tmp_path / "straight", env=env)
    assert straight.wait(timeout=200) == 0, straight.stderr.read()

    out = tmp_path / "killed"
    victim = _tune("train", config, "--out", out, env=env)
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        try:
            done = json.loads((out / "metrics.json").read_text())["epoch"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            done = 0
        if done >= 3:
            break
        time.sleep(0.02)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    killed_at = json.loads((out / "metrics.json").read_text())["epoch"]
    assert 3 <= killed_at < epochs, f"killed after epoch {killed_at}"

    resumed = _tune("train", config, "--out", out, env=env)
    stdout, stderr = resumed.communicate(timeout=200)
    assert resumed.returncode == 0, stderr
    assert "resuming" in stdout
    first = int(stdout.split("epoch ")[2].split("/")[0].strip())  # after "resuming ... epoch N"
    assert first <= killed_at + 1

    expected, got = _history(tmp_path / "straight"), _history(out)
    assert [h["epoch"] for h in got] == list(range(1, epochs + 1))
    for key in ("loss", "val_loss", "val_auc"):
        np.testing.assert_allclose(
            [h[key] for h in got], [h[key] for h in expected], rtol=1e-5, err_msg=key
        )


CSV_ROWS = """\
age,workclass,education,marital_status,occupation,relationship,sex,region,hours_per_week,capital_gain,income
39,Private,Bachelors,Married,Sales,Husband,Male,North,40,0,>50K
51,Spaceship,Masters,Divorced,Exec-managerial,Unmarried,Female,Moon,?,5000,<=50K
23,,HS-grad,Never-married,,Own-child,Male,South,,0,<=50K
"""

FRESH_PROCESS = """
import json, sys
import numpy as np
import tensorflow as tf
assert "tuner" not in sys.modules
model = tf.saved_model.load(sys.argv[1])
inputs = json.loads(sys.argv[2])
tensors = {k: tf.constant(v, tf.string if isinstance(v[0], str) else tf.float32)
           for k, v in inputs.items()}
out = model.signatures["serve"](**tensors)["probability"].numpy()
print(json.dumps(out.tolist()))
"""


@pytest.mark.timeout(240)
def test_exported_model_serves_raw_rows_in_a_fresh_process(tmp_path: Path, cli) -> None:
    from tuner.tabular.data.csv_source import read_csv
    from tuner.tabular.model.build import build_model
    from tuner.tabular.model.export import load_schema_file
    from tuner.tabular.model.run import load_config
    from tuner.tabular.model.train import run_trial
    from tuner.tabular.runtime import tensorflow

    tf = tensorflow()
    config = load_config(write(tmp_path / "c.yaml", CENSUS.format(epochs=2)))
    out = tmp_path / "trial"
    run_trial(config, lambda e, m: None, out)

    schema = load_schema_file(out / "schema.json")
    rows = write(tmp_path / "rows.csv", CSV_ROWS)
    table = read_csv(
        rows,
        label="income",
        kinds={f.name: f.kind for f in schema.features},
        features_only=True,
    )
    raw = {n: table.numeric[n].astype(float).tolist() for n in table.numeric}
    raw |= {n: table.categorical[n].tolist() for n in table.categorical}
    assert np.isnan(raw["hours_per_week"][1]) and raw["workclass"][2] == ""

    built = build_model(schema, config)
    tf.train.Checkpoint(model=built.model).restore(
        tf.train.latest_checkpoint(str(out / "checkpoints" / "last"))
    ).expect_partial()
    features = {
        k: tf.constant(v, tf.string if isinstance(v[0], str) else tf.float32)
        for k, v in raw.items()
    }
    in_process = built.model(features, training=False).numpy()

    fresh = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(out / "model"), json.dumps(raw)],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    served = np.array(json.loads(fresh.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(served, in_process, rtol=1e-5, atol=1e-6)
    assert len(set(np.round(served, 6))) == 3  # the unseen/missing rows are not collapsed

    code, stdout, stderr = cli("predict", out, rows)
    assert code == 0, stderr
    lines = stdout.strip().splitlines()
    assert lines[0] == "probability,predicted"
    np.testing.assert_allclose(
        [float(line.split(",")[0]) for line in lines[1:]], in_process, rtol=1e-4
    )
    assert {line.split(",")[1] for line in lines[1:]} <= {">50K", "<=50K"}


@pytest.mark.timeout(240)
def test_tune_train_outputs_resume_scratch_and_warm_start(tmp_path: Path, cli) -> None:
    config = write(
        tmp_path / "bc.yaml",
        "dataset: builtin:breast_cancer\nmodel: dnn\nepochs: 2\nhidden_units: [16]\n",
    )
    out = tmp_path / "run"
    code, stdout, stderr = cli("train", config, "--out", out)
    assert code == 0, stderr
    lines = [line for line in stdout.splitlines() if line.startswith("epoch")]
    assert len(lines) == 2 and "val" in lines[0] and "auc" in lines[0]
    assert (out / "checkpoints" / "last" / "checkpoint").exists()
    assert (out / "checkpoints" / "best" / "checkpoint").exists()
    assert (out / "model" / "saved_model.pb").exists()
    assert list((out / "tensorboard" / "train").glob("events.out.tfevents.*"))
    assert list((out / "tensorboard" / "validation").glob("events.out.tfevents.*"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "complete" and metrics["epoch"] == 2
    assert metrics["config"]["hidden_units"] == [16]

    code, stdout, stderr = cli("train", config, "--out", out, "--set", "epochs=3")
    assert code == 0, stderr
    assert "resuming" in stdout and "epoch 3/3" in stdout and "epoch 1/3" not in stdout
    assert [h["epoch"] for h in _history(out)] == [1, 2, 3]

    code, stdout, stderr = cli("train", config, "--out", out, "--set", "hidden_units=[8]")
    assert code == 2 and "different config" in stderr and "--from-scratch" in stderr

    code, stdout, stderr = cli("train", config, "--out", out, "--from-scratch")
    assert code == 0, stderr
    assert "resuming" not in stdout and [h["epoch"] for h in _history(out)] == [1, 2]

    warm = tmp_path / "warm"
    code, stdout, stderr = cli("train", config, "--out", warm, "--init-from", out)
    assert code == 0, stderr
    cold_start = _history(out)[0]["val_loss"]
    assert _history(warm)[0]["val_loss"] < cold_start  # started from trained weights

    code, _, stderr = cli(
        "train", config, "--out", tmp_path / "x", "--init-from", out, "--set", "hidden_units=[4]"
    )
    assert code == 2 and "different architecture" in stderr


@pytest.mark.timeout(120)
def test_diverging_loss_ends_the_trial_with_one_line(tmp_path: Path, cli) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = x @ [3.0, -2.0, 1.0] * 1e6
    lines = ["a,b,c,y", *(f"{a},{b},{c},{t}" for (a, b, c), t in zip(x, y, strict=True))]
    src = write(tmp_path / "reg.csv", "\n".join(lines) + "\n")
    code, _, stderr = cli(
        "data", "convert", src, "--out", tmp_path / "reg", "--split", "0.2", "--task", "regression"
    )
    assert code == 0, stderr
    config = write(
        tmp_path / "bad.yaml",
        f"dataset: {tmp_path / 'reg'}\nmodel: linear\noptimizer: sgd\nlearning_rate: 1.0e+6\n"
        "epochs: 5\n",
    )
    code, _, stderr = cli("train", config, "--out", tmp_path / "out")
    assert code == 1
    assert "diverged" in stderr and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["status"] == "diverged"


@pytest.mark.timeout(180)
def test_sparse_model_exports_and_predicts_what_it_validated(tmp_path: Path, cli) -> None:
    rng = np.random.default_rng(1)
    lines = []
    for _ in range(1500):
        ids = np.sort(rng.choice(np.arange(1, 200), size=6, replace=False))
        label = int(ids.min() < 25)
        lines.append(f"{label} " + " ".join(f"{i}:1" for i in ids))
    src = write(tmp_path / "s.libsvm", "\n".join(lines[:1000]) + "\n")
    held_out = write(tmp_path / "v.libsvm", "\n".join(lines[1000:]) + "\n")
    code, _, stderr = cli(
        "data",
        "convert",
        src,
        "--validation",
        held_out,
        "--dimension",
        "5000",
        "--out",
        tmp_path / "ds",
    )
    assert code == 0, stderr
    config = write(
        tmp_path / "s.yaml",
        f"dataset: {tmp_path / 'ds'}\nmodel: linear\noptimizer: adam\nlearning_rate: 0.05\n"
        "epochs: 3\n",
    )
    code, _, stderr = cli("train", config, "--out", tmp_path / "out")
    assert code == 0, stderr
    val_accuracy = _history(tmp_path / "out")[-1]["val_accuracy"]
    assert val_accuracy > 0.7

    code, _, stderr = cli("predict", tmp_path / "out", tmp_path / "ds", "--out", tmp_path / "p.csv")
    assert code == 0, stderr
    from tuner.tabular.data.reader import dataset

    labels = np.concatenate(
        [y.numpy() for _, y in dataset(tmp_path / "ds", "validation", shuffle=False)]
    )
    predicted = np.array(
        [line.split(",")[1] for line in (tmp_path / "p.csv").read_text().splitlines()[1:]]
    )
    accuracy = float(np.mean(predicted.astype(int) == labels))
    assert accuracy == pytest.approx(val_accuracy, abs=1e-6)


@pytest.mark.timeout(180)
def test_corrupt_checkpoint_restarts_from_scratch_with_a_warning(tmp_path: Path, capfd) -> None:
    from tuner.tabular.model.run import load_config
    from tuner.tabular.model.train import run_trial

    config = load_config(
        write(
            tmp_path / "bc.yaml",
            "dataset: builtin:breast_cancer\nmodel: dnn\nepochs: 2\nhidden_units: [8]\n",
        )
    )
    out = tmp_path / "trial"
    run_trial(config, lambda e, m: None, out, export=False)
    for index in (out / "checkpoints" / "last").glob("*.index"):
        index.write_bytes(b"\0" * 64)  # a torn write
    reported: list[int] = []
    with pytest.warns(UserWarning, match="cannot be read"):
        payload = run_trial(
            {**config, "epochs": 3}, lambda e, m: reported.append(e), out, export=False
        )
    assert reported == [1, 2, 3]  # from scratch: no history of epochs 1-2 re-reported first
    assert payload["status"] == "complete" and payload["epoch"] == 3

    for index in (out / "checkpoints" / "last").glob("*.index"):
        index.unlink()  # a missing checkpoint
    with pytest.warns(UserWarning, match="missing"):
        run_trial(config, lambda e, m: None, out, export=False)
    assert "training from scratch" in capfd.readouterr().err


@pytest.mark.timeout(240)
def test_a_validation_split_of_one_class_reports_no_auc_not_zero(tmp_path: Path, cli) -> None:
    """The campaign's `val_auc 0.0000`: convert now refuses a validation split of one
    class, but a data set may hold another split of one class (or an older data set
    one): its AUC is NaN (written "nan", never a number) and the trial says why."""
    from tuner.tabular.data.convert import write_dataset
    from tuner.tabular.data.csv_source import read_csv

    rows = "".join(f"{i % 7},{'yes' if i % 3 else 'no'}\n" for i in range(60))
    table = read_csv(write(tmp_path / "t.csv", "x,y\n" + rows))
    yes = np.flatnonzero(table.labels == "yes")
    tables = {"train": table, "validation": table.take(np.arange(10)), "ones": table.take(yes[:5])}
    write_dataset(tables, tmp_path / "ds", source_format="csv")
    config = write(
        tmp_path / "c.yaml",
        f"dataset: {tmp_path / 'ds'}\nmodel: linear\nepochs: 2\nvalidation_split: ones\n",
    )
    code, stdout, err = cli("train", config, "--out", tmp_path / "run")
    assert code == 0, err
    assert "val loss" in stdout and "auc nan" in stdout.split("|")[1], stdout
    assert err.count("val_auc is undefined") == 1, err  # said once, not every epoch
    assert (
        "tune: warning: val_auc is undefined (NaN, reported as no value): the validation "
        "split's rows are of one class only" in err
    )
    history = json.loads((tmp_path / "run" / "metrics.json").read_text())["history"]
    assert [h["val_auc"] for h in history] == ["nan", "nan"]  # metrics.json: no number
    assert all(0.0 <= h["auc"] <= 1.0 for h in history)  # the training rows have both


OVERFIT = {  # breast cancer's val_loss is lowest at epoch 6 of 8 with this config
    "dataset": "builtin:breast_cancer",
    "model": "dnn",
    "optimizer": "adam",
    "learning_rate": 0.1,
    "width": 64,
    "depth": 2,
    "batch_size": 32,
    "epochs": 8,
    "seed": 0,
}


def _validation_log_loss(model_dir: Path) -> float:
    """The exported model's binary cross-entropy on breast cancer's validation split (in
    float64: Keras's float32 val_loss is within 1e-3 of it)."""
    import tensorflow as tf

    from tuner.tabular.data import reader
    from tuner.tabular.model.config import dataset_schema

    directory, _ = dataset_schema("builtin:breast_cancer")
    features, y = next(
        iter(reader.dataset(directory, "validation", batch_size=4096, shuffle=False))
    )
    serve = tf.saved_model.load(str(model_dir)).signatures["serve"]
    p = np.clip(np.asarray(serve(**features)["probability"]).reshape(-1), 1e-7, 1 - 1e-7)
    y = y.numpy().astype(float)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


@pytest.mark.timeout(240)
def test_restore_best_exports_the_best_epochs_weights_and_rebuilds_them(tmp_path: Path) -> None:
    """A sweep scoring by the best epoch passes its metric as `keep_best` with
    `restore_best`: `model/` holds that epoch's weights (its loss, not the last's), and
    metrics.json says so, so that the objective's export hook rebuilds the same model from
    `checkpoints/best` when `model/` is missing. Without it, the last epoch's weights."""
    from objectives.tabular import export_model
    from tuner.space.model import Metric
    from tuner.tabular.model.train import run_trial

    out = tmp_path / "best"
    summary = run_trial(
        OVERFIT,
        lambda epoch, metrics: None,
        out,
        resume=False,
        keep_best=Metric("val_loss", "minimize"),
        restore_best=True,
    )
    losses = {h["epoch"]: h["val_loss"] for h in summary["history"]}
    best = min(losses, key=lambda e: (losses[e], e))
    # (the config overfits, by more than the tolerance below: else this tests nothing)
    assert best < 8 and losses[8] - losses[best] > 0.01, losses
    assert summary["best"] == {"metric": "val_loss", "epoch": best, "value": losses[best]}
    assert summary["model_checkpoint"] == "best" and summary["model_epoch"] == best
    assert json.loads((out / "metrics.json").read_text())["model_epoch"] == best
    assert _validation_log_loss(out / "model") == pytest.approx(losses[best], abs=1e-3)

    rebuilt = export_model(out, tmp_path / "rebuilt")  # (a trial stopped before its export)
    assert _validation_log_loss(rebuilt) == pytest.approx(losses[best], abs=1e-3)

    last = tmp_path / "last"
    summary = run_trial(OVERFIT, lambda epoch, metrics: None, last, resume=False)
    assert summary["model_checkpoint"] == "last" and summary["model_epoch"] == 8
    final = summary["final"]["val_loss"]  # (its own run's: not bit-exact with the first)
    assert _validation_log_loss(last / "model") == pytest.approx(final, abs=1e-3)
    again = export_model(last, tmp_path / "again")
    assert _validation_log_loss(again) == pytest.approx(final, abs=1e-3)
