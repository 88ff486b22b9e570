"""`tune best --register` without an `mlflow_model` hook: the SavedModel (or `.keras`
file) a user objective saved to trial_dir/model, logged as an MLflow pyfunc model that
answers a pandas frame where tuner is not installed; and one clear error for a folder
it cannot log."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tuner.errors import ConfigError
from tuner.study import storage
from tuner.tracking.saved_model import ARTIFACT, SavedModelPyfunc, mlflow_model, model_format
from tuner.trial import objective


@objective(metrics=["score"])
def hookless(config: dict[str, Any], report: Any, trial_dir: Path) -> None:
    report(1, {"score": 1.0})


def test_the_format_is_read_from_the_folder(tmp_path: Path) -> None:
    (saved := tmp_path / "saved").mkdir()
    (saved / "saved_model.pb").write_bytes(b"")
    (one := tmp_path / "one").mkdir()
    (one / "model.keras").write_bytes(b"")
    (two := tmp_path / "two").mkdir()
    (two / "a.keras").write_bytes(b"")
    (two / "b.keras").write_bytes(b"")
    (empty := tmp_path / "empty").mkdir()
    assert [model_format(p) for p in (saved, one, two, empty)] == [
        "saved_model",
        "keras",
        None,
        None,
    ]


def test_a_folder_of_another_format_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "weights.pt").write_bytes(b"")
    with pytest.raises(ConfigError) as caught:
        mlflow_model(tmp_path)
    assert caught.value.where == str(tmp_path) and caught.value.exit_code == 2
    assert "it holds ['weights.pt']" in caught.value.message
    assert "mlflow_model hook" in (caught.value.hint or "")


def test_a_saved_model_is_described_without_tuner_in_its_requirements(tmp_path: Path) -> None:
    (tmp_path / "saved_model.pb").write_bytes(b"")
    model = mlflow_model(tmp_path)
    assert model.artifacts == {ARTIFACT: str(tmp_path)}
    assert [r.split(">=")[0] for r in model.pip_requirements] == ["tensorflow", "pandas"]
    assert model.metadata == {"tuner.model_format": "saved_model"}
    assert [m.__name__ for m in model.pickle_by_value] == ["tuner.tracking.saved_model"]


# ------------------------------------------------------------------ real models


def _data(rows: int = 8) -> Any:
    import numpy as np

    return np.random.default_rng(0).normal(size=(rows, 4)).astype("float32")


def _dense() -> Any:
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2, activation="softmax")]
    )


def _served(folder: Path) -> SavedModelPyfunc:
    wrapper = SavedModelPyfunc()
    wrapper.load_context(SimpleNamespace(artifacts={ARTIFACT: str(folder)}))
    return wrapper


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_keras_export_and_a_keras_file_answer_a_frame(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    model, x = _dense(), _data()
    expected = model.predict(x, verbose=0)
    model.export(str(tmp_path / "export"), verbose=False)
    (tmp_path / "file").mkdir()
    model.save(tmp_path / "file" / "model.keras")
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    for folder in ("export", "file"):
        out = _served(tmp_path / folder).predict(None, frame)
        assert list(out.columns) == ["output_0_0", "output_0_1"] and len(out) == 8
        np.testing.assert_allclose(out.to_numpy(), expected, rtol=1e-5, atol=1e-6)
    served = _served(tmp_path / "export")
    np.testing.assert_allclose(served.predict(None, x).to_numpy(), expected, rtol=1e-5)  # array
    with pytest.raises(ValueError, match="takes 4 feature columns; got 5"):
        served.predict(None, frame.assign(label=1))


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_model_of_named_inputs_takes_them_by_column(tmp_path: Path) -> None:
    import keras
    import numpy as np
    import pandas as pd

    age, dose = keras.Input((1,), name="age"), keras.Input((1,), name="dose")
    joined = keras.layers.Concatenate()([age, dose])
    model = keras.Model({"age": age, "dose": dose}, keras.layers.Dense(1)(joined))
    frame = pd.DataFrame({"dose": [1.0, 2.0], "age": [30.0, 40.0], "label": [0, 1]})
    expected = model.predict(
        {"age": frame[["age"]].to_numpy(), "dose": frame[["dose"]].to_numpy()}, verbose=0
    )
    model.export(str(tmp_path / "export"), verbose=False)
    served = _served(tmp_path / "export")
    out = served.predict(None, frame)  # (columns in any order; the label is not an input)
    np.testing.assert_allclose(out.iloc[:, 0].to_numpy(), expected[:, 0], rtol=1e-5)
    with pytest.raises(ValueError, match=r"missing input column\(s\) \['dose'\]"):
        served.predict(None, frame.drop(columns="dose"))


LOAD = """
import json, sys
sys.modules["tuner"] = None  # the registered model must not need tuner
import mlflow, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(sys.argv[2])
print(json.dumps(model.predict(pd.DataFrame(json.loads(sys.argv[3]))).to_numpy().tolist()))
"""


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_trial_saved_model_is_registered_without_a_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from tests.tracking.test_registry import _sweep
    from tuner.tracking.registry import register_best

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    results = tmp_path / "results"
    study, uri, run_id = _sweep(results, f"{__name__}:hookless")
    folder = storage.trial_dir(results, "reg", 0) / "model"
    shutil.rmtree(folder)
    model, x = _dense(), _data(3)
    model.export(str(folder), verbose=False)
    done = register_best(study, results, "dense", uri)
    assert (done.version, done.run_id) == (1, run_id)
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD, uri, done.model_uri, json.dumps(x.tolist())],
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    answer = json.loads(loaded.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(answer, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
