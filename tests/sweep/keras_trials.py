"""A real Keras objective for sweep tests (tests/sweep/test_keras_sweep.py): a tiny model
on 300 rows of synthetic data, `fit` with BackupAndRestore and `tuner.keras.Report`, as
the README's recipe has it. Trials named in `noisy` learn from shuffled labels (the
pruner's prey); trials named in `dying` SIGKILL their own worker process after the
report of epoch `die_at`, once. Each run appends what `current_trial()` said to
trial_dir/contexts.log and each epoch it trains to trial_dir/epochs.log."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from tuner.keras import Report
from tuner.trial import current_trial, objective


@objective(metrics=["val_auc", "val_loss", "auc", "loss"])
def train(config: dict[str, Any], report: Any, trial_dir: Path) -> None:
    import keras
    import numpy as np

    trial = current_trial()
    assert trial is not None and trial.trial_dir == trial_dir
    trial_dir.mkdir(parents=True, exist_ok=True)
    with (trial_dir / "contexts.log").open("a") as log:
        log.write(json.dumps({"number": trial.number, "resume_epoch": trial.resume_epoch}) + "\n")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("float32")
    if trial.number in config.get("noisy", []):
        y = rng.permutation(y)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(int(config["width"]), activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(0.05), "binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")]
    )

    class Trace(keras.callbacks.Callback):  # (before Report: a trained epoch is logged)
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            with (trial_dir / "epochs.log").open("a") as log:
                log.write(f"{epoch + 1}\n")

    class Die(keras.callbacks.Callback):  # (after Report)
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            deaths = trial_dir / "deaths.log"
            dying = trial.number in config.get("dying", [])
            if dying and epoch + 1 == config.get("die_at") and not deaths.exists():
                deaths.write_text(f"{os.getpid()}\n")
                os.kill(os.getpid(), signal.SIGKILL)

    model.fit(
        x[:225],
        y[:225],
        validation_data=(x[225:], y[225:]),
        epochs=int(config["epochs"]),
        batch_size=32,
        verbose=0,
        callbacks=[
            keras.callbacks.BackupAndRestore(trial_dir / "backup", delete_checkpoint=False),
            Trace(),
            Report(report),
            Die(),
        ],
    )
    (trial_dir / "fit_returned").write_text("yes")
    model.export(str(trial_dir / "model"), verbose=False)
