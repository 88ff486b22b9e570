"""linear | dnn | wide_deep Keras models over raw features, built from the data set schema.

Inputs are the reader's raw typed features (one input per feature, shape [batch]);
lookups, normalization and crosses are layers of the model. Every layer of the wide
part is named `wide_…`, so the wide/deep optimizer split is a name pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuner.data.schema import Feature, Schema
from tuner.model.config import parse_cross
from tuner.model.layers import Bias, NumericFeatures, SparseLinear, keras, tf

MISSING = ""  # the reader's missing category; it gets its own lookup id
WIDE_PREFIX = "wide_"


@dataclass
class Built:
    model: Any
    task: str
    classes: tuple[str, ...] | None


def _inputs(schema: Schema) -> dict[str, Any]:
    inputs = {}
    for f in schema.features:
        if f.kind == "numeric":
            inputs[f.name] = keras.Input(shape=(), dtype="float32", name=f.name)
        elif f.kind == "categorical":
            inputs[f.name] = keras.Input(shape=(), dtype="string", name=f.name)
        else:
            inputs[f.name] = keras.Input(
                shape=(f.dimension,), dtype="float32", sparse=True, name=f.name
            )
    return inputs


def _lookup(f: Feature, prefix: str) -> Any:
    """Strings → ids: 0 for an unseen value, then the vocabulary, then missing ("")."""
    return keras.layers.StringLookup(
        vocabulary=[*(f.vocabulary or ()), MISSING],
        num_oov_indices=1,
        name=f"{prefix}lookup_{f.name}",
    )


def _lookup_size(f: Feature) -> int:
    return len(f.vocabulary or ()) + 2


def _numeric(schema: Schema, inputs: dict[str, Any], name: str) -> Any | None:
    numeric = [f for f in schema.features if f.kind == "numeric"]
    if not numeric:
        return None
    layer = NumericFeatures(
        [f.name for f in numeric],
        [f.mean or 0.0 for f in numeric],
        [f.std or 1.0 for f in numeric],
        [f.missing > 0 for f in numeric],
        name=name,
    )
    return layer({f.name: inputs[f.name] for f in numeric})


def _linear_terms(
    schema: Schema, inputs: dict[str, Any], units: int, prefix: str, numeric: bool
) -> list[Any]:
    """One linear term per feature: categorical one-hot as a [vocab, units] table."""
    terms = []
    if numeric and (x := _numeric(schema, inputs, f"{prefix}numeric")) is not None:
        terms.append(keras.layers.Dense(units, use_bias=False, name=f"{prefix}dense")(x))
    for f in schema.features:
        if f.kind == "categorical":
            ids = _lookup(f, prefix)(inputs[f.name])
            table = keras.layers.Embedding(
                _lookup_size(f), units, embeddings_initializer="zeros", name=f"{prefix}{f.name}"
            )
            terms.append(table(ids))
        elif f.kind == "sparse":
            terms.append(SparseLinear(f.dimension, units, name=f"{prefix}{f.name}")(inputs[f.name]))
    return terms


def _sum(terms: list[Any], name: str) -> Any:
    total = terms[0] if len(terms) == 1 else keras.layers.Add(name=f"{name}_sum")(terms)
    return Bias(name=name)(total)


def _deep(schema: Schema, inputs: dict[str, Any], cfg: dict[str, Any], units: int) -> Any:
    """Embeddings + normalized numbers → hidden layers → [B, units] logits. Sparse
    features enter the first hidden layer as a sparse product."""
    l2 = keras.regularizers.L2(cfg["l2"]) if cfg["l2"] > 0 else None
    dense_parts = []
    if (x := _numeric(schema, inputs, "deep_numeric")) is not None:
        dense_parts.append(x)
    for f in schema.features:
        if f.kind == "categorical":
            ids = _lookup(f, "deep_")(inputs[f.name])
            embed = keras.layers.Embedding(
                _lookup_size(f), cfg["embedding_dim"], name=f"deep_embed_{f.name}"
            )
            dense_parts.append(embed(ids))
    sparse = [f for f in schema.features if f.kind == "sparse"]
    hidden = cfg["hidden_units"]
    first = []
    if dense_parts:
        x = dense_parts[0] if len(dense_parts) == 1 else keras.layers.Concatenate()(dense_parts)
        first.append(keras.layers.Dense(hidden[0], kernel_regularizer=l2, name="deep_0")(x))
    for f in sparse:
        first.append(SparseLinear(f.dimension, hidden[0], name=f"deep_0_{f.name}")(inputs[f.name]))
    x = first[0] if len(first) == 1 else keras.layers.Add(name="deep_0_sum")(first)
    for i, width in enumerate(hidden):
        if i > 0:
            x = keras.layers.Dense(width, kernel_regularizer=l2, name=f"deep_{i}")(x)
        if cfg["batch_norm"]:
            x = keras.layers.BatchNormalization(name=f"deep_bn_{i}")(x)
        x = keras.layers.Activation(cfg["activation"], name=f"deep_act_{i}")(x)
        if cfg["dropout"] > 0:
            x = keras.layers.Dropout(cfg["dropout"], name=f"deep_dropout_{i}")(x)
    return keras.layers.Dense(units, name="deep_logits")(x)


def _wide(schema: Schema, inputs: dict[str, Any], cfg: dict[str, Any], units: int) -> Any:
    """A linear model over one-hot categories, hashed crosses and sparse features (plus
    the numbers when there is nothing categorical to be wide over)."""
    has_categorical = any(f.kind != "numeric" for f in schema.features)
    terms = _linear_terms(schema, inputs, units, WIDE_PREFIX, numeric=not has_categorical)
    for cross in cfg.get("crosses", []):
        names = parse_cross(cross)
        tag = "_x_".join(names)
        crossed = keras.layers.HashedCrossing(cfg["hash_buckets"], name=f"{WIDE_PREFIX}hash_{tag}")
        ids = crossed(tuple(inputs[n] for n in names))
        table = keras.layers.Embedding(
            cfg["hash_buckets"], units, embeddings_initializer="zeros", name=f"{WIDE_PREFIX}{tag}"
        )
        terms.append(table(ids))
    return _sum(terms, f"{WIDE_PREFIX}logits")


def build_model(schema: Schema, cfg: dict[str, Any]) -> Built:
    """The model for `cfg` (a prepared config). Output: P(positive class) [B] for binary,
    class probabilities [B, C] for multiclass, the value [B] for regression."""
    inputs = _inputs(schema)
    task = schema.label.kind
    classes = schema.label.classes
    units = len(classes or ()) if task == "multiclass" else 1
    if cfg["model"] == "linear":
        logits = _sum(_linear_terms(schema, inputs, units, "linear_", numeric=True), "logits")
    elif cfg["model"] == "dnn":
        logits = _deep(schema, inputs, cfg, units)
    else:
        wide = _wide(schema, inputs, cfg, units)
        deep = _deep(schema, inputs, cfg, units)
        logits = keras.layers.Add(name="logits")([wide, deep])
    if task == "multiclass":
        output = keras.layers.Softmax(name="probabilities")(logits)
    else:
        squeezed = keras.layers.Reshape((), name="squeeze")(logits)
        output = (
            keras.layers.Activation("sigmoid", name="probability")(squeezed)
            if task == "binary"
            else keras.layers.Identity(name="value")(squeezed)
        )
    model = keras.Model(inputs=inputs, outputs=output, name=cfg["model"])
    return Built(model, task, classes)


def wide_variables(model: Any) -> list[Any]:
    return [v for v in model.trainable_variables if v.path.startswith(WIDE_PREFIX)]


def count_params(model: Any) -> int:
    return int(sum(tf.size(v).numpy() for v in model.trainable_variables))
