"""Space files with several metrics and constraints: what they mean, and every mistake
refused before anything runs (one line, file:line, the key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.space.test_load import HEAD, PARAMS, refused, write
from tuner.space.load import load_spec

SINGLE = "metric: {name: val_loss, goal: minimize}\n"
TWO = """metrics:
  - {name: val_loss, goal: minimize}
  - {name: val_auc, goal: maximize}
"""


def space(metrics: str = TWO, extra: str = "") -> str:
    return HEAD.replace(SINGLE, metrics) + extra + PARAMS


def test_two_metrics_make_a_multi_objective_spec_with_the_pareto_pruner(tmp_path: Path):
    spec = load_spec(
        write(tmp_path / "s.yaml", space(extra="constraints:\n  - {metric: val_auc, min: 0.6}\n"))
    )
    assert spec.multi
    assert [(m.name, m.goal) for m in spec.metrics] == [
        ("val_loss", "minimize"),
        ("val_auc", "maximize"),
    ]
    assert spec.metric.name == "val_loss"  # the first: what "the best" ranks by
    assert spec.pruner.type == "pareto"  # median is one metric's default
    (c,) = spec.constraints
    assert (c.metric, c.min, c.max) == ("val_auc", 0.6, None)
    assert c.violation(0.7) < 0 < c.violation(0.5)
    assert c.violation(None) == float("inf")


def test_one_entry_under_metrics_is_the_same_sweep_as_metric(tmp_path: Path):
    one = load_spec(
        write(tmp_path / "a.yaml", space("metrics:\n  - {name: val_loss, goal: minimize}\n"))
    )
    plain = load_spec(write(tmp_path / "b.yaml", space(SINGLE)))
    assert not one.multi and one.metrics == plain.metrics
    assert one.pruner == plain.pruner and one.pruner.type == "median"


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        ("sampler: {type: cmaes}  # <-\n", ("key 'sampler.type'", "optimizes one objective")),
        ("pruner: {type: median}  # <-\n", ("key 'pruner.type'", "compares one metric")),
        ("scheduler: asha  # <-\n", ("key 'scheduler'", "by one metric")),
        (
            "constraints:\n  - {metric: val_auc, min: 0.9, max: 0.1}  # <-\n",
            ("key 'constraints.0.min'", "no trial could be feasible"),
        ),
        (
            "constraints:\n  - {metric: val_acc, max: 1}  # <-\n",
            ("key 'constraints.0.metric'", "never reported", "did you mean 'val_auc'?"),
        ),
        ("constraints:\n  - {metric: val_auc}  # <-\n", ("constraints.0",)),
        (
            "sampler: {type: nsga2, populaton_size: 4}  # <-\n",
            ("has no argument 'populaton_size'", "population_size"),
        ),
    ],
)
def test_what_cannot_search_several_objectives_is_refused(tmp_path, extra, fragments):
    refused(tmp_path, space(extra=extra), *fragments)


def test_mistakes_in_the_metrics_list(tmp_path: Path):
    refused(
        tmp_path,
        space(TWO + "  - {name: val_loss, goal: maximize}  # <-\n"),
        "key 'metrics.2.name'",
        "'val_loss' is listed twice (also metrics entry 0, line 5)",
    )
    both = TWO.replace("metrics:\n", "metrics:  # <-\n") + SINGLE
    refused(tmp_path, space(both), "key 'metrics'", "also given as metric:")
    refused(
        tmp_path,
        space(
            "metrics:\n  - {name: val_los, goal: minimize}  # <-\n"
            "  - {name: val_auc, goal: maximize}\n"
        ),
        "key 'metrics.0.name'",
        "did you mean 'val_loss'?",
    )
    refused(
        tmp_path,
        space(SINGLE, extra="pruner: {type: pareto}  # <-\n"),
        "key 'pruner.type'",
        "several",
    )


def test_nsga_samplers_are_built_with_their_options(tmp_path: Path):
    from tuner.search.distributions import make_sampler

    spec = load_spec(
        write(
            tmp_path / "s.yaml",
            space(extra="sampler: {type: nsga2, seed: 3, population_size: 8}\n"),
        )
    )
    sampler = make_sampler(spec)
    assert type(sampler).__name__ == "NSGAIISampler"
    spec = load_spec(
        write(
            tmp_path / "t.yaml",
            space(extra="sampler: {type: tpe}\nconstraints:\n  - {metric: val_auc, min: 0.5}\n"),
        )
    )
    # constraints reach the sampler through Trial.set_constraint (the bridge), not
    # Optuna's deprecated constraints_func
    assert make_sampler(spec)._constraints_func is None


def test_one_metric_scores_a_trial_by_its_best_epoch_unless_told_last(tmp_path: Path):
    best = load_spec(write(tmp_path / "a.yaml", space(SINGLE)))
    assert best.score == "best" and best.scored_by == best.metric
    last = load_spec(write(tmp_path / "b.yaml", space(SINGLE, extra="score: last\n")))
    assert last.score == "last" and last.scored_by is None


def test_several_metrics_score_a_trial_by_its_last_epoch(tmp_path: Path):
    spec = load_spec(write(tmp_path / "a.yaml", space()))
    assert spec.score == "last" and spec.scored_by is None
    assert load_spec(write(tmp_path / "b.yaml", space(extra="score: last\n"))).score == "last"
    refused(
        tmp_path,
        space(extra="score: best  # <-\n"),
        "key 'score'",
        "metrics: names several",
        "leave out score:",
    )
    refused(tmp_path, space(SINGLE, extra="score: first  # <-\n"), "score")
