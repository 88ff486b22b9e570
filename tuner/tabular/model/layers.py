"""Keras layers the standard set lacks: numeric imputation + normalization in one step,
and linear maps over LIBSVM sparse features that never densify them.

They live inside the model, so an exported SavedModel takes raw feature values and
applies exactly the preprocessing training used.
"""

from __future__ import annotations

from typing import Any

from tuner.tabular.runtime import tensorflow

tf = tensorflow()
import keras  # noqa: E402 - after TensorFlow is configured


class NumericFeatures(keras.layers.Layer):
    """Raw numeric columns [B] → normalized [B, n] plus a 0/1 missing indicator for each
    column that had missing values in training. A missing value (NaN) becomes the
    training mean, i.e. 0 after normalization."""

    def __init__(
        self,
        names: list[str],
        mean: list[float],
        std: list[float],
        with_indicator: list[bool],
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.names = list(names)
        self.mean = [float(m) for m in mean]
        self.std = [float(s) if s and s > 0 else 1.0 for s in std]
        self.with_indicator = list(with_indicator)

    def call(self, inputs: dict[str, Any]) -> Any:
        x = tf.stack([tf.cast(inputs[n], tf.float32) for n in self.names], axis=1)
        missing = tf.math.is_nan(x)
        mean = tf.constant(self.mean, tf.float32)
        x = tf.where(missing, mean, x)
        out = (x - mean) / tf.constant(self.std, tf.float32)
        flags = [i for i, w in enumerate(self.with_indicator) if w]
        if flags:
            indicator = tf.cast(tf.gather(missing, flags, axis=1), tf.float32)
            out = tf.concat([out, indicator], axis=1)
        return out

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, int]:
        return (None, len(self.names) + sum(self.with_indicator))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "names": self.names,
            "mean": self.mean,
            "std": self.std,
            "with_indicator": self.with_indicator,
        }


class SparseLinear(keras.layers.Layer):
    """SparseTensor [B, dimension] (ids with values) → [B, units]: a sum of weighted rows
    of a [dimension, units] kernel, looked up, not multiplied as a dense matrix, so the
    gradient touches only the rows a batch uses."""

    def __init__(
        self,
        dimension: int,
        units: int,
        use_bias: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.dimension = int(dimension)
        self.units = int(units)
        self.use_bias = use_bias

    def build(self, input_shape: Any) -> None:
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.dimension, self.units),
            initializer=keras.initializers.GlorotUniform()
            if self.units > 1
            else keras.initializers.Zeros(),
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
            if self.use_bias
            else None
        )

    def call(self, inputs: Any) -> Any:
        ids = tf.SparseTensor(inputs.indices, inputs.indices[:, 1], inputs.dense_shape)
        # the tf.Variable under the Keras one: TF's lookup reads `.device`, which Keras lacks
        out = tf.nn.safe_embedding_lookup_sparse(
            self.kernel.value, ids, sparse_weights=inputs, combiner="sum"
        )
        # safe_embedding_lookup_sparse returns as many rows as the last non-empty one
        rows = tf.cast(inputs.dense_shape[0], tf.int32)
        out = tf.pad(out, [[0, rows - tf.shape(out)[0]], [0, 0]])
        if self.bias is not None:
            out = out + self.bias
        return out

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, int]:
        return (None, self.units)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "dimension": self.dimension,
            "units": self.units,
            "use_bias": self.use_bias,
        }


class Bias(keras.layers.Layer):
    """Adds a trainable bias: the intercept of a linear model made of per-feature terms."""

    def build(self, input_shape: Any) -> None:
        self.bias = self.add_weight(name="bias", shape=(input_shape[-1],), initializer="zeros")

    def call(self, inputs: Any) -> Any:
        return inputs + self.bias


class StandardizedMeanSquaredError(keras.losses.MeanSquaredError):
    """The mean squared error of the label standardized by its training std,
    ((y - ŷ) / std)², for a model whose output is in the label's units (its last layer
    scales back by std and adds the mean). Training on the standardized label keeps the
    gradients of a target like 152 ± 77 as tame as those of one like 0 ± 1; the metrics
    (rmse, mae) still see the output, in the label's units."""

    def __init__(self, std: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.std = float(std) if std and std > 0 else 1.0

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return super().call(y_true / self.std, y_pred / self.std)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "std": self.std}


class DefinedAUC(keras.metrics.AUC):
    """ROC AUC that is NaN where it is undefined: over rows of one class only (a tiny
    validation split, a distributed worker's shard). Keras's AUC divides 0 by 0 "safely"
    there and says 0.0, a number a sweep would rank; NaN is reported as no value (the
    sweep says why the trial has none, MLflow skips it).

    At the lowest threshold every row is predicted positive, so true positives + false
    negatives there count the positive rows and false positives + true negatives the
    negative ones."""

    def result(self) -> Any:
        auc = super().result()
        positives = self.true_positives[0] + self.false_negatives[0]
        negatives = self.false_positives[0] + self.true_negatives[0]
        defined = keras.ops.logical_and(positives > 0, negatives > 0)
        return keras.ops.where(defined, auc, float("nan"))
