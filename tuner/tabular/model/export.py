"""A SavedModel that serves raw feature values: strings for categorical features, numbers
for numeric ones (NaN = missing), padded id/value lists for sparse ones.

Everything the model needs (lookups, statistics, crosses) is inside it, so loading it
needs TensorFlow and nothing of tuner. `assets.extra/tuner.json` beside it says which
inputs it takes and what its outputs mean, for `tune predict` and for people.

A signature's input keys must be Python identifiers (TensorFlow rewrites any other, so
`od280/od315` would become `od280_od315` behind the user's back), so the signature takes
each feature's key (names.py); tuner.json's `inputs` lists the user's column names and
`signature_keys` maps each to its key, which `tune predict` and the MLflow model apply:
users pass their original column names everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.atomic import staged_dir, write_text_atomic
from tuner.compat.keras import without_default_signature
from tuner.errors import ConfigError
from tuner.tabular.data.schema import SCHEMA_FILE, Schema
from tuner.tabular.model.names import feature_keys
from tuner.trial import CHECKPOINTS, CONFIG, METRICS

if TYPE_CHECKING:
    from tuner.tabular.model.build import Built

# TensorFlow is imported by the functions that need it: `tune predict` reads tuner.json
# and refuses bad input before TensorFlow starts.

SIGNATURE = "serve"
SCHEMA_COPY = SCHEMA_FILE  # the data set schema the model's preprocessing was built from
INFO = Path("assets.extra") / "tuner.json"


def signature_keys(schema: Schema) -> dict[str, str]:
    """The user's input column → the serving signature's input key, in schema order; a
    sparse feature is two columns, `<name>_ids` and `<name>_values`."""
    keys = feature_keys(f.name for f in schema.features)
    out = {}
    for f in schema.features:
        if f.kind == "sparse":
            out[f"{f.name}_ids"] = f"{keys[f.name]}_ids"
            out[f"{f.name}_values"] = f"{keys[f.name]}_values"
        else:
            out[f.name] = keys[f.name]
    return out


def input_signature(schema: Schema) -> dict[str, Any]:
    """Signature key → TensorSpec (named by the key: TensorFlow names the inputs so)."""
    from tuner.tabular.model.layers import tf

    keys = feature_keys(f.name for f in schema.features)
    spec = {}
    for f in schema.features:
        key = keys[f.name]
        if f.kind == "numeric":
            spec[key] = tf.TensorSpec([None], tf.float32, name=key)
        elif f.kind == "categorical":
            spec[key] = tf.TensorSpec([None], tf.string, name=key)
        else:  # padded with -1 ids (and any value) past each row's end
            spec[f"{key}_ids"] = tf.TensorSpec([None, None], tf.int64, name=f"{key}_ids")
            spec[f"{key}_values"] = tf.TensorSpec([None, None], tf.float32, name=f"{key}_values")
    return spec


def output_name(task: str) -> str:
    return {"binary": "probability", "multiclass": "probabilities", "regression": "value"}[task]


def _features(schema: Schema, inputs: dict[str, Any]) -> dict[str, Any]:
    """Signature inputs → the model's inputs (both keyed by feature key)."""
    from tuner.tabular.model.layers import tf

    keys = feature_keys(f.name for f in schema.features)
    features = {}
    for f in schema.features:
        key = keys[f.name]
        if f.kind != "sparse":
            features[key] = inputs[key]
            continue
        ids, values = inputs[f"{key}_ids"], inputs[f"{key}_values"]
        where = tf.where(ids >= 0)  # (row, position in the padded list)
        features[key] = tf.SparseTensor(
            tf.stack([where[:, 0], tf.gather_nd(ids, where)], axis=1),
            tf.gather_nd(values, where),
            tf.stack([tf.shape(ids, out_type=tf.int64)[0], tf.constant(f.dimension, tf.int64)]),
        )
    return features


def export_model(built: Built, schema: Schema, cfg: dict[str, Any], directory: Path) -> Path:
    """Write the SavedModel to `directory` (atomically: a temporary folder, then renamed)."""
    from tuner.tabular.model.layers import keras

    directory = Path(directory)
    model = built.model
    name = output_name(built.task)

    def serve(inputs: dict[str, Any]) -> dict[str, Any]:
        return {name: model(_features(schema, inputs), training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name=SIGNATURE, fn=serve, input_signature=[input_signature(schema)])
    cls = type(model)
    try:
        with staged_dir(directory) as tmp:
            if any(f.kind == "sparse" for f in schema.features):
                # Keras would also trace a default signature with dense specs for the sparse
                # inputs, which fails; ours above is the one that serves them
                without_default_signature(model)
            archive.write_out(str(tmp), verbose=False)
            info = {
                "signature": SIGNATURE,
                "inputs": list(signature_keys(schema)),  # the user's column names
                "signature_keys": signature_keys(schema),
                "output": name,
                "task": built.task,
                "classes": list(built.classes) if built.classes else None,
                "label": schema.label.name,
                "schema": schema.to_json(),
                "config": cfg,
            }
            write_text_atomic(tmp / INFO, json.dumps(info, indent=2) + "\n")
    finally:
        model.__class__ = cls
    return directory


def read_info(directory: Path) -> dict[str, Any]:
    return json.loads((Path(directory) / INFO).read_text())


def rebuild_from_checkpoint(trial_dir: Path, dest: Path) -> Path:
    """The tabular objective's `export_model` hook: a trial without an exported model
    (killed or stopped before its export) is rebuilt from its folder's config.yaml +
    schema.json, the checkpoint its model is from restored — its best epoch's when its
    metrics.json says the model is that one's (`model_checkpoint: best`: a sweep scoring
    it by its best epoch), else its last — and exported to `dest`."""
    import yaml

    if not (trial_dir / CONFIG).is_file():
        raise ConfigError(f"no {CONFIG} in the trial folder", where=trial_dir)
    from tuner.tabular.model.build import build_model
    from tuner.tabular.model.layers import keras, tf

    if not (trial_dir / CHECKPOINTS / "last").is_dir():
        raise ConfigError(
            "the trial exported no model (no model/saved_model.pb)",
            where=trial_dir,
            hint="and it has no checkpoints/last to rebuild it from",
        )
    checkpoint = _best_weights(trial_dir) or tf.train.latest_checkpoint(
        str(trial_dir / CHECKPOINTS / "last")
    )
    if checkpoint is None:
        raise ConfigError("no exported model and no checkpoint here", where=trial_dir)
    cfg = yaml.safe_load((trial_dir / CONFIG).read_text()) or {}
    schema = load_schema_file(trial_dir / SCHEMA_COPY)
    keras.backend.clear_session()
    built = build_model(schema, cfg)
    try:
        tf.train.Checkpoint(model=built.model).restore(
            checkpoint
        ).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError) as exc:
        raise ConfigError(
            "the trial's checkpoint does not match the model its config.yaml builds",
            where=checkpoint,
            hint=str(exc).splitlines()[0][:200],
        ) from None
    return export_model(built, schema, cfg, dest)


def _best_weights(trial_dir: Path) -> str | None:
    """The best epoch's checkpoint, when the trial's model is that epoch's (see
    `rebuild_from_checkpoint`); None: the last one is."""
    import sys

    path = trial_dir / METRICS
    summary = json.loads(path.read_text()) if path.is_file() else {}
    best = summary.get("best") or {}
    if summary.get("model_checkpoint") != "best" or not isinstance(best.get("epoch"), int):
        return None
    found = best_checkpoint(trial_dir, best["epoch"])
    if found is None:
        print(
            f"tune: warning: {trial_dir}: no checkpoint of the best epoch {best['epoch']} "
            "in checkpoints/best; the model is rebuilt from the last",
            file=sys.stderr,
        )
    return found


def best_checkpoint(trial_dir: Path, epoch: int) -> str | None:
    """The path of the checkpoint `checkpoints/best` keeps for `epoch`, or None when it
    keeps another epoch's (kept by another metric) or none."""
    from tuner.tabular.model.layers import tf

    found = tf.train.latest_checkpoint(str(trial_dir / CHECKPOINTS / "best"))
    return found if found is not None and found.endswith(f"ckpt-{epoch}") else None


def load_schema_file(path: Path) -> Schema:
    """A data set schema saved beside a model (not inside a data set directory)."""
    if not path.exists():
        raise ConfigError(
            "no model schema here", where=path.parent, hint="expected a tune train --out folder"
        )
    return Schema.from_json(json.loads(path.read_text()))
