"""The MLflow pyfunc wrapper of an exported SavedModel (`tune best --register`).

`SavedModelPyfunc` loads the SavedModel artifact with `tf.saved_model.load` and serves
its `serve` signature to `mlflow.pyfunc.load_model(...).predict(df)` and to
`mlflow models serve`: one output row per input row, in order.

Input: a pandas DataFrame with one column per model input (`assets.extra/tuner.json`
names them): numeric features → float32 (missing, empty or unparsable → NaN, the model's
missing value), categorical features → text (missing → "", its own category; a whole
number, 3 or 3.0, → "3", or "3.0" when that is how the training data wrote it), sparse
features → two columns `<name>_ids` and
`<name>_values` holding lists, padded here (-1 ids) to the longest row; a column of
dates converted with `--dates` → the column itself, as text in the training data's
format or as timestamps (its parts `<name>.year` … are computed here, as conversion and
`tune predict` compute them; unparsable → NaN), or its parts. Extra columns
(e.g. the label) are ignored; a missing input column is an error naming it. Columns keep
the user's original names (`od280/od315_of_diluted_wines`); they are mapped here to the
signature's input keys (Python identifiers), as tuner.json's `signature_keys` says.

Output: a DataFrame — binary: `probability` and `predicted` (the class); multiclass:
`p_<class>` per class and `predicted`; regression: `prediction`. The same columns as
`tune predict`.

This module imports nothing of tuner but `tuner.tabular.prediction` and
`tuner.tabular.data.dates` (which import nothing of tuner), and all three are pickled
*by value* when a model is logged (see
`tuner.tabular.pyfunc`), so the logged model loads and serves where
only MLflow, TensorFlow and pandas are installed.
"""

from typing import Any

import pandas as pd
from mlflow.pyfunc.model import PythonModel

from tuner.tabular.data.dates import date_parts
from tuner.tabular.prediction import (
    PREDICTED,
    PREDICTION,
    PROBABILITY,
    class_column,
    output_columns,
)

ARTIFACT = "saved_model"  # the key of the SavedModel folder in the model's artifacts
INFO = ("assets.extra", "tuner.json")


def read_info(directory: Any) -> dict[str, Any]:
    import json
    import os

    with open(os.path.join(str(directory), *INFO)) as fh:
        return json.load(fh)


def feature_kinds(info: dict[str, Any]) -> dict[str, str]:
    """Feature name → kind (numeric, categorical, sparse) from the model's tuner.json."""
    return {f["name"]: f["kind"] for f in info["schema"]["features"]}


def signature_keys(info: dict[str, Any]) -> dict[str, str]:
    """Input column → the serving signature's input key (itself for a model exported
    before column names were mapped)."""
    keys = info.get("signature_keys") or {}
    return {name: keys.get(name, name) for name in info["inputs"]}


def _dates(info: dict[str, Any]) -> dict[str, Any]:
    """Column → its --dates description (format, parts, example) from tuner.json."""
    return ((info["schema"].get("csv") or {}).get("dates")) or {}


def input_columns(info: dict[str, Any]) -> list[str]:
    """The DataFrame columns the MLflow model takes: the model's inputs, with the parts
    of a --dates column (`when.year` …) given as that one column (`when`)."""
    made = {f"{c}.{p}": c for c, d in _dates(info).items() for p in d["parts"]}
    return list(dict.fromkeys(made.get(name, name) for name in info["inputs"]))


def _with_date_parts(frame: Any, info: dict[str, Any]) -> Any:
    """`frame` with the parts of each --dates column it holds (and not its parts)."""
    for column, d in _dates(info).items():
        names = [f"{column}.{p}" for p in d["parts"]]
        if column not in frame.columns or all(n in frame.columns for n in names):
            continue
        parts, _ = date_parts(list(frame[column]), d["format"], d["parts"])
        frame = frame.assign(**dict(zip(names, parts.values(), strict=True)))
    return frame


def _category(value: Any, vocabulary: Any = ()) -> str:
    """A cell → the category text. A number is written as the training data wrote it:
    3 and 3.0 both become whichever of "3" and "3.0" is in the vocabulary ("3" if
    neither is)."""
    import math

    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return _category(value.item(), vocabulary)
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if float(value).is_integer():
            whole, written = str(int(value)), f"{float(value)!r}"
            return written if written in vocabulary and whole not in vocabulary else whole
        return repr(float(value))
    return str(value).strip()


def _padded(column: Any, fill: Any, dtype: Any) -> Any:
    import numpy as np

    rows = [[] if v is None or (np.isscalar(v) and v != v) else list(v) for v in column]
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), fill, dtype=dtype)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def to_inputs(frame: Any, info: dict[str, Any]) -> dict[str, Any]:
    """A DataFrame (columns: the user's names) → the serving signature's inputs (numpy
    arrays of its dtypes, keyed by signature key)."""
    import numpy as np
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(frame)
    frame = _with_date_parts(frame, info)
    kinds = feature_kinds(info)
    vocabularies = {
        f["name"]: frozenset(f.get("vocabulary") or ()) for f in info["schema"]["features"]
    }
    missing = [name for name in input_columns(info) if name not in frame.columns]
    if any(name not in frame.columns for name in info["inputs"]) and missing:
        raise ValueError(
            f"missing input column(s) {missing}; the model takes {input_columns(info)}"
        )
    inputs: dict[str, Any] = {}
    for name in info["inputs"]:
        column = frame[name]
        if name in kinds and kinds[name] == "numeric":
            values = pd.to_numeric(column, errors="coerce")
            inputs[name] = np.asarray(values, dtype=np.float64).astype(np.float32)
        elif name in kinds and kinds[name] == "categorical":
            vocabulary = vocabularies[name]
            inputs[name] = np.asarray([_category(v, vocabulary) for v in column], dtype=object)
        elif name.endswith("_ids"):
            inputs[name] = _padded(column, -1, np.int64)
        else:
            inputs[name] = _padded(column, 0.0, np.float32)
    # sparse ids and values of one feature must have the same width
    for f, kind in kinds.items():
        if kind != "sparse":
            continue
        ids, values = inputs[f"{f}_ids"], inputs[f"{f}_values"]
        width = max(ids.shape[1], values.shape[1])
        inputs[f"{f}_ids"] = np.pad(ids, ((0, 0), (0, width - ids.shape[1])), constant_values=-1)
        inputs[f"{f}_values"] = np.pad(values, ((0, 0), (0, width - values.shape[1])))
    keys = signature_keys(info)
    return {keys[name]: value for name, value in inputs.items()}


def to_frame(output: Any, info: dict[str, Any], index: Any = None) -> Any:
    """The signature's output array → the prediction DataFrame."""
    import numpy as np
    import pandas as pd

    task, classes = info["task"], list(info.get("classes") or [])
    output = np.asarray(output)
    if task == "binary":
        p = output.reshape(-1).astype(np.float64)
        predicted = [classes[int(v >= 0.5)] for v in p] if classes else (p >= 0.5).astype(int)
        return pd.DataFrame({PROBABILITY: p, PREDICTED: predicted}, index=index)
    if task == "multiclass":
        columns = {class_column(c): output[:, i].astype(np.float64) for i, c in enumerate(classes)}
        best = np.argmax(output, axis=1)
        columns[PREDICTED] = [classes[int(i)] for i in best]
        return pd.DataFrame(columns, index=index)
    return pd.DataFrame({PREDICTION: output.reshape(-1).astype(np.float64)}, index=index)


# PythonModel is mlflow.pyfunc.PythonModel, imported from its own module: mypy does not see
# it through mlflow's lazy loader of mlflow.pyfunc
class SavedModelPyfunc(PythonModel):
    """Serves the SavedModel logged as the `saved_model` artifact (see the module text)."""

    def load_context(self, context: Any) -> None:
        import tensorflow as tf

        path = context.artifacts[ARTIFACT]
        self._info = read_info(path)
        self._loaded = tf.saved_model.load(path)  # keep a reference: the signature needs it
        self._serve = self._loaded.signatures[self._info.get("signature") or "serve"]

    # pd.DataFrame (a real class: no `from __future__ import annotations` here) is the
    # one hint MLflow 3 neither warns about nor turns into an input schema of its own
    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        import tensorflow as tf

        info = self._info
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        if len(frame) == 0:
            return to_frame(_empty(info), info, frame.index)
        tensors = {
            k: tf.constant(v, dtype=tf.string) if v.dtype == object else tf.constant(v)
            for k, v in to_inputs(frame, info).items()
        }
        output = self._serve(**tensors)[info["output"]].numpy()
        return to_frame(output, info, frame.index)


def _empty(info: dict[str, Any]) -> Any:
    import numpy as np

    if info["task"] == "multiclass":
        return np.zeros((0, len(info.get("classes") or [])), np.float32)
    return np.zeros((0,), np.float32)


__all__ = [
    "ARTIFACT",
    "SavedModelPyfunc",
    "input_columns",
    "output_columns",
    "signature_keys",
    "to_frame",
    "to_inputs",
]
