"""A sweep's study as the driver leaves it, built directly with Optuna in a journal file
(no Ray, no TensorFlow): what the tests of the study's readers (ranking, leaderboard,
plots, status) and of the layering read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuner.study import records
from tuner.study.storage import open_storage, storage_url

SPACE = """\
name: {name}
objective: tabular
metric: {{name: val_auc, goal: {goal}}}
budget: {{trials: 10, max_epochs: 4}}
concurrency: 2
params:
  optimizer: {{choice: [sgd, adam]}}
  learning_rate: {{float: [1.0e-4, 1.0e-1], log: true}}
  momentum: {{float: [0.0, 0.99], when: {{optimizer: sgd}}}}
"""

# (params, final state, per-epoch values, reason); maximize val_auc
TRIALS: list[tuple[dict[str, Any], str, list[float], str | None]] = [
    ({"optimizer": "adam", "learning_rate": 0.01}, "COMPLETE", [0.80, 0.85, 0.90, 0.88], None),
    ({"optimizer": "adam", "learning_rate": 0.003}, "COMPLETE", [0.90, 0.93, 0.94, 0.95], None),
    (
        {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9},
        "PRUNED",
        [0.60, 0.62],
        "pruned at epoch 2",
    ),
    (
        {"optimizer": "sgd", "learning_rate": 0.1, "momentum": 0.5},
        "FAIL",
        [0.55],
        "ValueError: loss diverged",
    ),
    ({"optimizer": "adam", "learning_rate": 0.0001}, "PRUNED", [0.70], "pruned at epoch 1"),
    ({"optimizer": "adam", "learning_rate": 0.002}, "COMPLETE", [0.85, 0.91, 0.91, 0.91], None),
    ({"optimizer": "adam", "learning_rate": 0.02}, "RUNNING", [0.50, 0.55], None),
]


def make_study(
    results: Path,
    name: str = "demo",
    trials: list[tuple[dict[str, Any], str, list[float], str | None]] = TRIALS,
    goal: str = "maximize",
    score: str = "last",
) -> Any:
    """A sweep's study as the driver leaves it, under results/<name>/study.journal: a
    COMPLETE trial told its last epoch's value (`score: last`) or its best's (`best`),
    with that epoch as its `value_epoch`."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {
        "optimizer": CategoricalDistribution(["sgd", "adam"]),
        "learning_rate": FloatDistribution(1e-4, 1e-1, log=True),
        "momentum": FloatDistribution(0.0, 0.99),
    }
    study = optuna.create_study(
        study_name=name,
        storage=open_storage(storage_url(results, name)),
        direction=goal,
    )
    study.set_user_attr(records.SPACE, SPACE.format(name=name, goal=goal))
    study.set_user_attr(records.OBJECTIVE, "tabular")
    study.set_user_attr(records.METRIC, "val_auc")
    study.set_user_attr(records.GOAL, goal)
    study.set_user_attr(records.MAX_EPOCHS, 4)
    study.set_user_attr(records.SCORE, score)
    for params, state, values, reason in trials:
        study.enqueue_trial(params)
        trial = study.ask({k: dists[k] for k in params})
        assert trial.params == params
        trial.set_user_attr(records.TRIAL_CONFIG, {**params, "epochs": 4})
        for epoch, value in enumerate(values, start=1):
            trial.report(value, step=epoch)
        if reason:
            trial.set_user_attr(records.TRIAL_REASON, reason)
        if state == "COMPLETE":
            epoch = len(values)
            if score == "best":  # the earliest of equal values
                pick = max if goal == "maximize" else min
                epoch = 1 + values.index(pick(values))
            trial.set_user_attr(records.TRIAL_VALUE_EPOCH, epoch)
            study.tell(trial, values[epoch - 1])
        elif state != "RUNNING":
            study.tell(trial, state=TrialState[state])
    return study
