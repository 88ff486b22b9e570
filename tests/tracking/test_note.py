"""What MLflow's pages say of a sweep: the parent run's description and the runs page's
sort, from the params the driver logs (pure functions; the written tags are checked in
tests/tracking/test_runs.py, the page in a browser in test_page.py)."""

from __future__ import annotations

from tuner.tracking import note
from tuner.tracking.uri import runs_url

DRIVER_PARAMS = {  # as tuner/sweep/driver.py's _sweep_params gives them
    "fixed.model": "dnn",
    "dataset": "builtin:census_synthetic",
    "objective": "tabular",
    "metric": "val_loss",
    "goal": "minimize",
    "sampler": "tpe",
    "pruner": "median",
    "budget.trials": 20,
    "budget.max_epochs": 8,
    "concurrency": 2,
    "params": "optimizer, learning_rate",
}


def test_the_description_says_what_was_searched_the_budget_and_the_best() -> None:
    text = note.sweep_note(DRIVER_PARAMS)
    assert text.split("  \n") == [
        "**Searched**: optimizer, learning_rate of the `tabular` objective on "
        "`builtin:census_synthetic`",
        "**Goal**: minimize `val_loss` (tpe sampler, median pruner)",
        "**Budget**: 20 trials, up to 8 epochs each, 2 at once",
        "**Best so far**: none yet",
    ]
    best = note.best_line("val_loss", 0.31234, 7, 12)
    assert best == "**Best so far**: trial 7, val_loss = 0.3123 (of 12 finished trials)"
    described = note.sweep_note(DRIVER_PARAMS, best)
    assert described.endswith(best)
    assert note.best_of(described) == best  # (what a resumed sweep keeps)
    assert note.best_of(note.sweep_note(DRIVER_PARAMS)) is None


def test_the_sort_is_the_sweep_metric_however_the_params_are_written() -> None:
    assert note.order(DRIVER_PARAMS) == ("val_loss", "minimize")
    assert note.order({"metric": {"name": "val_auc", "goal": "maximize"}}) == (
        "val_auc",
        "maximize",
    )
    assert note.order({"metric.name": "auc", "metric.goal": "maximize"}) == ("auc", "maximize")
    assert note.order({}) == (None, "maximize")


def test_the_runs_url_opens_on_the_comparison() -> None:
    base = "http://127.0.0.1:5000/"
    assert runs_url(base, None, "val_auc") == "http://127.0.0.1:5000/"
    assert runs_url(base, "3") == "http://127.0.0.1:5000/#/experiments/3/runs"
    assert runs_url(base, "3", *note.order(DRIVER_PARAMS)) == (
        "http://127.0.0.1:5000/#/experiments/3/runs?orderByKey=metrics.%60val_loss%60"
        "&orderByAsc=true&compareRunsMode=CHART&workflowType=machine_learning"
    )
