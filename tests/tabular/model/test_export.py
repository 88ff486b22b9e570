"""The export's input contract, without training: the user's column names map to the
signature's keys, and the pyfunc wrapper turns a DataFrame into exactly those inputs."""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")


def _info(vocabulary: list[str]) -> dict:
    features = [
        {"name": "od280/od315", "kind": "numeric"},
        {"name": "grade", "kind": "categorical", "vocabulary": vocabulary},
    ]
    return {
        "inputs": ["od280/od315", "grade"],
        "signature_keys": {"od280/od315": "od280_od315", "grade": "grade"},
        "schema": {"features": features},
        "task": "regression",
    }


def test_pyfunc_inputs_are_keyed_by_signature_key() -> None:
    from tuner.tabular.serving import signature_keys, to_inputs

    info = _info(["3", "4"])
    frame = pd.DataFrame({"od280/od315": [1.5, None], "grade": ["3", None], "label": [0, 1]})
    inputs = to_inputs(frame, info)
    assert set(inputs) == {"od280_od315", "grade"}
    assert np.isnan(inputs["od280_od315"][1]) and list(inputs["grade"]) == ["3", ""]
    assert signature_keys(info) == info["signature_keys"]
    with pytest.raises(ValueError, match=r"missing input column\(s\) \['od280/od315'\]"):
        to_inputs(frame.drop(columns="od280/od315"), info)


def test_exports_before_the_mapping_use_the_names_as_keys() -> None:
    from tuner.tabular.serving import signature_keys

    info = _info([])
    del info["signature_keys"]
    assert signature_keys(info) == {"od280/od315": "od280/od315", "grade": "grade"}


@pytest.mark.parametrize(
    ("vocabulary", "cells", "expected"),
    [
        (["3", "4"], [3, 3.0, np.int64(4), "3"], ["3", "3", "4", "3"]),
        # a CSV written by pandas holds 127.0 for a float column: keep that spelling
        (["127.0", "88.0"], [127, 127.0, np.float64(88.0), 2.5], ["127.0", "127.0", "88.0", "2.5"]),
        ([], [7.0, True], ["7", "True"]),
    ],
)
def test_whole_numbers_as_the_training_data_wrote_them(vocabulary, cells, expected) -> None:
    from tuner.tabular.serving import to_inputs

    frame = pd.DataFrame(
        {"od280/od315": [0.0] * len(cells), "grade": pd.Series(cells, dtype=object)}
    )
    assert list(to_inputs(frame, _info(vocabulary))["grade"]) == expected


def test_signature_keys_of_a_schema() -> None:
    from tuner.tabular.data.schema import Feature, Label, Schema, Split
    from tuner.tabular.model.names import feature_keys

    schema = Schema(
        features=(
            Feature("a b", "numeric", mean=0.0, std=1.0),
            Feature("a_b", "categorical", vocabulary=("x",)),
            Feature("1st", "numeric", mean=0.0, std=1.0),
        ),
        label=Label("y", "regression", mean=0.0, std=1.0),
        splits={"train": Split(rows=1, files=("f",), file_rows=(1,))},
        source_format="csv",
    )
    assert feature_keys(f.name for f in schema.features) == {
        "a b": "a_b_2",
        "a_b": "a_b",
        "1st": "f_1st",
    }
    assert Schema.from_json(schema.to_json()).label == schema.label  # the stats round-trip


def _dated_info() -> dict:
    """A model over `x` and the parts of a --dates column `when` (ISO, with times)."""
    parts = ["when.year", "when.month", "when.day_of_week", "when.day_of_year", "when.hour"]
    features = [{"name": "x", "kind": "numeric"}] + [
        {"name": p, "kind": "numeric", "mean": 1.0} for p in parts
    ]
    dates = {
        "when": {
            "format": "iso",
            "parts": [p.split(".")[1] for p in parts],
            "example": "2016-07-02 10:00",
        }
    }
    return {
        "inputs": ["x", *parts],
        "signature_keys": {"x": "x", **{p: p.replace(".", "_") for p in parts}},
        "schema": {"features": features, "csv": {"delimiter": ",", "dates": dates}},
        "task": "regression",
    }


def test_the_mlflow_model_takes_a_date_column_as_the_user_wrote_it() -> None:
    """The served SavedModel takes a --dates column's parts; the MLflow model takes the
    column itself (text in the training data's format, or timestamps) and computes them
    as conversion and `tune predict` do."""
    from tuner.tabular.pyfunc import input_example, signature
    from tuner.tabular.serving import input_columns, to_inputs

    info = _dated_info()
    assert input_columns(info) == ["x", "when"]
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "when": ["2016-07-02 13:30", None, "bad"]})
    inputs = to_inputs(frame, info)
    assert list(inputs) == ["x", "when_year", "when_month", "when_day_of_week",
                            "when_day_of_year", "when_hour"]  # fmt: skip
    assert inputs["when_year"][0] == 2016 and inputs["when_day_of_week"][0] == 5
    assert inputs["when_hour"][0] == 13.5 and inputs["when_hour"].dtype == np.float32
    assert np.isnan(inputs["when_month"][1]) and np.isnan(inputs["when_month"][2])
    stamps = pd.DataFrame({"x": [1.0, 2.0], "when": pd.to_datetime(["2016-07-02", None])})
    stamped = to_inputs(stamps, info)
    assert stamped["when_day_of_year"][0] == 184 and np.isnan(stamped["when_year"][1])
    # the parts themselves still work (as the SavedModel takes them)
    parts = pd.DataFrame({"x": [1.0], **{p: [1.0] for p in info["inputs"][1:]}})
    assert to_inputs(parts, info)["when_month"][0] == 1.0
    with pytest.raises(ValueError, match=r"missing input column\(s\) \['when'\]"):
        to_inputs(frame.drop(columns="when"), info)
    assert signature(info).inputs.input_names() == ["x", "when"]
    assert input_example(info).to_dict("records") == [{"x": 0.0, "when": "2016-07-02 10:00"}]
