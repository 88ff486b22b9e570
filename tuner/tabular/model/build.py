"""linear | dnn | wide_deep Keras models over raw features, built from the data set schema.

Inputs are the reader's raw typed features (one input per feature, shape [batch]);
lookups, normalization and crosses are layers of the model. Every layer of the wide
part is named `wide_…`, so the wide/deep optimizer split is a name pattern.

Column names may be anything; Keras names may not (no `/`), so the model's inputs are
keyed by each feature's key (names.py) and callers rename their features with
`Built.keys`. A regression model predicts in the label's own units: its last layer
undoes the standardization (label mean/std of the schema) that training works in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tuner.tabular.data.schema import Feature, Schema
from tuner.tabular.model.config import parse_cross
from tuner.tabular.model.layers import Bias, NumericFeatures, SparseLinear, keras, tf
from tuner.tabular.model.names import LayerNames, feature_keys

MISSING = ""  # the reader's missing category; it gets its own lookup id
WIDE_PREFIX = "wide_"


@dataclass
class Built:
    model: Any
    task: str
    classes: tuple[str, ...] | None
    keys: dict[str, str] = field(default_factory=dict)  # feature name → model input key

    def renamed(self, features: dict[str, Any]) -> dict[str, Any]:
        """Features keyed by name (the reader's) → keyed as the model's inputs."""
        return {self.keys.get(k, k): v for k, v in features.items()}


@dataclass
class _Ctx:
    """What every part of one build shares: the schema, the inputs (by feature name),
    each feature's key, and the layer names used so far."""

    schema: Schema
    inputs: dict[str, Any]
    keys: dict[str, str]
    name: LayerNames


def _context(schema: Schema) -> _Ctx:
    keys = feature_keys(f.name for f in schema.features)
    name = LayerNames()
    inputs = {}
    for f in schema.features:
        key = name(keys[f.name])
        if f.kind == "numeric":
            inputs[f.name] = keras.Input(shape=(), dtype="float32", name=key)
        elif f.kind == "categorical":
            inputs[f.name] = keras.Input(shape=(), dtype="string", name=key)
        else:
            inputs[f.name] = keras.Input(
                shape=(f.dimension,), dtype="float32", sparse=True, name=key
            )
    return _Ctx(schema, inputs, keys, name)


def _lookup(ctx: _Ctx, f: Feature, prefix: str) -> Any:
    """Strings → ids: 0 for an unseen value, then the vocabulary, then missing ("")."""
    return keras.layers.StringLookup(
        vocabulary=[*(f.vocabulary or ()), MISSING],
        num_oov_indices=1,
        name=ctx.name(f"{prefix}lookup_{ctx.keys[f.name]}"),
    )


def _lookup_size(f: Feature) -> int:
    return len(f.vocabulary or ()) + 2


def _numeric(ctx: _Ctx, name: str) -> Any | None:
    numeric = [f for f in ctx.schema.features if f.kind == "numeric"]
    if not numeric:
        return None
    layer = NumericFeatures(
        [ctx.keys[f.name] for f in numeric],
        [f.mean or 0.0 for f in numeric],
        [f.std or 1.0 for f in numeric],
        [f.missing > 0 for f in numeric],
        name=ctx.name(name),
    )
    return layer({ctx.keys[f.name]: ctx.inputs[f.name] for f in numeric})


def _buckets(ctx: _Ctx, cfg: dict[str, Any], width: int, prefix: str, zeros: bool) -> list[Any]:
    """With numeric_buckets: each number's bucket (the schema's quantiles) as a [B, width]
    row of a table — one-hot weights for a linear part (`zeros`), an embedding for a deep
    one. A missing number (NaN) falls in the first bucket; its indicator is in
    `_numeric`'s output."""
    if not cfg.get("numeric_buckets"):
        return []
    out = []
    for f in ctx.schema.features:
        if f.kind != "numeric":
            continue
        if f.quantiles is None:
            raise ValueError(f"feature '{f.name}' has no quantiles (numeric_buckets)")
        key = ctx.keys[f.name]
        bucket = keras.layers.Discretization(
            bin_boundaries=list(f.quantiles), name=ctx.name(f"{prefix}bucket_{key}")
        )
        table = keras.layers.Embedding(
            len(f.quantiles) + 1,
            width,
            embeddings_initializer="zeros" if zeros else "uniform",
            name=ctx.name(f"{prefix}buckets_{key}"),
        )
        out.append(table(bucket(ctx.inputs[f.name])))
    return out


def _linear_terms(
    ctx: _Ctx, cfg: dict[str, Any], units: int, prefix: str, numeric: bool
) -> list[Any]:
    """One linear term per feature: categorical one-hot as a [vocab, units] table (and
    each number's bucket one-hot, with numeric_buckets)."""
    terms = []
    if numeric and (x := _numeric(ctx, f"{prefix}numeric")) is not None:
        dense = keras.layers.Dense(units, use_bias=False, name=ctx.name(f"{prefix}dense"))
        terms.append(dense(x))
    terms.extend(_buckets(ctx, cfg, units, prefix, zeros=True))
    for f in ctx.schema.features:
        if f.kind == "numeric":
            continue
        name = ctx.name(f"{prefix}{ctx.keys[f.name]}")
        if f.kind == "categorical":
            ids = _lookup(ctx, f, prefix)(ctx.inputs[f.name])
            table = keras.layers.Embedding(
                _lookup_size(f), units, embeddings_initializer="zeros", name=name
            )
            terms.append(table(ids))
        else:
            terms.append(SparseLinear(f.sparse_dimension, units, name=name)(ctx.inputs[f.name]))
    return terms


def _sum(ctx: _Ctx, terms: list[Any], name: str) -> Any:
    if len(terms) > 1:
        terms = [keras.layers.Add(name=ctx.name(f"{name}_sum"))(terms)]
    return Bias(name=ctx.name(name))(terms[0])


def _deep(ctx: _Ctx, cfg: dict[str, Any], units: int) -> Any:
    """Embeddings + normalized numbers → hidden layers → [B, units] logits. Sparse
    features enter the first hidden layer as a sparse product."""
    l2 = keras.regularizers.L2(cfg["l2"]) if cfg["l2"] > 0 else None
    dense_parts = []
    if (x := _numeric(ctx, "deep_numeric")) is not None:
        dense_parts.append(x)
    for f in ctx.schema.features:
        if f.kind == "categorical":
            ids = _lookup(ctx, f, "deep_")(ctx.inputs[f.name])
            embed = keras.layers.Embedding(
                _lookup_size(f),
                cfg["embedding_dim"],
                name=ctx.name(f"deep_embed_{ctx.keys[f.name]}"),
            )
            dense_parts.append(embed(ids))
    dense_parts.extend(_buckets(ctx, cfg, cfg["embedding_dim"], "deep_", zeros=False))
    sparse = [f for f in ctx.schema.features if f.kind == "sparse"]
    hidden = cfg["hidden_units"]
    first = []
    if dense_parts:
        if len(dense_parts) == 1:
            x = dense_parts[0]
        else:
            x = keras.layers.Concatenate(name=ctx.name("deep_concat"))(dense_parts)
        first.append(
            keras.layers.Dense(hidden[0], kernel_regularizer=l2, name=ctx.name("deep_0"))(x)
        )
    for f in sparse:
        layer = SparseLinear(
            f.sparse_dimension, hidden[0], name=ctx.name(f"deep_0_{ctx.keys[f.name]}")
        )
        first.append(layer(ctx.inputs[f.name]))
    x = first[0] if len(first) == 1 else keras.layers.Add(name=ctx.name("deep_0_sum"))(first)
    for i, width in enumerate(hidden):
        if i > 0:
            x = keras.layers.Dense(width, kernel_regularizer=l2, name=ctx.name(f"deep_{i}"))(x)
        if cfg["batch_norm"]:
            x = keras.layers.BatchNormalization(name=ctx.name(f"deep_bn_{i}"))(x)
        x = keras.layers.Activation(cfg["activation"], name=ctx.name(f"deep_act_{i}"))(x)
        if cfg["dropout"] > 0:
            x = keras.layers.Dropout(cfg["dropout"], name=ctx.name(f"deep_dropout_{i}"))(x)
    return keras.layers.Dense(units, name=ctx.name("deep_logits"))(x)


def _wide(ctx: _Ctx, cfg: dict[str, Any], units: int) -> Any:
    """A linear model over one-hot categories, hashed crosses and sparse features (plus
    the numbers when there is nothing categorical to be wide over)."""
    has_categorical = any(f.kind != "numeric" for f in ctx.schema.features)
    terms = _linear_terms(ctx, cfg, units, WIDE_PREFIX, numeric=not has_categorical)
    for cross in cfg.get("crosses", []):
        names = parse_cross(cross)
        tag = "_x_".join(ctx.keys[n] for n in names)
        crossed = keras.layers.HashedCrossing(
            cfg["hash_buckets"], name=ctx.name(f"{WIDE_PREFIX}hash_{tag}")
        )
        ids = crossed(tuple(ctx.inputs[n] for n in names))
        table = keras.layers.Embedding(
            cfg["hash_buckets"],
            units,
            embeddings_initializer="zeros",
            name=ctx.name(f"{WIDE_PREFIX}{tag}"),
        )
        terms.append(table(ids))
    return _sum(ctx, terms, f"{WIDE_PREFIX}logits")


def label_scale(schema: Schema) -> tuple[float, float]:
    """(mean, std) a regression model's output is scaled back by; (0, 1) for a schema
    without label statistics (a model trained before they existed)."""
    label = schema.label
    std = label.std if label.std else 1.0
    return float(label.mean or 0.0), float(std)


def build_model(schema: Schema, cfg: dict[str, Any]) -> Built:
    """The model for `cfg` (a prepared config). Output: P(positive class) [B] for binary,
    class probabilities [B, C] for multiclass, the value [B] for regression (in the
    label's units: the layers before it predict the standardized label)."""
    ctx = _context(schema)
    task = schema.label.kind
    classes = schema.label.classes
    units = len(classes or ()) if task == "multiclass" else 1
    if cfg["model"] == "linear":
        logits = _sum(ctx, _linear_terms(ctx, cfg, units, "linear_", numeric=True), "logits")
    elif cfg["model"] == "dnn":
        logits = _deep(ctx, cfg, units)
    else:
        wide = _wide(ctx, cfg, units)
        deep = _deep(ctx, cfg, units)
        logits = keras.layers.Add(name=ctx.name("logits"))([wide, deep])
    if task == "multiclass":
        output = keras.layers.Softmax(name=ctx.name("probabilities"))(logits)
    else:
        squeezed = keras.layers.Reshape((), name=ctx.name("squeeze"))(logits)
        if task == "binary":
            output = keras.layers.Activation("sigmoid", name=ctx.name("probability"))(squeezed)
        else:
            mean, std = label_scale(schema)
            unscale = keras.layers.Rescaling(scale=std, offset=mean, name=ctx.name("value"))
            output = unscale(squeezed)
    model_inputs = {ctx.keys[name]: tensor for name, tensor in ctx.inputs.items()}
    model = keras.Model(inputs=model_inputs, outputs=output, name=cfg["model"])
    return Built(model, task, classes, dict(ctx.keys))


def wide_variables(model: Any) -> list[Any]:
    return [v for v in model.trainable_variables if v.path.startswith(WIDE_PREFIX)]


def count_params(model: Any) -> int:
    return int(sum(tf.size(v).numpy() for v in model.trainable_variables))
