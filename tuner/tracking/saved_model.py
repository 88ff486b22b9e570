"""`tune best --register` for an objective without an `mlflow_model` hook: the model it
saved to `trial_dir/model` — a TensorFlow SavedModel (`model.export(...)`,
`tf.saved_model.save`) or one Keras `.keras` file — logged as an MLflow pyfunc model that
`mlflow.pyfunc.load_model(...).predict(frame)` and `mlflow models serve` answer.

`SavedModelPyfunc` takes a pandas DataFrame (or what MLflow's server makes of a request:
a DataFrame, an array, a dict of columns). A model of one input gets every column, in
order, as its input matrix (so pass the feature columns only); a model of several
inputs gets each input from the column of its name. It answers a DataFrame of the
model's outputs: one column per output (its name: `output_0` for a Keras export), or
`<name>_<i>` per value of an output with several values per row.

What it cannot register it says, in one line: a model folder that holds neither
`saved_model.pb` nor one `.keras` file (an objective with another format gives itself an
`mlflow_model` hook). Like `tuner.tabular.serving`, the wrapper imports nothing of tuner
and is pickled by value, so the logged model loads where only MLflow, TensorFlow and
pandas are installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlflow.pyfunc.model import PythonModel

ARTIFACT = "model"  # the model folder's key in the logged model's artifacts
SAVED_MODEL = "saved_model.pb"
SIGNATURES = ("serving_default", "serve")  # Keras's export writes both


def model_format(model_dir: Path | str) -> str | None:
    """ "saved_model", "keras" (one .keras file), or None for anything else."""
    folder = Path(model_dir)
    if (folder / SAVED_MODEL).is_file():
        return "saved_model"
    if len(list(folder.glob("*.keras"))) == 1:
        return "keras"
    return None


def mlflow_model(model_dir: Path) -> Any:
    """The default `mlflow_model` hook (see the module text); a ConfigError (exit 2)
    naming the folder when it holds no model this can log."""
    import sys

    from tuner.errors import ConfigError
    from tuner.tracking.requirements import requirement
    from tuner.trial import MlflowModel

    kind = model_format(model_dir)
    if kind is None:
        found = sorted(p.name for p in Path(model_dir).iterdir())[:5] if model_dir.is_dir() else []
        raise ConfigError(
            "cannot register the trial's model: it is neither a TensorFlow SavedModel "
            f"({SAVED_MODEL}) nor one .keras file (it holds {found})",
            where=model_dir,
            hint="export it with model.export(trial_dir / 'model'), or give the objective "
            "an mlflow_model hook (tuner.trial.MlflowModel)",
        )
    return MlflowModel(
        python_model=SavedModelPyfunc(),
        artifacts={ARTIFACT: str(model_dir)},
        pip_requirements=[requirement("tensorflow"), requirement("pandas")],
        metadata={"tuner.model_format": kind},
        pickle_by_value=(sys.modules[__name__],),  # the logged model loads without tuner
    )


class SavedModelPyfunc(PythonModel):
    """A SavedModel's serving signature, or a `.keras` model, as a pyfunc model."""

    def load_context(self, context):
        import os

        folder = context.artifacts[ARTIFACT]
        if os.path.isfile(os.path.join(folder, SAVED_MODEL)):
            import tensorflow as tf

            self._loaded = tf.saved_model.load(folder)  # (keeps the signature's variables)
            self._signature = _signature(self._loaded.signatures)
            self._keras = None
        else:
            import keras

            (name,) = [n for n in os.listdir(folder) if n.endswith(".keras")]
            self._keras = keras.saving.load_model(os.path.join(folder, name), compile=False)

    def predict(self, context, model_input, params=None):
        # (no type hints on model_input: MLflow would read an input schema from them)
        import pandas as pd

        frame = model_input if isinstance(model_input, pd.DataFrame) else _frame(model_input)
        if self._keras is not None:
            return _keras_predict(self._keras, frame)
        specs = self._signature.structured_input_signature[1]
        outputs = self._signature(**_inputs(frame, specs))
        return _output_frame({k: v.numpy() for k, v in outputs.items()}, len(frame))


def _signature(signatures: Any) -> Any:
    for name in SIGNATURES:
        if name in signatures:
            return signatures[name]
    if len(signatures) == 1:
        return next(iter(signatures.values()))
    raise ValueError(f"the SavedModel has no serving signature ({SIGNATURES}): {list(signatures)}")


def _frame(data: Any) -> Any:
    """What MLflow's server may hand over instead of a DataFrame → a DataFrame."""
    import numpy as np
    import pandas as pd

    if isinstance(data, dict):
        return pd.DataFrame({k: list(np.asarray(v)) for k, v in data.items()})
    array = np.asarray(data)
    return pd.DataFrame(array.reshape(len(array), -1) if array.ndim != 2 else array)


def _column(frame: Any, name: str, dtype: Any, shape: tuple[Any, ...]) -> Any:
    """One input from the frame's column `name`: scalars, or a list per row."""
    import numpy as np

    values = list(frame[name])
    array = np.stack([np.asarray(v) for v in values]) if values else np.zeros((0,))
    array = array.astype(dtype)
    tail = tuple(1 if d is None else d for d in shape[1:])
    if array.ndim == 1 and tail and int(np.prod(tail)) == 1:
        array = array.reshape((len(array), *tail))
    return array


def _inputs(frame: Any, specs: dict[str, Any]) -> dict[str, Any]:
    """The signature's inputs from the frame (see the module text)."""
    import numpy as np

    if len(specs) == 1:
        ((name, spec),) = specs.items()
        dtype = spec.dtype.as_numpy_dtype
        if list(frame.columns) == [name]:  # the input by its name (a list per row, say)
            return {name: _column(frame, name, dtype, tuple(spec.shape))}
        width = spec.shape[1] if spec.shape.rank == 2 else None
        if width is not None and width != len(frame.columns):
            raise ValueError(
                f"the model takes {width} feature columns; got {len(frame.columns)}: "
                f"{list(frame.columns)[:10]} (pass the features only, in training order)"
            )
        return {name: np.asarray(frame.to_numpy(), dtype=dtype)}
    missing = [name for name in specs if name not in frame.columns]
    if missing:
        raise ValueError(f"missing input column(s) {missing}; the model takes {list(specs)}")
    return {
        name: _column(frame, name, spec.dtype.as_numpy_dtype, tuple(spec.shape))
        for name, spec in specs.items()
    }


def _keras_predict(model: Any, frame: Any) -> Any:
    import numpy as np

    names = [i.name for i in model.inputs]
    if len(names) == 1:
        x: Any = np.asarray(frame.to_numpy(), dtype="float32")
    else:
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise ValueError(f"missing input column(s) {missing}; the model takes {names}")
        x = {
            n: _column(frame, n, "float32", tuple(i.shape))
            for n, i in zip(names, model.inputs, strict=True)
        }
    out = model.predict(x, verbose=0)
    if isinstance(out, dict):
        return _output_frame({k: np.asarray(v) for k, v in out.items()}, len(frame))
    outs = out if isinstance(out, list | tuple) else [out]
    return _output_frame({f"output_{i}": np.asarray(v) for i, v in enumerate(outs)}, len(frame))


def _output_frame(outputs: dict[str, Any], rows: int) -> Any:
    """One column per output (`<name>_<i>` for an output of several values per row)."""
    import pandas as pd

    columns: dict[str, Any] = {}
    for name, array in outputs.items():
        flat = array.reshape(rows, -1) if array.ndim != 1 else array.reshape(rows, 1)
        if flat.shape[1] == 1:
            columns[name] = flat[:, 0]
        else:
            for i in range(flat.shape[1]):
                columns[f"{name}_{i}"] = flat[:, i]
    return pd.DataFrame(columns)
