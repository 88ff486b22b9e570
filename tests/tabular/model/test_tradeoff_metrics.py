"""The tabular objective's cost metrics, for trade-off sweeps: every epoch reports the
model's parameter count (`params`), its weights' bytes (`model_bytes`) and the latency of
predicting one validation batch (`predict_ms`, measured once per run: the median of
repeats of a traced, warmed `tf.function`)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

COST = ("params", "model_bytes", "predict_ms")


@pytest.mark.timeout(240)
def test_every_epoch_reports_the_models_size_and_latency(tmp_path: Path) -> None:
    from tuner.tabular.model.build import build_model
    from tuner.tabular.model.config import metric_names
    from tuner.tabular.model.export import load_schema_file
    from tuner.tabular.model.train import run_trial
    from tuner.tabular.runtime import tensorflow

    tf = tensorflow()
    config = {
        "dataset": "builtin:breast_cancer",
        "model": "dnn",
        "hidden_units": [32, 8],
        "batch_norm": True,  # non-trainable weights (moving statistics) count too
        "epochs": 2,
        "batch_size": 64,
        "seed": 5,
    }
    reports: list[tuple[int, dict[str, float]]] = []
    payload = run_trial(config, lambda e, m: reports.append((e, m)), tmp_path / "t")

    assert [e for e, _ in reports] == [1, 2]
    assert set(COST) <= metric_names(config)
    assert all(set(m) <= metric_names(config) for _, m in reports), reports
    # what the trial built: the same architecture from its config and schema copy
    rebuilt = build_model(load_schema_file(tmp_path / "t" / "schema.json"), payload["config"])
    params = rebuilt.model.count_params()
    assert params == 30 * 32 + 32 + 4 * 32 + 32 * 8 + 8 + 4 * 8 + 8 + 1  # dense + batch norm
    # what the exported SavedModel holds: the same variables, float32
    exported = tf.saved_model.load(str(tmp_path / "t" / "model"))
    assert sum(int(tf.size(v)) for v in exported.variables) == params
    assert {v.dtype for v in exported.variables} == {tf.float32}
    saved_bytes = sum(v.numpy().nbytes for v in exported.variables)
    assert saved_bytes == 4 * params

    latency = reports[0][1]["predict_ms"]
    for _, metrics in reports:
        assert isinstance(metrics["params"], float) and metrics["params"] == params
        assert isinstance(metrics["model_bytes"], float) and metrics["model_bytes"] == saved_bytes
        assert math.isfinite(metrics["predict_ms"]) and metrics["predict_ms"] > 0
        assert metrics["predict_ms"] == latency  # measured once, reported every epoch
    assert latency < 1000, latency  # 114 rows through a small DNN: about a millisecond
    assert [h["predict_ms"] for h in payload["history"]] == [latency, latency]


@pytest.mark.timeout(120)
def test_latency_is_the_median_of_repeats_of_one_traced_warmed_function() -> None:
    from tuner.tabular.model.cost import predict_latency_ms
    from tuner.tabular.runtime import tensorflow

    tf = tensorflow()
    traces: list[dict[str, object]] = []

    def model(x: dict[str, object], **kwargs: object) -> object:
        traces.append(kwargs)  # runs in Python only while tf.function traces
        return tf.reduce_sum(x["a"]) * 2.0

    durations = [0.005, 0.001, 0.009, 0.002, 0.003]  # seconds: the median is 3 ms
    ticks = []
    for i, d in enumerate(durations):
        ticks += [10.0 * i, 10.0 * i + d]
    clock = iter(ticks)
    batch = {"a": tf.constant([1.0, 2.0, 3.0])}

    ms = predict_latency_ms(model, batch, repeats=len(durations), clock=lambda: next(clock))

    assert ms == pytest.approx(3.0, abs=1e-6)
    assert next(clock, None) is None  # two readings a repeat, none for the untimed warm-up
    assert traces == [{"training": False}]  # traced once, in inference mode
    with pytest.raises(ValueError):
        predict_latency_ms(model, batch, repeats=0)


@pytest.mark.timeout(120)
def test_measuring_latency_changes_no_weights() -> None:
    """Inference mode: no dropout draw, no batch-normalization update, so a trial that
    measures trains exactly as one that does not (resume depends on it)."""
    from tuner.tabular.model.build import build_model
    from tuner.tabular.model.config import dataset_schema, prepare
    from tuner.tabular.model.cost import predict_batch, predict_latency_ms

    config = {"dataset": "builtin:breast_cancer", "model": "dnn", "hidden_units": [8]}
    cfg = prepare({**config, "dropout": 0.5, "batch_norm": True})
    data_dir, schema = dataset_schema(cfg["dataset"])
    built = build_model(schema, cfg)
    before = [w.numpy().copy() for w in built.model.weights]
    states = [
        g.state.numpy().copy()
        for layer in built.model.layers
        for g in getattr(layer, "_seed_generators", [])
    ]
    batch = predict_batch(data_dir, cfg, built)
    assert len(next(iter(batch.values()))) == 114  # the whole validation split (< 1024 rows)
    assert predict_latency_ms(built.model, batch) > 0
    after = [w.numpy() for w in built.model.weights]
    assert all((a == b).all() for a, b in zip(before, after, strict=True))
    assert states and all(
        (s == g.state.numpy()).all()
        for s, g in zip(
            states,
            [g for layer in built.model.layers for g in getattr(layer, "_seed_generators", [])],
            strict=True,
        )
    )
