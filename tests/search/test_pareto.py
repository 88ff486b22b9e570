"""The Pareto front and the pareto pruner's rule, on hand-made vectors."""

from __future__ import annotations

from tuner.search.pareto import ParetoRule, dominators, front, should_prune
from tuner.space.model import Metric

MAX_MIN = (Metric("auc", "maximize"), Metric("ms", "minimize"))


def test_dominance_counts_only_trials_no_worse_anywhere_and_better_somewhere():
    me = (0.80, 10.0)
    others = [
        (0.90, 5.0),  # better in both: dominates
        (0.80, 9.0),  # equal auc, faster: dominates
        (0.80, 10.0),  # equal: does not
        (0.95, 20.0),  # better auc, slower: a trade-off, does not
        (0.70, 1.0),  # worse auc: does not
    ]
    assert dominators(me, others, MAX_MIN) == 2


def test_the_rule_waits_for_the_warm_up_and_enough_trials():
    rule = ParetoRule(warmup_epochs=1, min_trials=3, dominated_by=2)
    hopeless = (0.1, 100.0)
    good = [(0.9, 1.0), (0.8, 2.0), (0.85, 1.5)]
    assert not should_prune(hopeless, 1, good, MAX_MIN, rule)  # in the warm-up
    assert should_prune(hopeless, 2, good, MAX_MIN, rule)
    assert not should_prune(hopeless, 2, good[:2], MAX_MIN, rule)  # too few to compare
    # a trade-off point is dominated by none of them: never pruned
    assert not should_prune((0.95, 50.0), 2, good, MAX_MIN, rule)
    # dominated by only one of them: kept with dominated_by 2
    assert not should_prune((0.86, 1.8), 2, good, MAX_MIN, rule)


def test_defaults_from_the_space_file():
    assert ParetoRule.of({}) == ParetoRule(0, 4, 3)
    assert ParetoRule.of({"type": "pareto", "dominated_by": 1}).dominated_by == 1


def test_the_front_keeps_trade_offs_and_ties_and_drops_the_dominated():
    points = [
        (0, (0.90, 5.0)),
        (1, (0.80, 2.0)),
        (2, (0.85, 6.0)),  # dominated by 0
        (3, (0.90, 5.0)),  # a tie with 0: both stay
        (4, (0.95, 9.0)),
    ]
    assert front(points, MAX_MIN) == [0, 1, 3, 4]
    assert front([(7, (1.0, 1.0))], MAX_MIN) == [7]
    assert front([], MAX_MIN) == []


def test_the_front_is_the_pairwise_definition_on_random_points():
    import random

    from tuner.space.model import dominates

    rng = random.Random(3)
    goals = (*MAX_MIN, Metric("size", "minimize"))
    for _ in range(50):
        points = [
            (i, tuple(float(rng.randint(0, 4)) for _ in goals)) for i in range(rng.randint(0, 30))
        ]
        pairwise = [
            k for k, v in points if not any(dominates(o, v, goals) for j, o in points if j != k)
        ]
        assert front(points, goals) == pairwise
