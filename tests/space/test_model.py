"""The space file's value objects check their own rules, as Optuna's distributions do;
the loader only adds the file and line (tests/space/test_load.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tuner.space.model import InvalidParam, Metric, Param


@pytest.mark.parametrize(
    ("kwargs", "key", "fragment"),
    [
        ({"kind": "float", "low": 1.0, "high": 0.1}, ("float",), "low 1.0 ≥ high 0.1"),
        ({"kind": "int", "low": 1.5, "high": 4}, ("int",), "are not whole numbers"),
        ({"kind": "float", "low": 0.0, "high": 1.0, "log": True}, ("float",), "needs low > 0"),
        ({"kind": "float", "low": 0.0, "high": 1.0, "step": 0}, ("step",), "not a positive"),
        ({"kind": "int", "low": 1, "high": 9, "step": 0.5}, ("step",), "not a whole number"),
        ({"kind": "float", "low": 0.0, "high": 0.1, "step": 0.5}, ("step",), "wider than"),
        (
            {"kind": "float", "low": 0.01, "high": 0.1, "log": True, "step": 0.01},
            ("step",),
            "cannot be combined with log",
        ),
        ({"kind": "choice", "choices": ()}, ("choice",), "an empty choice"),
        ({"kind": "choice", "choices": (1, 1.0)}, ("choice", 1), "listed twice"),
        ({"kind": "choice", "choices": (True, 1, {"a": 1})}, ("choice", 2), "a mapping"),
        ({"kind": "choice", "choices": ([1, {"a": 1}],)}, ("choice", 0, 1), "a mapping"),
        (
            {"kind": "float", "low": 0, "high": 1, "when": {"opt": ()}},
            ("when", "opt"),
            "never true",
        ),
        ({"kind": "uniform", "low": 0, "high": 1}, (), "not a kind"),
    ],
)
def test_a_param_refuses_what_its_own_keys_rule_out(
    kwargs: dict[str, Any], key: tuple[Any, ...], fragment: str
):
    with pytest.raises(InvalidParam) as info:
        Param("x", **kwargs)
    assert info.value.key == key
    assert fragment in info.value.message


def test_a_param_holds_its_range_as_optuna_does():
    whole = Param("n", "int", 1.0, 9.0, step=2.0)
    assert (whole.low, whole.high, whole.step) == (1, 9, 2)
    assert all(type(v) is int for v in (whole.low, whole.high, whole.step))
    real = Param("lr", "float", 1, 3, step=0.5)
    assert (type(real.low), type(real.high), real.top) == (float, float, 3.0)
    assert Param("lr", "float", 0.0, 1.0, step=0.3).top == pytest.approx(0.9)
    assert Param("b", "choice", choices=(True, 1)).choices == (True, 1)  # not duplicates


def test_the_metric_is_the_one_rule_for_better():
    up, down = Metric("auc", "maximize"), Metric("loss", "minimize")
    assert up.better(0.9, 0.8) and not up.better(0.8, 0.8) and up.better(0.1, None)
    assert down.better(0.1, 0.2) and (up.mode, down.mode) == ("max", "min")
    assert sorted([0.1, 0.9, 0.5], key=up.key) == [0.9, 0.5, 0.1]
