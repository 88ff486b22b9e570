"""The translation of a SweepSpec to Optuna: distributions (log, step, int, list-valued
choices, inclusive bounds), define-by-run conditionals, samplers and pruners by name
with their option mapping. In-memory studies only; no TensorFlow, Ray or MLflow.
"""

from __future__ import annotations

import inspect
import json
import textwrap
import warnings

import optuna
import pytest

from tuner.search.distributions import (
    config_from_params,
    describe_start,
    distribution,
    distributions,
    grid,
    grid_size,
    make_pruner,
    make_sampler,
    scaled_startup,
    startup_trials,
    suggest,
)
from tuner.space.load import parse_spec
from tuner.space.model import EXTRAS, PRUNERS, SAMPLERS
from tuner.space.schema import space_schema

optuna.logging.set_verbosity(optuna.logging.WARNING)
HEAVY = ("tensorflow", "keras", "ray", "mlflow")

HEAD = """\
name: t
objective: nowhere:nothing
dataset: builtin:breast_cancer
metric: {name: val_auc, goal: maximize}
budget: {trials: 30, max_epochs: 5}
fixed: {model: dnn, batch_size: 64}
"""
PARAMS = """\
params:
  optimizer: {choice: [sgd, adam, rmsprop]}
  learning_rate: {float: [1.0e-4, 1.0e-1], log: true}
  depth: {int: [1, 4]}
  width: {int: [16, 256], step: 16}
  dropout: {float: [0.0, 0.5], step: 0.1}
  hidden_units: {choice: [[64, 32], [128], [8, 4, 2]]}
  batch_norm: {choice: [true, false]}
  momentum: {float: [0.0, 0.9], when: {optimizer: sgd}}
  nesterov: {choice: [true, false], when: {momentum_kind: [nesterov]}}
  momentum_kind: {choice: [plain, nesterov], when: {optimizer: sgd}}
"""


def spec_of(text: str):
    """A spec without the objective checks (they are tests/space/test_load.py's business)."""
    return parse_spec(textwrap.dedent(text), check_objective=False)


# no test here may pull in TensorFlow, Ray or MLflow (the subprocess tests check the
# same in a fresh interpreter, where it cannot be masked)
pytestmark = pytest.mark.usefixtures("no_heavy_imports")


@pytest.fixture(scope="module")
def spec():
    return spec_of(HEAD + PARAMS)


def study(sampler=None, direction="maximize") -> optuna.Study:
    return optuna.create_study(
        sampler=sampler or optuna.samplers.RandomSampler(seed=0), direction=direction
    )


# ------------------------------------------------------------------ distributions


def test_distributions(spec):
    d = distributions(spec)
    assert set(d) == set(spec.param_names)
    assert d["learning_rate"] == optuna.distributions.FloatDistribution(1e-4, 0.1, log=True)
    assert d["depth"] == optuna.distributions.IntDistribution(1, 4)
    assert d["width"] == optuna.distributions.IntDistribution(16, 256, step=16)
    assert d["dropout"] == optuna.distributions.FloatDistribution(0.0, 0.5, step=0.1)
    assert d["optimizer"] == optuna.distributions.CategoricalDistribution(
        ["sgd", "adam", "rmsprop"]
    )
    assert d["batch_norm"].choices == (True, False)


def test_list_choices_are_stored_as_json_text_and_decoded(spec):
    p = spec.param("hidden_units")
    d = distribution(p)
    assert d.choices == ("[64, 32]", "[128]", "[8, 4, 2]")
    for stored, value in zip(d.choices, p.choices, strict=True):
        assert json.loads(stored) == value
        assert p.decode(stored) == value
    # Optuna can persist and restore the stored form
    restored = optuna.distributions.json_to_distribution(
        optuna.distributions.distribution_to_json(d)
    )
    assert restored == d
    with pytest.raises(ValueError, match="not a choice"):
        p.decode("[1]")


def test_booleans_and_numbers_stay_apart():
    s = spec_of(HEAD + "params:\n  x: {choice: [1, true, 0, false]}\n")
    p = s.param("x")
    assert [p.decode(v) for v in (1, True, 0, False)] == [1, True, 0, False]
    assert [type(p.decode(v)) for v in (1, True)] == [int, bool]


def test_bounds_are_inclusive():
    s = spec_of(
        HEAD
        + textwrap.dedent("""\
        params:
          i: {int: [1, 3]}
          f: {float: [0.0, 1.0], step: 0.25}
          c: {choice: [a, b, c]}
        """)
    )
    st = study()
    seen: dict[str, set] = {"i": set(), "f": set(), "c": set()}
    for _ in range(60):
        trial = st.ask()
        config = suggest(trial, s)
        st.tell(trial, 0.0)
        for k in seen:
            seen[k].add(config[k])
    assert seen == {"i": {1, 2, 3}, "f": {0.0, 0.25, 0.5, 0.75, 1.0}, "c": {"a", "b", "c"}}


def test_a_step_rounds_high_down_onto_the_grid():
    s = spec_of(
        HEAD
        + textwrap.dedent("""\
        params:
          f: {float: [0.0, 1.0], step: 0.3}
          i: {int: [1, 10], step: 4}
        """)
    )
    f, i = s.param("f"), s.param("i")
    assert (f.top, i.top) == (0.9, 9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna warns that it adjusts high
        assert distribution(f).high == pytest.approx(0.9)
        assert distribution(i).high == 9
    st = study()
    values = set()
    for _ in range(40):
        trial = st.ask()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values.add(suggest(trial, s)["i"])
        st.tell(trial, 0.0)
    assert values == {1, 5, 9}


def test_log_range_stays_in_bounds(spec):
    st = study()
    for _ in range(50):
        trial = st.ask()
        lr = suggest(trial, spec)["learning_rate"]
        st.tell(trial, 0.0)
        assert 1e-4 <= lr <= 0.1


# ------------------------------------------------------------------ define-by-run


def test_conditionals_define_by_run(spec):
    st = study()
    optimizers = []
    for _ in range(30):
        trial = st.ask()
        config = suggest(trial, spec)
        st.tell(trial, 0.0)
        optimizers.append(config["optimizer"])
        sgd = config["optimizer"] == "sgd"
        assert ("momentum" in config) == sgd
        assert ("momentum" in trial.params) == sgd
        assert ("momentum_kind" in config) == sgd
        assert ("nesterov" in config) == (sgd and config["momentum_kind"] == "nesterov")
        # fixed + dataset + epochs are in every trial config
        assert config["model"] == "dnn" and config["batch_size"] == 64
        assert config["dataset"] == "builtin:breast_cancer" and config["epochs"] == 5
        assert isinstance(config["hidden_units"], list)
        assert isinstance(trial.params["hidden_units"], str)
    assert {"sgd", "adam"} <= set(optimizers)
    assert any("nesterov" in t.params for t in st.trials)


def test_config_from_params_round_trip(spec):
    st = study()
    for _ in range(10):
        trial = st.ask()
        config = suggest(trial, spec)
        st.tell(trial, 1.0)
        assert config_from_params(spec, st.trials[-1].params) == config


def test_dependency_order_is_what_suggest_follows(spec):
    names = spec.param_names
    assert names.index("momentum_kind") < names.index("nesterov")
    assert names.index("optimizer") < names.index("momentum")


# ------------------------------------------------------------------ samplers


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("tpe", optuna.samplers.TPESampler),
        ("random", optuna.samplers.RandomSampler),
        ("qmc", optuna.samplers.QMCSampler),
        ("NSGAIISampler", optuna.samplers.NSGAIISampler),
        ("BruteForceSampler", optuna.samplers.BruteForceSampler),
    ],
)
def test_make_sampler(spec, kind, cls):
    s = spec_of(HEAD + f"sampler: {{type: {kind}, seed: 3}}\n" + PARAMS)
    assert type(make_sampler(s)) is cls


def test_default_sampler_is_tpe(spec):
    sampler = make_sampler(spec)
    assert type(sampler) is optuna.samplers.TPESampler
    assert sampler._group_decomposed_search_space is not None  # conditional params: group


def test_tpe_group_only_with_conditionals_and_multivariate():
    plain = spec_of(HEAD + "params:\n  x: {int: [1, 3]}\n")
    assert make_sampler(plain)._group_decomposed_search_space is None
    off = spec_of(HEAD + "sampler: {type: tpe, multivariate: false}\n" + PARAMS)
    assert make_sampler(off)._group_decomposed_search_space is None


def test_sampler_seed_and_options_reach_optuna():
    text = HEAD + "sampler: {type: tpe, seed: 5, n_startup_trials: 3, constant_liar: true}\n"
    s = spec_of(text + PARAMS)
    sampler = make_sampler(s)
    assert sampler._n_startup_trials == 3 and sampler._constant_liar is True
    first = []
    for _ in range(2):
        st = study(make_sampler(s))
        trial = st.ask()
        first.append(suggest(trial, s))
    assert first[0] == first[1]  # same seed, same first trial
    q = spec_of(HEAD + "sampler: {type: qmc, qmc_type: halton, scramble: true}\n" + PARAMS)
    assert make_sampler(q)._qmc_type == "halton"


@pytest.mark.parametrize("kind", ["cmaes", "gp"])
def test_samplers_with_extras(kind, monkeypatch):
    """Built with their options (Optuna imports cmaes / torch only when sampling, so this
    runs without the extras; the spec would refuse the type without them)."""
    import importlib.util

    module = EXTRAS[SAMPLERS[kind]][0]
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == module else real(name, *a)
    )
    s = spec_of(HEAD + f"sampler: {{type: {kind}, seed: 1, n_startup_trials: 4}}\n" + PARAMS)
    sampler = make_sampler(s)
    assert type(sampler).__name__ == SAMPLERS[kind]
    assert sampler._n_startup_trials == 4


def test_grid_sampler_covers_the_grid_once():
    s = spec_of(
        HEAD
        + textwrap.dedent("""\
        sampler: {type: grid, seed: 0}
        params:
          optimizer: {choice: [sgd, adam]}
          depth: {int: [1, 3]}
          dropout: {float: [0.0, 0.2], step: 0.1}
          hidden_units: {choice: [[8], [16, 8]]}
        """)
    )
    assert grid(s)["dropout"] == [0.0, 0.1, 0.2]
    assert grid(s)["hidden_units"] == ["[8]", "[16, 8]"]
    assert grid_size(s) == 2 * 3 * 3 * 2
    st = study(make_sampler(s))
    combos = set()
    for _ in range(grid_size(s)):
        trial = st.ask()
        c = suggest(trial, s)
        st.tell(trial, 0.0)
        combos.add((c["optimizer"], c["depth"], c["dropout"], tuple(c["hidden_units"])))
    assert len(combos) == grid_size(s)
    assert st.trials[-1].state == optuna.trial.TrialState.COMPLETE  # tell did not raise


def test_grid_sampler_pickles():
    import pickle

    s = spec_of(HEAD + "sampler: {type: grid}\nparams:\n  d: {int: [1, 3]}\n")
    sampler = pickle.loads(pickle.dumps(make_sampler(s)))
    assert isinstance(sampler, optuna.samplers.GridSampler)


def test_short_sampler_options_are_optuna_arguments():
    """The options the schema offers for each short type are real keyword arguments of
    its Optuna class (catches drift when Optuna changes)."""
    defs = space_schema()["$defs"]
    for kind, cls_name in SAMPLERS.items():
        if kind in ("nsga2", "nsga3"):  # they take Optuna's own names, checked by class
            continue
        ref = {"tpe": "sampler_tpe", "random": "sampler_plain", "grid": "sampler_plain"}.get(
            kind, f"sampler_{kind}"
        )
        options = set(defs[ref]["properties"]) - {"type"}
        accepted = set(inspect.signature(getattr(optuna.samplers, cls_name)).parameters)
        assert options <= accepted, (kind, options - accepted)


# ------------------------------------------------------------------ pruners


def pruner_of(section: str, max_epochs: int = 5):
    text = HEAD.replace("max_epochs: 5", f"max_epochs: {max_epochs}")
    return make_pruner(spec_of(text + f"pruner: {section}\n" + PARAMS))


def test_make_pruner_median_maps_epochs_to_steps():
    p = pruner_of(
        "{type: median, warmup_epochs: 2, startup_trials: 3, interval_epochs: 2, min_trials: 2}"
    )
    assert type(p) is optuna.pruners.MedianPruner
    assert (p._n_warmup_steps, p._n_startup_trials, p._interval_steps, p._n_min_trials) == (
        3,
        3,
        2,
        2,
    )
    assert type(pruner_of("{}")) is optuna.pruners.MedianPruner  # the default


def test_make_pruner_each_type():
    p = pruner_of("{type: percentile, percentile: 25, warmup_epochs: 1}")
    assert type(p) is optuna.pruners.PercentilePruner
    assert (p._percentile, p._n_warmup_steps) == (25, 2)
    p = pruner_of("{type: successive_halving, min_resource: 1, reduction_factor: 3}")
    assert type(p) is optuna.pruners.SuccessiveHalvingPruner
    assert (p._min_resource, p._reduction_factor) == (1, 3)
    p = pruner_of("{type: hyperband, reduction_factor: 3}", max_epochs=9)
    assert type(p) is optuna.pruners.HyperbandPruner
    assert (p._min_resource, p._max_resource, p._reduction_factor) == (1, 9, 3)
    p = pruner_of("{type: threshold, lower: 0.6, warmup_epochs: 1}")
    assert type(p) is optuna.pruners.ThresholdPruner
    assert (p._lower, p._upper, p._n_warmup_steps) == (0.6, float("inf"), 2)
    p = pruner_of("{type: patient, patience: 2, min_delta: 0.01}")
    assert type(p) is optuna.pruners.PatientPruner
    assert (p._patience, p._min_delta, p._wrapped_pruner) == (2, 0.01, None)
    p = pruner_of("{type: patient, patience: 1, wrapped: {type: median, warmup_epochs: 1}}")
    assert type(p._wrapped_pruner) is optuna.pruners.MedianPruner
    assert p._wrapped_pruner._n_warmup_steps == 2
    assert type(pruner_of("{type: none}")) is optuna.pruners.NopPruner


def test_make_pruner_by_class_name_takes_optuna_arguments():
    p = pruner_of("{type: MedianPruner, n_warmup_steps: 2}")
    assert type(p) is optuna.pruners.MedianPruner and p._n_warmup_steps == 2
    assert type(pruner_of("{type: WilcoxonPruner}")) is optuna.pruners.WilcoxonPruner


def test_asha_scheduler_means_no_optuna_pruner():
    s = spec_of(HEAD + "scheduler: asha\n" + PARAMS)
    assert type(make_pruner(s)) is optuna.pruners.NopPruner


def test_warmup_epochs_means_the_first_epochs_are_never_pruned():
    """warmup_epochs: 2 → epochs 1 and 2 are safe; a hopeless trial is pruned at epoch 3
    (Optuna's step = the epoch, counted from 1)."""
    s = spec_of(HEAD + "pruner: {type: threshold, lower: 0.5, warmup_epochs: 2}\n" + PARAMS)
    st = optuna.create_study(direction="maximize", pruner=make_pruner(s))
    trial = st.ask()
    pruned_at = None
    for epoch in range(1, 6):
        trial.report(0.1, step=epoch)
        if trial.should_prune():
            pruned_at = epoch
            break
    assert pruned_at == 3


def test_median_warmup_in_a_study():
    s = spec_of(HEAD + "pruner: {type: median, warmup_epochs: 1, startup_trials: 2}\n" + PARAMS)
    st = optuna.create_study(direction="maximize", pruner=make_pruner(s))
    for _ in range(2):  # two good finished trials
        t = st.ask()
        for epoch in range(1, 4):
            t.report(0.9, step=epoch)
        st.tell(t, 0.9)
    bad = st.ask()
    bad.report(0.1, step=1)
    assert not bad.should_prune()  # warm-up
    bad.report(0.1, step=2)
    assert bad.should_prune()


def test_short_pruner_options_are_optuna_arguments():
    """Every option the schema offers for a short pruner type maps to a keyword argument
    of its Optuna class."""
    from tuner.search.distributions import _RENAMES

    defs = space_schema()["$defs"]
    for kind, cls_name in PRUNERS.items():
        if kind == "pareto":  # tuner's own (tuner.search.pareto), not Optuna's
            continue
        options = set(defs[f"pruner_{kind}"]["properties"]) - {"type"}
        mapped = {
            {"warmup_epochs": "n_warmup_steps", "wrapped": "wrapped_pruner"}.get(
                o, _RENAMES.get(o, o)
            )
            for o in options
        }
        accepted = set(inspect.signature(getattr(optuna.pruners, cls_name)).parameters)
        assert mapped <= accepted, (kind, mapped - accepted)


@pytest.mark.parametrize("kind", ["random", "tpe"])
def test_reseed_makes_a_new_sampler_go_on_where_the_old_one_was(kind):
    """A resumed sweep's sampler is new (a new process): seeded per trial number it draws
    what the uninterrupted one drew; seeded once, it would repeat the first trials."""
    from tuner.search.distributions import reseed

    def make():
        cls = optuna.samplers.RandomSampler if kind == "random" else optuna.samplers.TPESampler
        return cls(seed=3) if kind == "random" else cls(seed=3, n_startup_trials=3)

    def run(study, n):
        for _ in range(n):
            reseed(study.sampler, 3, len(study.trials))
            trial = study.ask()
            x = trial.suggest_float("x", 0.0, 1.0)
            study.tell(trial, (x - 0.3) ** 2)

    whole = optuna.create_study(sampler=make())
    run(whole, 6)
    storage = optuna.storages.InMemoryStorage()
    run(optuna.create_study(study_name="s", storage=storage, sampler=make()), 2)
    resumed = optuna.load_study(study_name="s", storage=storage, sampler=make())
    run(resumed, 4)
    assert [t.params for t in resumed.trials] == [t.params for t in whole.trials]


@pytest.mark.parametrize(
    ("trials", "expected"),
    [(1, 3), (4, 3), (10, 3), (12, 4), (16, 5), (20, 7), (29, 10), (30, 10), (200, 10)],
)
def test_tpe_random_start_scales_with_the_budget(trials, expected):
    """Optuna's fixed 10 random trials would make a 10-trial sweep a random search."""
    text = HEAD.replace("trials: 30", f"trials: {trials}") + "sampler: {type: tpe, seed: 1}\n"
    s = spec_of(text + PARAMS)
    assert startup_trials(s) == expected == scaled_startup(trials)
    assert make_sampler(s)._n_startup_trials == expected


def test_a_random_start_the_space_file_sets_is_kept():
    s = spec_of(HEAD + "sampler: {type: tpe, n_startup_trials: 12}\n" + PARAMS)
    assert make_sampler(s)._n_startup_trials == 12 == startup_trials(s)
    assert describe_start(s) == (
        "sampler: TPE, the first 12 of 30 trials at random, then modelled "
        "(sampler.n_startup_trials)"
    )


def test_the_sweep_says_how_many_trials_are_random():
    s = spec_of(HEAD.replace("trials: 30", "trials: 20") + PARAMS)  # tpe by default
    assert describe_start(s) == (
        "sampler: TPE, the first 7 of 20 trials at random, then modelled "
        "(scaled to the budget; sampler.n_startup_trials sets it)"
    )
    few = spec_of(HEAD.replace("trials: 30", "trials: 2") + PARAMS)
    assert describe_start(few) == (
        "sampler: TPE, all 2 trials at random (scaled to the budget; "
        "sampler.n_startup_trials sets it)"
    )
    other = spec_of(HEAD + "sampler: {type: random}\n" + PARAMS)
    assert describe_start(other) is None and startup_trials(other) is None


def test_tpe_models_after_its_scaled_random_start():
    """After the random start the sampler is TPE's model, not its random fallback: with a
    budget of 9 (3 random), the 4th trial's point depends on the first three's values."""
    s = spec_of(
        HEAD.replace("trials: 30", "trials: 9")
        + "sampler: {type: tpe, seed: 2}\n"
        + "params:\n  x: {float: [0.0, 1.0]}\n"
    )
    fourth = []
    for sign in (1, -1):
        st = optuna.create_study(sampler=make_sampler(s), direction="maximize")
        for _ in range(3):
            trial = st.ask()
            x = suggest(trial, s)["x"]
            st.tell(trial, sign * x)
        fourth.append(suggest(st.ask(), s)["x"])
    assert fourth[0] != fourth[1]
