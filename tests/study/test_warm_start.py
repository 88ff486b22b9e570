"""Warm start (`tuner.study.warm_start`) on in-memory Optuna studies: which earlier trials
fit a changed space (a narrowed range, a removed choice, a removed param, a `when` that
no longer holds), what a history trial keeps (values, intermediate values, per-epoch
vectors), the best K enqueued in order and popped first by `Study.ask`, sources with
other metrics refused, and the history left out of everything that reports the sweep's
own trials (ranking, status counts, `tune best`, export, the budget) while the sampler
still sees it. No Ray, no MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from tests.study.studies import make_study as make_journal_study
from tuner.errors import ConfigError
from tuner.search.distributions import distributions, make_pruner, make_sampler
from tuner.space.load import parse_spec
from tuner.space.model import SweepSpec
from tuner.study import records, warm_start
from tuner.study.ranking import best_trial, ordered_trials, pareto_trials, top_trials
from tuner.study.warm_start import Source

optuna.logging.set_verbosity(optuna.logging.WARNING)
State = optuna.trial.TrialState

# the earlier sweep's space: what its trials were drawn from
OLD_DISTS = {
    "optimizer": CategoricalDistribution(["sgd", "adam", "ftrl"]),
    "learning_rate": FloatDistribution(1e-4, 1e-1, log=True),
    "momentum": FloatDistribution(0.0, 0.99),
    "units": IntDistribution(8, 256),
    "dropout": FloatDistribution(0.0, 0.5),
}

SPACE = """\
name: {name}
objective: tabular
{metric}
budget: {{trials: {trials}, max_epochs: 4}}
sampler: {{type: tpe, seed: 3}}
{warm}
params:
  optimizer: {{choice: [sgd, adam]}}
  learning_rate: {{float: [1.0e-3, 1.0e-1], log: true}}
  momentum: {{float: [0.0, 0.99], when: {{optimizer: sgd}}}}
  units: {{int: [8, 256]}}
"""


def make_spec(
    *,
    name: str = "new",
    trials: int = 10,
    metric: str = "metric: {name: val_auc, goal: maximize}",
    warm: str = "warm_start: {from: old, top: 3}",
) -> SweepSpec:
    text = SPACE.format(name=name, metric=metric, trials=trials, warm=warm)
    return parse_spec(text, "new.yaml", check_objective=False)


def source_trial(params: dict[str, Any], curve: list[float], **attrs: Any) -> Any:
    return optuna.trial.create_trial(
        state=State.COMPLETE,
        value=curve[-1],
        params=params,
        distributions={k: OLD_DISTS[k] for k in params},
        intermediate_values=dict(enumerate(curve, start=1)),
        user_attrs=attrs,
    )


# (params, per-epoch val_auc); the earlier sweep maximized val_auc
OLD = [
    ({"optimizer": "adam", "learning_rate": 0.01, "units": 64}, [0.80, 0.90]),  # fits
    ({"optimizer": "adam", "learning_rate": 0.0005, "units": 32}, [0.95, 0.97]),  # lr narrowed
    ({"optimizer": "ftrl", "learning_rate": 0.01, "units": 16}, [0.70, 0.75]),  # choice removed
    ({"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9, "units": 128}, [0.85, 0.93]),
    ({"optimizer": "adam", "learning_rate": 0.02, "units": 64, "dropout": 0.2}, [0.9, 0.96]),
    ({"optimizer": "adam", "learning_rate": 0.03, "momentum": 0.5, "units": 8}, [0.6, 0.91]),
    ({"optimizer": "adam", "learning_rate": 0.004, "units": 200}, [0.7, 0.88]),  # fits
    ({"optimizer": "adam", "learning_rate": 0.0002, "units": 32}, [0.5, 0.6]),  # lr narrowed
]


def old_source(name: str = "old", trials: list[Any] | None = None) -> Source:
    made = trials or [source_trial(p, c) for p, c in OLD]
    for number, t in enumerate(made):
        t.number = number  # as the earlier study numbered them
    return Source(name, tuple(made))


def new_study(spec: SweepSpec) -> optuna.Study:
    study = optuna.create_study(
        study_name=spec.name,
        directions=[m.direction for m in spec.metrics],
        sampler=make_sampler(spec),
        pruner=make_pruner(spec),
    )
    records.describe(study, spec)
    return study


def history(study: optuna.Study) -> list[Any]:
    return [t for t in study.get_trials() if records.is_history(t)]


# ---------------------------------------------------------------- the space file


@pytest.mark.parametrize(
    ("given", "sources", "storage", "top"),
    [
        ("warm_start: old", ("old",), None, 3),
        (
            "warm_start: [a, b.archived-20250101-120000]",
            ("a", "b.archived-20250101-120000"),
            None,
            3,
        ),
        ("warm_start: {from: a, top: 0}", ("a",), None, 0),
        ("warm_start: {from: [a, b], storage: 'sqlite:///x.db'}", ("a", "b"), "sqlite:///x.db", 3),
    ],
)
def test_the_space_file_names_the_sources_as_a_name_a_list_or_a_mapping(
    given: str, sources: tuple[str, ...], storage: str | None, top: int
) -> None:
    plan = make_spec(warm=given).warm_start
    assert plan is not None
    assert (plan.sources, plan.storage, plan.top) == (sources, storage, top)
    assert make_spec(warm="").warm_start is None


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("warm_start: {from: a, top: -1}", "key 'warm_start.top'"),
        ("warm_start: {from: a, tpo: 2}", "'tpo'"),
        ("warm_start: [a, a]", "key 'warm_start.1': 'a' is listed twice (also entry 0)"),
        ("warm_start: ['../a']", "key 'warm_start"),
        ("warm_start: {top: 2}", "key 'warm_start.from' is required"),
    ],
)
def test_a_bad_warm_start_section_is_one_line_at_its_key(given: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_spec(warm=given)
    assert message in str(caught.value) and "new.yaml:6" in str(caught.value)


def test_the_grid_sampler_takes_no_warm_start() -> None:
    text = SPACE.format(name="g", metric="metric: {name: m, goal: minimize}", trials=2, warm="")
    text = text.replace("sampler: {type: tpe, seed: 3}", "sampler: {type: grid}")
    text = text.replace("  learning_rate: {float: [1.0e-3, 1.0e-1], log: true}\n", "")
    text = text.replace("  momentum: {float: [0.0, 0.99], when: {optimizer: sgd}}\n", "")
    grid = parse_spec(text, "g.yaml", check_objective=False)  # fine without
    with pytest.raises(ConfigError, match="key 'warm_start': the grid sampler tries every"):
        parse_spec(text + "warm_start: old\n", "g.yaml", check_objective=False)
    with pytest.raises(ConfigError, match="--warm-start-from: the grid sampler tries every"):
        grid.with_warm_start(("old",))


def test_the_command_line_replaces_the_files_sources_and_keeps_its_top() -> None:
    spec = make_spec(warm="warm_start: {from: [a, b], top: 5}")
    changed = spec.with_warm_start(("c", "c", "d"), "sqlite:///s.db")
    assert changed.warm_start is not None
    assert (changed.warm_start.sources, changed.warm_start.storage) == (
        ("c", "d"),
        "sqlite:///s.db",
    )
    assert changed.warm_start.top == 5
    assert spec.with_warm_start() is spec
    none = make_spec(warm="").with_warm_start(("a",))
    assert none.warm_start is not None and none.warm_start.top == 3
    with pytest.raises(ConfigError, match="--warm-start-storage"):
        make_spec(warm="").with_warm_start((), "sqlite:///s.db")


# ---------------------------------------------------------------- which trials fit


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"optimizer": "adam", "learning_rate": 0.0005}, "learning_rate out of range"),
        ({"optimizer": "ftrl", "learning_rate": 0.01}, "optimizer 'ftrl' no longer a choice"),
        ({"optimizer": "adam", "dropout": 0.1}, "dropout not in the space"),
        ({"optimizer": "adam", "momentum": 0.5}, "momentum not sampled here (its `when`)"),
        ({"units": 12.5}, "units not a whole number"),
        ({"units": "wide"}, "units not a number"),
        ({"units": 300}, "units out of range"),
    ],
)
def test_a_trial_that_no_longer_fits_the_space_is_skipped_with_the_reason(
    params: dict[str, Any], why: str
) -> None:
    spec = make_spec()
    assert warm_start.fit(params, spec, distributions(spec)) == ({}, why)


def test_a_fitting_trial_keeps_its_params_as_this_space_stores_them() -> None:
    spec = make_spec()
    params = {"optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.9, "units": 64.0}
    stored, why = warm_start.fit(params, spec, distributions(spec))
    assert why is None
    assert stored == {"optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.9, "units": 64}
    assert isinstance(stored["units"], int)  # an int param's value as an int


def test_a_stepped_range_refuses_a_value_off_its_step() -> None:
    spec = parse_spec(
        "name: s\nobjective: tabular\nmetric: {name: m, goal: minimize}\n"
        "budget: {trials: 2, max_epochs: 1}\nparams:\n  w: {int: [8, 64], step: 8}\n"
        "  r: {float: [0.0, 1.0], step: 0.25}\n",
        "s.yaml",
        check_objective=False,
    )
    dists = distributions(spec)
    assert warm_start.fit({"w": 12}, spec, dists) == ({}, "w off the step")
    assert warm_start.fit({"r": 0.3}, spec, dists) == ({}, "r off the step")
    assert warm_start.fit({"w": 16, "r": 0.75}, spec, dists) == ({"w": 16, "r": 0.75}, None)


# ---------------------------------------------------------------- what is added


def test_fitting_trials_become_history_with_their_values_and_intermediate_values() -> None:
    spec = make_spec()
    study = new_study(spec)

    summary = warm_start.apply(study, spec, [old_source()])

    added = history(study)
    assert summary.history == len(added) == 3
    assert [records.history_source(t) for t in added] == [("old", 0), ("old", 3), ("old", 6)]
    by_source = {records.history_source(t)[1]: t for t in added}  # type: ignore[index]
    assert by_source[3].params == OLD[3][0]
    assert by_source[3].value == pytest.approx(0.93)
    assert by_source[3].intermediate_values == {1: 0.85, 2: 0.93}  # the median pruner's
    assert by_source[3].distributions["learning_rate"] == distributions(spec)["learning_rate"]
    assert summary.skipped == {
        "learning_rate out of range": 2,
        "optimizer 'ftrl' no longer a choice": 1,
        "dropout not in the space": 1,
        "momentum not sampled here (its `when`)": 1,
    }


def test_the_best_k_run_first_in_order_and_study_ask_pops_them_first() -> None:
    spec = make_spec()
    study = new_study(spec)

    summary = warm_start.apply(study, spec, [old_source()])

    waiting = study.get_trials(states=(State.WAITING,))
    assert summary.first == [t.number for t in waiting] == [3, 4, 5]  # after the history
    # best first: 0.93 (old #3), 0.90 (old #0), 0.88 (old #6)
    assert [t.system_attrs["fixed_params"] for t in waiting] == [OLD[3][0], OLD[0][0], OLD[6][0]]
    assert [t.user_attrs[records.TRIAL_REPLAY] for t in waiting] == [
        {"sweep": "old", "number": n} for n in (3, 0, 6)
    ]
    assert not any(records.is_history(t) for t in waiting)  # the sweep's own trials
    asked = [study.ask() for _ in range(4)]
    assert [t.number for t in asked] == [3, 4, 5, 6]  # the waiting ones first, in order
    from tuner.search.distributions import suggest

    assert suggest(asked[0], spec)["momentum"] == 0.9  # the enqueued params are the trial's
    assert asked[0].params == OLD[3][0]


def test_top_is_capped_by_the_budget_and_identical_params_run_once() -> None:
    spec = make_spec(trials=2, warm="warm_start: {from: [a, b], top: 5}")
    study = new_study(spec)
    twin = [source_trial(OLD[0][0], OLD[0][1]), source_trial(OLD[6][0], OLD[6][1])]

    summary = warm_start.apply(study, spec, [old_source("a", twin), old_source("b", twin[:1])])

    assert summary.history == 3
    assert len(summary.first) == 2  # the budget, not top
    fixed = [t.system_attrs["fixed_params"] for t in study.get_trials(states=(State.WAITING,))]
    assert fixed == [OLD[0][0], OLD[6][0]]  # the twin of a#0 in b is not run twice


def test_top_zero_adds_history_only() -> None:
    spec = make_spec(warm="warm_start: {from: old, top: 0}")
    study = new_study(spec)
    assert warm_start.apply(study, spec, [old_source()]).first == []
    assert not study.get_trials(states=(State.WAITING,))


def test_the_study_records_what_the_warm_start_did_and_the_summary_line_says_it() -> None:
    spec = make_spec()
    study = new_study(spec)

    summary = warm_start.apply(study, spec, [old_source()])

    assert records.read_warm_start(study) == {
        "from": ["old"],
        "history": 3,
        "first": [3, 4, 5],
        "skipped": dict(summary.skipped),
    }
    assert summary.line() == (
        "warm start from old: 3 trials as history, 3 tried first; 5 skipped (no longer fit "
        "the space: learning_rate out of range ×2, optimizer 'ftrl' no longer a choice, "
        "dropout not in the space, momentum not sampled here (its `when`))"
    )


def test_a_multi_objective_source_gives_its_values_and_per_epoch_vectors() -> None:
    metrics = "metrics: [{name: val_auc, goal: maximize}, {name: ms, goal: minimize}]"
    spec = make_spec(metric=metrics)
    study = new_study(spec)
    made = optuna.trial.create_trial(
        state=State.COMPLETE,
        values=[0.9, 12.0],
        params=OLD[0][0],
        distributions={k: OLD_DISTS[k] for k in OLD[0][0]},
        user_attrs={f"{records.TRIAL_EPOCH_VALUES}1": [0.8, 12.0], "other": 1},
    )
    made.number = 0

    warm_start.apply(study, spec, [Source("old", (made,))])

    (added,) = history(study)
    assert added.values == [0.9, 12.0]
    assert records.epoch_values(added) == {1: [0.8, 12.0]}  # what the pareto pruner compares
    assert "other" not in added.user_attrs
    assert pareto_trials(study) == []  # history is never on the sweep's front


# ---------------------------------------------------------------- the sources


def test_a_missing_source_is_one_config_error_naming_it(tmp_path: Path) -> None:
    spec = make_spec(warm="warm_start: [nope]")
    with pytest.raises(ConfigError) as caught:
        warm_start.load_sources(spec, tmp_path / "results")
    assert "warm start from 'nope': no sweep named 'nope'" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_source_with_another_metric_or_goal_is_refused(tmp_path: Path) -> None:
    results = tmp_path / "results"
    make_journal_study(results, "old")  # val_auc, maximize
    spec = make_spec(metric="metric: {name: val_loss, goal: minimize}")
    with pytest.raises(ConfigError) as caught:
        warm_start.load_sources(spec, results)
    assert str(caught.value) == (
        "warm start from 'old': it optimizes val_auc (maximize), this sweep "
        "val_loss (minimize) (a warm start needs the same metric(s) with the same goal(s))"
    )
    spec = make_spec(metric="metric: {name: val_auc, goal: minimize}")
    with pytest.raises(ConfigError, match=r"val_auc \(maximize\), this sweep val_auc \(min"):
        warm_start.load_sources(spec, results)


def test_a_source_is_read_as_tune_status_reads_it_its_complete_trials_only(
    tmp_path: Path,
) -> None:
    results = tmp_path / "results"
    make_journal_study(results, "old")  # 3 COMPLETE, 2 PRUNED, 1 FAIL, 1 RUNNING
    (source,) = warm_start.load_sources(make_spec(), results)
    assert source.name == "old"
    assert [t.number for t in source.trials] == [0, 1, 5]


def test_a_sweep_warm_starts_from_itself_only_with_fresh(tmp_path: Path) -> None:
    results = tmp_path / "results"
    make_journal_study(results, "new")
    spec = make_spec(warm="warm_start: new")
    with pytest.raises(ConfigError, match="warm start from 'new': that is this sweep"):
        warm_start.load_sources(spec, results)
    (source,) = warm_start.load_sources(spec, results, fresh=True)  # the one it archives
    assert source.renamed("new", "new.archived-1").name == "new.archived-1"


# ---------------------------------------------------------------- the sweep's own trials


def warm_started_with_own_trials() -> tuple[SweepSpec, optuna.Study]:
    """A warm-started study (3 history trials, best 0.93) with two own trials told."""
    spec = make_spec(trials=4)
    study = new_study(spec)
    warm_start.apply(study, spec, [old_source()])
    for value in (0.5, 0.6):
        trial = study.ask()
        trial.report(value, 1)
        study.tell(trial, value)
    return spec, study


def test_history_is_never_ranked_nor_the_best() -> None:
    _, study = warm_started_with_own_trials()
    assert best_trial(study) is not None and best_trial(study).value == 0.6  # type: ignore[union-attr]
    assert [t.value for t in top_trials(study, 10)] == [0.6, 0.5]
    assert not any(records.is_history(t) for t in ordered_trials(study))
    assert len(ordered_trials(study)) == 3  # two told, one still waiting


def test_status_counts_only_the_sweeps_own_trials() -> None:
    from tuner.study.status import sweep_status, sweep_summary

    _, study = warm_started_with_own_trials()
    status = sweep_status(study, 4)
    assert status["counts"] == {
        "done": 2,
        "running": 0,
        "pruned": 0,
        "failed": 0,
        "waiting": 2,  # one enqueued still WAITING + one never asked: the budget left
        "total": 3,
    }
    assert status["best"]["value"] == 0.6
    assert [row["number"] for row in status["top"]] == [4, 3, 5]  # own trials only
    summary = sweep_summary(study)
    assert (summary["complete"], summary["best"]) == (2, 0.6)


def test_best_table_counts_own_trials_and_a_history_trial_cannot_be_exported(
    tmp_path: Path,
) -> None:
    from tuner.study.best import best_table, pick_trial

    _, study = warm_started_with_own_trials()
    table = best_table(study, tmp_path, 5)
    assert (table["complete"], table["total"]) == (2, 3)
    assert [row["value"] for row in table["trials"]] == [0.6, 0.5]
    with pytest.raises(ConfigError) as caught:
        pick_trial(study, 0)
    assert str(caught.value) == (
        "trial 0 of sweep 'new' is warm-start history (trial 0 of sweep 'old'), not one of "
        "this sweep's trials (export it from its sweep: tune best old --export --trial 0)"
    )
    assert pick_trial(study).value == 0.6


def test_the_view_for_plots_leaves_history_out_under_the_same_numbers() -> None:
    _, study = warm_started_with_own_trials()
    view = records.own_study(study)
    assert [t.number for t in view.trials] == [3, 4, 5]
    assert [t.number for t in view.get_trials(states=(State.COMPLETE,))] == [3, 4]
    plain = new_study(make_spec())
    assert records.own_study(plain) is plain  # no history: the study itself
    assert records.own_study(plain, keep_places=True) is plain


def test_the_view_keeping_places_holds_an_empty_trial_where_history_is() -> None:
    """Optuna's matplotlib optimization history reads a trial's value at the position of
    its number in the trial list (issue 25: IndexError on a warm-started sweep)."""
    _, study = warm_started_with_own_trials()
    view = records.own_study(study, keep_places=True)
    trials = view.get_trials()
    assert [t.number for t in trials] == list(range(6))
    assert [t.state for t in trials[:3]] == [State.WAITING] * 3  # the history's places
    assert all(t.values is None and not t.params and not t.user_attrs for t in trials[:3])
    assert [t.value for t in trials[3:5]] == [0.5, 0.6]
    assert [t.number for t in view.get_trials(states=(State.COMPLETE,))] == [3, 4]


def test_the_budget_counts_own_trials_and_the_sampler_still_sees_history(
    tmp_path: Path,
) -> None:
    from tests.sweep.test_bridge import complete
    from tuner.sweep.bridge import Bridge

    spec = make_spec(trials=4, metric="metric: {name: score, goal: maximize}")  # as `complete`
    study = new_study(spec)
    warm_start.apply(study, spec, [old_source()])
    bridge = Bridge(spec, study, tmp_path)
    assert (bridge.counts.asked, bridge.counts.before, bridge.budget_left()) == (0, 0, 4)
    assert bridge._best is None  # no own trial yet: history is not the sweep's best

    numbers = [complete(bridge, f"ray-{i}", [0.5]) for i in range(4)]

    assert numbers == [3, 4, 5, 6]
    assert bridge.ask("ray-9") is None  # exactly the budget of own trials
    assert [t.params for t in study.get_trials()[3:6]] == [OLD[3][0], OLD[0][0], OLD[6][0]]
    # The median pruner (5 startup trials) reads the study: with the 3 history trials, the
    # own trials' 0.5 at epoch 1 is pruned from the third on (history there: 0.8-0.85).
    own = records.own_trials(study.get_trials())
    assert [t.state for t in own] == [State.COMPLETE] * 2 + [State.PRUNED] * 2
    # and TPE learns from the study's complete trials, history included
    assert len(study.get_trials(states=(State.COMPLETE,))) == 3 + 2
    # a new driver (resume) counts the same
    again = Bridge(spec, study, tmp_path)
    assert (again.counts.asked, again.counts.before) == (4, 4)


def test_constraints_must_match_and_their_results_carry_over(tmp_path: Path) -> None:
    results = tmp_path / "results"
    old = make_journal_study(results, "old")
    old.set_user_attr(records.CONSTRAINTS, [{"metric": "size", "max": 60}])
    bound = "metric: {name: val_auc, goal: maximize}\nconstraints: [{metric: size, max: 50}]"
    with pytest.raises(ConfigError) as caught:
        warm_start.load_sources(make_spec(metric=bound), results)
    assert str(caught.value).startswith(
        "warm start from 'old': its constraints (size ≤ 60) are not this sweep's (size ≤ 50)"
    )
    spec = make_spec(metric=bound.replace("50", "60"))
    (source,) = warm_start.load_sources(spec, results)
    assert source.same_constraints
    assert warm_start.load_sources(make_spec(), results)[0].same_constraints is False

    outside = optuna.trial.create_trial(
        state=State.COMPLETE,
        value=0.99,
        params=OLD[0][0],
        distributions={k: OLD_DISTS[k] for k in OLD[0][0]},
        constraints={"size ≤ 60": 5.0},
    )
    inside = source_trial(OLD[6][0], OLD[6][1])
    inside.set_constraint("size ≤ 60", -1.0)
    study = new_study(spec)
    warm_start.apply(study, spec, [Source("old", (outside, inside), same_constraints=True)])
    kept = history(study)
    assert [t.constraints for t in kept] == [{"size ≤ 60": 5.0}, {"size ≤ 60": -1.0}]
    # the infeasible one is not among the trials run first, however good its value
    waiting = study.get_trials(states=(State.WAITING,))
    assert [t.system_attrs["fixed_params"] for t in waiting] == [OLD[6][0]]
