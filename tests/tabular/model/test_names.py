"""Column names → Keras/TensorFlow keys: valid identifiers, deterministic, unique."""

from __future__ import annotations

import re

import pytest

from tuner.tabular.model.names import LayerNames, clean, feature_keys

IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("age", "age"),
        ("od280/od315_of_diluted_wines", "od280_od315_of_diluted_wines"),
        ("sepal length (cm)", "sepal_length_cm"),
        ("malic.acid", "malic_acid"),
        ("äsh", "ash"),
        ("Größe", "Gro_e"),
        ("2nd", "f_2nd"),
        ("_private", "private"),
        ("年龄", "feature"),
        ("a__b", "a__b"),  # already valid: its own key
        ("lambda", "lambda_"),  # survival's flchain: a Python keyword is no parameter name
        ("class", "class_"),
    ],
)
def test_clean(name: str, key: str) -> None:
    assert clean(name) == key
    assert IDENTIFIER.fullmatch(key)


def test_keys_are_unique_and_valid_names_keep_themselves() -> None:
    names = ["a b", "a_b", "a.b", "x/y", "x_y_2", "x y", "年", "龄", "value"]
    keys = feature_keys(names)
    assert list(keys) == names
    assert keys["a_b"] == "a_b" and keys["x_y_2"] == "x_y_2" and keys["value"] == "value"
    assert keys["a b"] == "a_b_2" and keys["a.b"] == "a_b_3"
    assert keys["x/y"] == "x_y" and keys["x y"] == "x_y_3"  # x_y_2 is a column's own name
    assert keys["年"] == "feature" and keys["龄"] == "feature_2"
    assert len(set(keys.values())) == len(names)
    assert all(IDENTIFIER.fullmatch(k) for k in keys.values())
    assert feature_keys(names) == keys  # deterministic
    keys = feature_keys(["lambda", "lambda_"])
    assert keys == {"lambda": "lambda__2", "lambda_": "lambda_"}


def test_keys_are_what_tensorflow_would_keep() -> None:
    """A signature input key TensorFlow would sanitize is renamed behind the user's back;
    ours are fixed points of its rule (alphanumerics and `_`, a letter first)."""

    def sanitize(name: str) -> str:  # tensorflow/core/function/polymorphism/function_type.py
        swapped = "".join(c if c.isalnum() else "_" for c in name)
        return swapped if swapped[0].isalpha() else "arg_" + swapped

    import inspect

    names = ["od280/od315", "1st", "a b", "ünï", "Größe", "x.y", "lambda", "if"]
    for key in feature_keys(names).values():
        assert sanitize(key) == key
        inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY)  # what tf.function builds


def test_layer_names_suffix_a_name_used_before() -> None:
    name = LayerNames()
    assert [name("value"), name("value"), name("value_2"), name("logits")] == [
        "value",
        "value_2",
        "value_2_2",
        "logits",
    ]
