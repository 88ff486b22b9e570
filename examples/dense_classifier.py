#!/usr/bin/env python3
"""A dense classifier in the style of the original practice (deep_recommend_system's
dense_classifier.py): hyperparameters as command-line flags, a CSV in, Keras `fit` with
TensorBoard summaries and checkpoints, a SavedModel out. It knows nothing of tuner:

    python examples/dense_classifier.py --optimizer adagrad --model_network "128 32 8"

trains one model on the breast-cancer data set scikit-learn ships (or --train_file, a
CSV whose last column is a 0/1 label), and `tune run examples/dense_classifier.yaml`
tunes it by these flags, unchanged. What a sweep relies on, and a user would want
anyway: its epochs are printed by Keras (`Epoch 3/8` … `val_auc: 0.9871`), written to
TensorBoard under --tensorboard_dir, and backed up in --checkpoint_dir, so a run
stopped mid-way continues from its last epoch when started again with the same folder.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

OPTIMIZERS = ("sgd", "adadelta", "adagrad", "adam", "ftrl", "rmsprop")


def flags() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train_file", help="CSV, header line, last column the 0/1 label")
    parser.add_argument("--validation_split", type=float, default=0.25)
    parser.add_argument("--model", choices=("dnn", "lr", "wide_and_deep"), default="dnn")
    parser.add_argument("--model_network", default="128 32 8", help='layer widths: "128 32 8"')
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    parser.add_argument("--learning_rate", type=float, default=0.01)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model_dir", default="output/model", help="the SavedModel's folder")
    parser.add_argument("--checkpoint_dir", default="output/checkpoints")
    parser.add_argument("--tensorboard_dir", default="output/tensorboard")
    return parser.parse_args()


def load(args: argparse.Namespace):
    import numpy as np

    if args.train_file:
        table = np.genfromtxt(args.train_file, delimiter=",", skip_header=1, dtype="float32")
        features, labels = table[:, :-1], table[:, -1]
    else:
        from sklearn.datasets import load_breast_cancer

        features, labels = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(args.seed).permutation(len(labels))
    features, labels = features[order].astype("float32"), labels[order].astype("float32")
    held = int(len(labels) * args.validation_split)
    return (features[held:], labels[held:]), (features[:held], labels[:held])


def build(args: argparse.Namespace, train_features):
    import keras

    inputs = keras.Input(shape=(train_features.shape[1],), name="features")
    scale = keras.layers.Normalization(name="scale")
    scale.adapt(train_features)
    scaled = scale(inputs)
    deep = scaled
    if args.model in ("dnn", "wide_and_deep"):
        for width in [int(w) for w in args.model_network.split()]:
            deep = keras.layers.Dense(width, activation="relu")(deep)
            if args.dropout:
                deep = keras.layers.Dropout(args.dropout, seed=args.seed)(deep)
    if args.model == "lr":
        logit = keras.layers.Dense(1)(scaled)
    elif args.model == "wide_and_deep":
        logit = keras.layers.Add()([keras.layers.Dense(1)(scaled), keras.layers.Dense(1)(deep)])
    else:
        logit = keras.layers.Dense(1)(deep)
    model = keras.Model(inputs, keras.layers.Activation("sigmoid")(logit))
    optimizer = {
        "sgd": keras.optimizers.SGD,
        "adadelta": keras.optimizers.Adadelta,
        "adagrad": keras.optimizers.Adagrad,
        "adam": keras.optimizers.Adam,
        "ftrl": keras.optimizers.Ftrl,
        "rmsprop": keras.optimizers.RMSprop,
    }[args.optimizer](learning_rate=args.learning_rate)
    model.compile(
        optimizer=optimizer,
        loss="binary_crossentropy",
        metrics=["accuracy", keras.metrics.AUC(name="auc")],
    )
    return model


def main() -> None:
    args = flags()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    keras.utils.set_random_seed(args.seed)
    (train_x, train_y), (valid_x, valid_y) = load(args)
    model = build(args, train_x)
    model.fit(
        train_x,
        train_y,
        validation_data=(valid_x, valid_y),
        batch_size=args.batch_size,
        epochs=args.epochs,
        verbose=2,  # one line per epoch: what a sweep reads (TensorBoard has it too)
        callbacks=[
            keras.callbacks.TensorBoard(log_dir=args.tensorboard_dir),
            keras.callbacks.BackupAndRestore(backup_dir=args.checkpoint_dir),
        ],
    )
    Path(args.model_dir).parent.mkdir(parents=True, exist_ok=True)
    model.export(args.model_dir, verbose=False)  # a SavedModel: `serve` takes the features
    print(f"model exported to {args.model_dir}")


if __name__ == "__main__":
    main()
