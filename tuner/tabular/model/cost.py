"""A model's cost, reported with its quality every epoch: its size (`params`,
`model_bytes`) and how long it takes to predict a batch (`predict_ms`)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuner.tabular.data import reader
from tuner.tabular.model.build import Built
from tuner.tabular.model.inputs import for_model
from tuner.tabular.model.layers import tf

PREDICT_ROWS = 1024  # the validation rows of the batch whose prediction `predict_ms` times
PREDICT_REPEATS = 9


def model_size(model: Any) -> dict[str, float]:
    """`params`: the model's parameter count (trainable or not: batch normalization's
    moving statistics too); `model_bytes`: the bytes of its weights (every weight
    variable's numpy nbytes: 4 a parameter in float32), the values the exported
    SavedModel's `variables` hold. It is the weights only, not the size of the SavedModel
    folder, which adds the graph, the vocabularies and, in variables/, Keras's export
    writes each weight under two names. Both depend on the config alone."""
    return {
        "params": float(model.count_params()),
        "model_bytes": float(sum(w.numpy().nbytes for w in model.weights)),
    }


def predict_latency_ms(
    model: Any,
    features: Any,
    *,
    repeats: int = PREDICT_REPEATS,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Milliseconds the model takes to predict one batch `features` in inference mode.

    The model is called through a `tf.function`, traced once and run once untimed
    (tracing and the first run's graph optimization and allocations are one-off costs,
    not the latency), then timed `repeats` times, each run until its result is on the
    host. The median of the repeats is reported, not the mean or one run: a run of a
    millisecond is now and then delayed many times over (the scheduler preempts it, a
    thread pool wakes late); the median ignores those outliers, where a mean or a single
    run would carry them into the figure a sweep minimizes. It cannot remove sustained
    load: a trial measured while another trains on the same cores reads higher (up to
    about 2x with 2 trials on 2 CPUs), so rank fine differences from one trial per core.
    Inference mode touches no state (dropout is off, batch normalization reads its
    moving statistics), so measuring does not change the training that follows."""
    if repeats < 1:
        raise ValueError(f"repeats {repeats}: expected 1 or more")
    predict = tf.function(lambda x: model(x, training=False))
    predict.get_concrete_function(features)  # traced once
    tf.nest.map_structure(lambda t: t.numpy(), predict(features))  # warmed once, untimed
    times = []
    for _ in range(repeats):
        t0 = clock()
        tf.nest.map_structure(lambda t: t.numpy(), predict(features))
        times.append(clock() - t0)
    return 1000.0 * statistics.median(times)


def predict_batch(data_dir: Path, cfg: dict[str, Any], built: Built) -> Any:
    """The features of the validation split's first PREDICT_ROWS rows (all of them when
    it has fewer), keyed as the model's inputs."""
    split = cfg["validation_split"]
    with reader.reading(data_dir, split):
        ds = reader.dataset(data_dir, split, batch_size=PREDICT_ROWS, shuffle=False)
        features, _ = next(iter(for_model(ds, built)))
    return features
