"""Your own Keras code, tuned by tuner: a small DNN on the Wisconsin breast cancer data
set (sklearn's copy: built in, nothing downloaded), as a Python objective.

    tune run examples/keras_objective.yaml       # from the repository root, as it is
    tune best keras-objective --export           # the best trial's SavedModel
    tune best keras-objective --register cancer  # an MLflow model: mlflow models serve

What it takes: the `@tuner.objective` decorator naming the metrics it reports, and two
Keras callbacks in `fit` — `BackupAndRestore` in the trial folder (a trial run again
after its worker died, or after its sweep was interrupted, continues from its last
epoch) and `tuner.keras.Report` (each epoch's logs to the sweep; a pruned trial's `fit`
stops; `restore_best=True`: `fit` ends with the weights of the best epoch, the one the
sweep scores the trial by). The model it saves to `trial_dir / "model"` is what `tune
best` exports and registers. The space file names it `keras_objective:train`: tuner
finds this module beside the space file. TensorFlow is imported inside the function, so
loading the space file (and `tune status`, `tune best`) stays fast.

It runs on its own too: `python examples/keras_objective.py` trains one config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tuner
from tuner.keras import Report

METRICS = ["val_auc", "val_loss", "auc", "loss"]  # Keras's names for them


def data(seed: int) -> tuple[Any, Any, Any, Any]:
    """Train and validation splits (75/25, stratified), features as float32."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x.astype("float32"), y.astype("float32"), test_size=0.25, stratify=y, random_state=seed
    )
    return x_train, x_val, y_train, y_val


def build(config: dict[str, Any], x_train: Any) -> Any:
    """The DNN: features normalized inside the model (so the exported model takes raw
    features), `depth` hidden layers of `width` units, a sigmoid output."""
    import keras

    normalize = keras.layers.Normalization()
    normalize.adapt(x_train)
    layers = [keras.Input((x_train.shape[1],)), normalize]
    for _ in range(int(config["depth"])):
        layers += [
            keras.layers.Dense(int(config["width"]), activation="relu"),
            keras.layers.Dropout(float(config.get("dropout", 0.0))),
        ]
    model = keras.Sequential([*layers, keras.layers.Dense(1, activation="sigmoid")])
    optimizer = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}.get(
        config["optimizer"], keras.optimizers.RMSprop
    )(learning_rate=float(config["learning_rate"]))
    model.compile(optimizer, "binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")])
    return model


@tuner.objective(metrics=METRICS)
def train(config: dict[str, Any], report: Any, trial_dir: Path) -> dict[str, Any]:
    import keras

    seed = int(config.get("seed", 0))
    x_train, x_val, y_train, y_val = data(seed)
    keras.utils.set_random_seed(seed)
    model = build(config, x_train)
    history = model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=int(config["epochs"]),
        batch_size=int(config.get("batch_size", 32)),
        verbose=0,
        callbacks=[
            # first: each epoch is backed up before it is reported; kept at the end, so
            # that a trial stopped by the ending of its sweep continues on `tune resume`
            keras.callbacks.BackupAndRestore(trial_dir / "backup", delete_checkpoint=False),
            Report(report, restore_best=True),  # ends with the best epoch's weights
        ],
    )
    model.export(str(trial_dir / "model"), verbose=False)  # a SavedModel: served as is
    return {"epochs": len(history.history.get("loss", []))}


if __name__ == "__main__":  # one config, outside any sweep
    import tempfile

    def show(epoch: int, metrics: dict[str, float]) -> None:
        print(f"epoch {epoch}: " + "  ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())))

    config = {"optimizer": "adam", "learning_rate": 0.003, "width": 32, "depth": 2, "epochs": 4}
    with tempfile.TemporaryDirectory() as folder:
        train(config, show, Path(folder))
