"""A `SweepSpec` in Optuna's terms: distributions, the define-by-run `suggest`, the
sampler and the pruner.

Bounds: Optuna's float and int ranges include both ends, low ≤ x ≤ high. With a `step`,
the values are low + k·step and Optuna rounds high *down* onto that grid (float
[0, 1] step 0.3 → at most 0.9; int [1, 10] step 4 → 1, 5, 9). A log range needs
low > 0 and takes no step (int: step 1 only).

Choices: Optuna's categorical choices must be None, bool, int, float or str. A list
value (e.g. `hidden_units: {choice: [[64], [128, 64]]}`, or a choice among lists of
crosses) is stored in the study as its JSON text (`"[128, 64]"`) — readable in Optuna's
and MLflow's views — and decoded back to the list in the trial config. Scalars are
stored as they are.

Conditional params are define-by-run: `suggest` asks Optuna for params in dependency
order and skips one whose `when` does not hold, so it is absent from that trial's params
and config.

Optuna is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from tuner.space.model import (
    PRUNERS,
    Param,
    PrunerSpec,
    SweepSpec,
    float_top,
)

if TYPE_CHECKING:
    import optuna


def distribution(param: Param) -> optuna.distributions.BaseDistribution:
    """One param as an Optuna distribution (both ends included; see the module text).

    float → FloatDistribution(low, high, log, step); int → IntDistribution(low, high,
    log, step or 1); choice → CategoricalDistribution(encoded choices)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if param.kind == "float":
        low, high = param.bounds
        return FloatDistribution(low, high, log=param.log, step=param.step)
    if param.kind == "int":
        ilow, ihigh, istep = param.int_range
        return IntDistribution(ilow, ihigh, log=param.log, step=istep)
    return CategoricalDistribution(list(param.encoded_choices))


def distributions(spec: SweepSpec) -> dict[str, optuna.distributions.BaseDistribution]:
    """Every param (conditional ones included) → its Optuna distribution."""
    return {p.name: distribution(p) for p in spec.params}


def suggest_value(trial: optuna.trial.BaseTrial, param: Param) -> Any:
    """Ask the trial for one param; returns the decoded value (a list for a list choice)."""
    if param.kind == "float":
        low, high = param.bounds
        return trial.suggest_float(param.name, low, high, log=param.log, step=param.step)
    if param.kind == "int":
        ilow, ihigh, istep = param.int_range
        return trial.suggest_int(param.name, ilow, ihigh, step=istep, log=param.log)
    return param.decode(trial.suggest_categorical(param.name, list(param.encoded_choices)))


def suggest(trial: optuna.trial.BaseTrial, spec: SweepSpec) -> dict[str, Any]:
    """Define-by-run: sample the params in dependency order, skipping each one whose
    `when` does not hold, and return the trial config: fixed + dataset + epochs + the
    sampled values (decoded)."""
    values: dict[str, Any] = {}
    for param in spec.params:
        if param.active(values):
            values[param.name] = suggest_value(trial, param)
    return spec.config(values)


def config_from_params(spec: SweepSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """A finished trial's stored params (`FrozenTrial.params`) → its trial config."""
    values = {p.name: p.decode(params[p.name]) for p in spec.params if p.name in params}
    return spec.config(values)


def grid(spec: SweepSpec) -> dict[str, list[Any]]:
    """The grid sampler's search space: every value of every param (encoded as stored).

    An int range gives low, low + step, … up to its top; a float needs a step (the spec
    refuses a continuous float and conditional params for the grid sampler)."""
    space: dict[str, list[Any]] = {}
    for p in spec.params:
        if p.when:
            raise ValueError(f"grid sampler: param '{p.name}' is conditional")
        if p.kind == "choice":
            space[p.name] = list(p.encoded_choices)
        elif p.kind == "int":
            ilow, _, istep = p.int_range
            space[p.name] = list(range(ilow, int(p.top) + 1, istep))
        elif p.step is None:
            raise ValueError(f"grid sampler: param '{p.name}' is a continuous float")
        else:
            low, high = p.bounds
            lo, st = Decimal(str(low)), Decimal(str(p.step))
            count = int((Decimal(str(float_top(low, high, p.step))) - lo) / st) + 1
            space[p.name] = [float(lo + k * st) for k in range(count)]
    return space


def grid_size(spec: SweepSpec) -> int:
    """How many distinct trials the grid has (the sweep stops there even if
    budget.trials is larger)."""
    size = 1
    for values in grid(spec).values():
        size *= len(values)
    return size


@cache
def _grid_sampler_class() -> type:
    import optuna

    class AskTellGridSampler(optuna.samplers.GridSampler):
        """GridSampler whose `after_trial` does not call `study.stop()`: that works only
        inside `study.optimize` and raises RuntimeError from `study.tell` (ask-and-tell,
        as our searcher uses). The sweep ends after `grid_size(spec)` trials instead."""

        def after_trial(
            self,
            study: optuna.Study,
            trial: optuna.trial.FrozenTrial,
            state: optuna.trial.TrialState,
            values: Sequence[float] | None,
        ) -> None:
            return None

    AskTellGridSampler.__qualname__ = AskTellGridSampler.__name__  # pickled by reference:
    return AskTellGridSampler  # found by the module __getattr__ below


def __getattr__(name: str) -> Any:
    if name == "AskTellGridSampler":
        return _grid_sampler_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# TPE's random start when the space file sets none: this fraction of budget.trials, at
# least STARTUP_MIN, at most Optuna's own default (10). Chosen by bench/startup_trials.py
# (its JSON, 2026-12-08): on three corpus sets, 2 seeds, 20 trials,
# a third (7 random) found 0.8 % better values than Optuna's 10, a quarter (5) 0.3 %
# worse; at 10 trials 3 random were 0.4 % better than a random search — all within the
# seeds' spread, so the rule is the plainer argument: most of a small budget modelled.
STARTUP_FRACTION = 1 / 3
STARTUP_MIN = 3
STARTUP_MAX = 10


def scaled_startup(trials: int) -> int:
    """TPE's random trials for a budget of `trials`: a third of it, 3 to 10.

    Optuna's fixed 10 makes a sweep of 10 trials a random search and one of 20 half
    random; a third leaves most of a small budget to the model, and from 30 trials on
    it is Optuna's default."""
    return max(STARTUP_MIN, min(STARTUP_MAX, round(trials * STARTUP_FRACTION)))


def startup_trials(spec: SweepSpec) -> int | None:
    """The n_startup_trials the TPE sampler gets: the space file's, else scaled to the
    budget (scaled_startup); None for another sampler."""
    if spec.sampler.type != "tpe":
        return None
    given = spec.sampler.options.get("n_startup_trials")
    return int(given) if given is not None else scaled_startup(spec.budget.trials)


def describe_start(spec: SweepSpec) -> str | None:
    """The sweep's line about its random start (TPE only), e.g. `sampler: TPE, the first
    7 of 20 trials at random, then modelled (scaled to the budget; sampler.n_startup_trials
    sets it)`."""
    n = startup_trials(spec)
    if n is None:
        return None
    trials = spec.budget.trials
    if "n_startup_trials" in spec.sampler.options:
        why = "sampler.n_startup_trials"
    else:
        why = "scaled to the budget; sampler.n_startup_trials sets it"
    if n >= trials:
        return f"sampler: TPE, all {trials} trials at random ({why})"
    return f"sampler: TPE, the first {n} of {trials} trials at random, then modelled ({why})"


def make_sampler(spec: SweepSpec) -> optuna.samplers.BaseSampler:
    """The sampler named by `sampler.type`, with `seed` and the other options passed as
    Optuna's keyword arguments under their own names:

    - tpe → TPESampler (n_startup_trials, n_ei_candidates, multivariate, group,
      constant_liar); with conditional params, group defaults to true (multivariate TPE
      without group samples a param that is not in every trial independently); without
      n_startup_trials, the random start is scaled to budget.trials (scaled_startup),
      not Optuna's fixed 10;
    - random → RandomSampler; qmc → QMCSampler (qmc_type, scramble, …);
    - grid → a GridSampler over grid(spec): every combination of the params' values
      (a subclass that leaves stopping to the sweep: GridSampler calls study.stop() after
      the last grid point, which raises under ask-and-tell);
    - cmaes → CmaEsSampler (needs the `cmaes` package: extra [cmaes]);
      gp → GPSampler (needs `torch`: extra [gp]);
    - nsga2 → NSGAIISampler, nsga3 → NSGAIIISampler (several objectives);
    - an optuna.samplers class name (e.g. NSGAIISampler) → that class(**options).

    With constraints, the bridge sets each trial's violations through Optuna's
    `Trial.set_constraint` before telling it; TPE, NSGA-II/III and GP read them there.
    """
    import optuna

    s = spec.sampler
    kwargs = dict(s.options)
    if s.seed is not None:
        kwargs["seed"] = s.seed
    conditional = any(p.when for p in spec.params)
    if s.type == "tpe" and conditional and kwargs.get("multivariate") is not False:
        kwargs.setdefault("group", True)
    if s.type == "tpe":
        kwargs["n_startup_trials"] = startup_trials(spec)
    with warnings.catch_warnings():  # qmc, BruteForce…: "experimental" is not news here
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if s.type == "grid":
            return _grid_sampler_class()(grid(spec), **kwargs)
        return getattr(optuna.samplers, s.class_name)(**kwargs)


def reseed(sampler: optuna.samplers.BaseSampler, seed: int, number: int) -> None:
    """Seed `sampler` for trial `number` from (seed, number), before that trial is asked.

    A seeded sampler built in a new process restarts its random sequence, so a resumed
    sweep would draw its first trials' points again. Seeded per trial number instead, the
    draws depend only on (seed, number) — and for a model-based sampler (TPE) on the
    history, as in an uninterrupted sweep. Optuna's `reseed_rng()` takes no seed, so the
    samplers' random states (`LazyRandomState`, also in wrapped samplers such as TPE's
    startup RandomSampler) are seeded in place: objects sharing one keep sharing it."""
    import numpy as np
    from optuna.samplers import BaseSampler

    from tuner.compat.optuna import LazyRandomState

    derived = int(np.random.SeedSequence([seed, number]).generate_state(1)[0])
    seen: set[int] = set()

    def walk(obj: Any) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        for value in vars(obj).values():
            if isinstance(value, LazyRandomState):
                value.rng.seed(derived)
            elif isinstance(value, BaseSampler):
                walk(value)

    walk(sampler)


def make_pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    """The pruner named by `pruner.type`. Optuna's step is the epoch (counted from 1);
    the short types take options in epochs and map them so:

    - warmup_epochs W → n_warmup_steps = W + 1 (median, percentile, threshold): the
      first W epochs are never pruned; the earliest pruning is after epoch W + 1
      (Optuna prunes from step == n_warmup_steps on);
    - interval_epochs → interval_steps (check every so many epochs after the warm-up);
    - startup_trials → n_startup_trials; min_trials → n_min_trials;
    - percentile, lower/upper (threshold), min_resource, reduction_factor,
      min_early_stopping_rate, bootstrap_count, patience, min_delta: the same names;
    - hyperband: max_resource defaults to budget.max_epochs (not Optuna's 'auto', which
      guesses it from the first finished trial);
    - patient: wrapped (a nested pruner spec) → wrapped_pruner (default: none, i.e.
      patience alone decides);
    - none → NopPruner; pareto (several objectives) → NopPruner too: Optuna's pruners
      refuse multi-objective studies, so the bridge asks `tuner.search.pareto` itself.

    median → MedianPruner, percentile → PercentilePruner, successive_halving →
    SuccessiveHalvingPruner, hyperband → HyperbandPruner, threshold → ThresholdPruner,
    patient → PatientPruner. An optuna.pruners class name takes Optuna's own keyword
    arguments, unchanged (steps = epochs). With scheduler asha the pruner is none.
    """
    import optuna

    with warnings.catch_warnings():  # patient, Wilcoxon: "experimental" is not news here
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return _pruner(spec.pruner, spec.budget.max_epochs)


_RENAMES = {
    "startup_trials": "n_startup_trials",
    "interval_epochs": "interval_steps",
    "min_trials": "n_min_trials",
}


def _pruner(p: PrunerSpec, max_epochs: int) -> optuna.pruners.BasePruner:
    import optuna

    pruners = optuna.pruners
    if p.type not in PRUNERS:
        return getattr(pruners, p.type)(**p.options)
    kwargs: dict[str, Any] = {}
    for key, value in p.options.items():
        if key == "warmup_epochs":
            kwargs["n_warmup_steps"] = value + 1
        elif key == "wrapped":
            kwargs["wrapped_pruner"] = _pruner(value, max_epochs)
        else:
            kwargs[_RENAMES.get(key, key)] = value
    if p.type == "hyperband":
        kwargs.setdefault("max_resource", max_epochs)
    if p.type == "patient":
        kwargs.setdefault("wrapped_pruner", None)
    if p.type in ("none", "pareto"):  # pareto: the bridge asks tuner.search.pareto
        return pruners.NopPruner()
    return getattr(pruners, p.class_name)(**kwargs)
