"""The model's own Keras pieces that the standard set lacks; here the AUC that is NaN
where AUC is undefined (the campaign's `val_auc 0.0000` on a one-row validation split)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuner.tabular.model.layers import DefinedAUC, keras


def _auc(metric, labels, scores) -> float:
    metric.update_state(np.array(labels, np.float32), np.array(scores, np.float32))
    return float(metric.result())


@pytest.mark.parametrize("labels", [[1], [0], [1, 1, 1], [0, 0]])
def test_auc_over_one_class_is_nan_not_zero(labels):
    scores = [0.3, 0.9, 0.6][: len(labels)] or [0.5]
    assert _auc(keras.metrics.AUC(num_thresholds=1000), labels, scores) == 0.0  # Keras's
    assert math.isnan(_auc(DefinedAUC(num_thresholds=1000), labels, scores))


def test_auc_over_two_classes_is_keras_auc():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = np.clip(labels * 0.3 + rng.uniform(0, 0.7, 200), 0, 1)
    ours = _auc(DefinedAUC(num_thresholds=1000), labels, scores)
    assert ours == pytest.approx(_auc(keras.metrics.AUC(num_thresholds=1000), labels, scores))
    assert 0.5 < ours < 1.0


def test_the_auc_is_defined_again_once_both_classes_are_seen():
    metric = DefinedAUC(num_thresholds=1000)
    assert math.isnan(_auc(metric, [1, 1], [0.8, 0.6]))
    assert _auc(metric, [0], [0.1]) == pytest.approx(1.0)
    metric.reset_state()
    assert math.isnan(float(metric.result()))
