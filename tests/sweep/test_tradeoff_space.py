"""The shipped trade-off space, search_spaces/tradeoff.yaml: validation AUC against the
prediction latency of the tabular objective on builtin:census_synthetic, with a cap on
the parameter count. It loads (every metric it names is one the objective reports), and
a short sweep of it finds a Pareto front whose trials `tune best --export --trial N`
exports and `tune train` reproduces."""

from __future__ import annotations

import json

import pytest

from tests.sweep.conftest import REPO, Sweeper

pytestmark = pytest.mark.slow

SPACE = REPO / "search_spaces" / "tradeoff.yaml"
CAP = 50000


@pytest.mark.timeout(120)
def test_the_tradeoff_space_loads_and_passes_the_objective_check() -> None:
    import tuner
    from tuner.tabular.model.build import build_model
    from tuner.tabular.model.config import dataset_schema, metric_names, prepare

    spec = tuner.load_space(SPACE)  # the objective's check of every metric named included
    assert spec.name == "tradeoff" and spec.dataset == "builtin:census_synthetic"
    assert [(m.name, m.goal) for m in spec.metrics] == [
        ("val_auc", "maximize"),
        ("predict_ms", "minimize"),
    ]
    (cap,) = spec.constraints
    assert (cap.metric, cap.max, cap.min) == ("params", CAP, None)
    assert (spec.sampler.type, spec.sampler.seed) == ("tpe", 7)
    assert spec.pruner.type == "pareto"
    assert spec.pruner.options == {"warmup_epochs": 1, "min_trials": 3, "dominated_by": 2}
    assert spec.param("model").choices == ("linear", "dnn", "wide_deep")
    assert spec.param("width").when == {"model": ("dnn", "wide_deep")}
    for model in spec.param("model").choices:
        names = metric_names({"dataset": spec.dataset, "model": model})
        assert {"val_auc", "predict_ms", "params", "model_bytes"} <= names

    # the cap rules out the biggest models of the space, not the rest
    _, schema = dataset_schema(spec.dataset)

    def params(model: str, width: int, depth: int) -> int:
        cfg = prepare({"dataset": spec.dataset, "model": model, "width": width, "depth": depth})
        return build_model(schema, cfg).model.count_params()

    widths, depths = spec.param("width").choices, spec.param("depth")
    assert params("wide_deep", max(widths), int(depths.high)) > CAP
    assert params("wide_deep", sorted(widths)[-2], int(depths.high)) <= CAP


@pytest.mark.timeout(400)
def test_a_short_tradeoff_sweep_finds_a_front_that_tune_train_reproduces(
    sweeper: Sweeper, cli
) -> None:
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    from tuner.study.ranking import pareto_trials

    outcome = sweeper.run(SPACE, trials=6)
    study = outcome.study
    assert study.directions == [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 6
    assert not [t for t in trials if t.state == TrialState.FAIL]

    front = pareto_trials(study)
    assert front
    code, out, err = cli("best", "tradeoff", "--results", sweeper.results)
    assert code == 0, err
    assert f"Pareto front: {len(front)} trial(s)" in out, out

    picked = next(t for t in front if t.state == TrialState.COMPLETE)
    out_dir = sweeper.tmp / "picked"
    code, out, err = cli(
        "best", "tradeoff", "--export", "--trial", str(picked.number),
        "--out", out_dir, "--results", sweeper.results,
    )  # fmt: skip
    assert code == 0, err
    assert f"exported trial {picked.number}" in out
    assert (out_dir / "config.yaml").is_file()
    assert (out_dir / "model" / "saved_model.pb").is_file()
    exported = json.loads((out_dir / "metrics.json").read_text())
    assert exported["number"] == picked.number
    swept_auc = exported["values"]["val_auc"]
    assert swept_auc == pytest.approx(picked.values[0])
    last = exported["history"][-1]
    assert last["params"] <= CAP and last["model_bytes"] == 4 * last["params"]
    assert last["predict_ms"] == pytest.approx(picked.values[1])

    # the same config, trained again outside the sweep: same seed, same data order
    retrained = sweeper.tmp / "retrained"
    code, out, err = cli("train", out_dir / "config.yaml", "--out", retrained)
    assert code == 0, err
    history = json.loads((retrained / "metrics.json").read_text())["history"]
    assert len(history) == exported["epochs"]
    assert history[-1]["val_auc"] == pytest.approx(swept_auc, abs=0.01)
    assert history[-1]["params"] == last["params"]
