"""The space file's data model: the frozen `SweepSpec` a sweep runs from, and the value
objects it holds. Each value object states the rules over its own keys (`Param` checks
its range, step and choices as Optuna's distributions do); the loader
(`tuner.space.load`) adds the file and line to what they say.

Nothing here reads a file or imports Optuna, Ray or TensorFlow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeGuard

from tuner.errors import ConfigError

# short name → optuna class; the options of a short name are in the schema's $defs.
SAMPLERS = {
    "tpe": "TPESampler",
    "random": "RandomSampler",
    "grid": "GridSampler",
    "qmc": "QMCSampler",
    "cmaes": "CmaEsSampler",
    "gp": "GPSampler",
    "nsga2": "NSGAIISampler",
    "nsga3": "NSGAIIISampler",
}
# samplers that cannot optimize several objectives at once (Optuna raises mid-sweep)
SINGLE_OBJECTIVE_SAMPLERS = {"CmaEsSampler": "CMA-ES adapts one distribution to one value"}
PRUNERS = {
    "median": "MedianPruner",
    "percentile": "PercentilePruner",
    "successive_halving": "SuccessiveHalvingPruner",
    "hyperband": "HyperbandPruner",
    "threshold": "ThresholdPruner",
    "patient": "PatientPruner",
    "none": "NopPruner",
    "pareto": "ParetoPruner",  # tuner's own (tuner.search.pareto): several objectives
}
# optuna class → (module it needs, the extra of pyproject.toml that installs it)
EXTRAS = {"CmaEsSampler": ("cmaes", "cmaes"), "GPSampler": ("torch", "gp")}
KINDS = ("float", "int", "choice")
DIST_KEYS = (*KINDS, "log", "step", "when")
RESERVED = "epochs"  # every trial config gets epochs = budget.max_epochs


@dataclass(frozen=True)
class Metric:
    """The metric a sweep optimizes, and the one rule for which value is better: every
    ranking (the bridge's best, the live line, the leaderboard, `tune best`) asks it."""

    name: str
    goal: str  # "maximize" | "minimize" (also Optuna's direction names)

    @property
    def direction(self) -> Literal["maximize", "minimize"]:
        """Optuna's direction: the goal (which the space file's schema limits to these)."""
        return "maximize" if self.maximize else "minimize"

    @property
    def maximize(self) -> bool:
        return self.goal == "maximize"

    @property
    def mode(self) -> str:
        """Ray Tune's name for the goal."""
        return "max" if self.maximize else "min"

    def better(self, value: float, than: float | None) -> bool:
        """Whether `value` is strictly better than `than` (anything beats None)."""
        if than is None:
            return True
        return value > than if self.maximize else value < than

    def key(self, value: float) -> float:
        """A sort key, best first in ascending order."""
        return -value if self.maximize else value


@dataclass(frozen=True)
class Constraint:
    """A bound on a metric the objective reports, read at the trial's last epoch: a trial
    outside it is infeasible (kept in the study, never on the front nor the best).
    `violation` is Optuna's constraint value: ≤ 0 when the bound holds."""

    metric: str
    max: float | None = None
    min: float | None = None

    def violation(self, value: float | None) -> float:
        """How far `value` lies outside the bounds (≤ 0 inside; a missing or non-finite
        value is infinitely far: a trial that never reported it is infeasible)."""
        import math

        if value is None or not math.isfinite(value):
            return math.inf
        over = value - self.max if self.max is not None else -math.inf
        under = self.min - value if self.min is not None else -math.inf
        return max(over, under)

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            return f"{self.min:g} ≤ {self.metric} ≤ {self.max:g}"
        if self.max is not None:
            return f"{self.metric} ≤ {self.max:g}"
        return f"{self.metric} ≥ {self.min:g}"


def dominates(a: tuple[float, ...], b: tuple[float, ...], goals: tuple[Metric, ...]) -> bool:
    """Pareto dominance: `a` is no worse than `b` in every objective and better in one."""
    keys_a = [g.key(v) for g, v in zip(goals, a, strict=True)]
    keys_b = [g.key(v) for g, v in zip(goals, b, strict=True)]
    return all(x <= y for x, y in zip(keys_a, keys_b, strict=True)) and keys_a != keys_b


@dataclass(frozen=True)
class Budget:
    trials: int
    max_epochs: int
    time: float | None = None  # seconds; None: no time limit
    max_failures: int | None = None  # None: no limit
    max_retries: int = 1  # re-runs of a trial whose worker process died


@dataclass(frozen=True)
class WarmStart:
    """Earlier sweeps a new sweep starts from (`tuner.study.warm_start`): their COMPLETE
    trials that still fit this space become its history — the sampler and the pruner
    see them, nothing counts them as this sweep's — and the best `top` of them run first,
    as this sweep's own trials (within its budget). `storage`: where the sources' studies
    are (None: where this sweep's is). Not model weights: that is `tune train --init-from`."""

    sources: tuple[str, ...]
    storage: str | None = None
    top: int = 3


@dataclass(frozen=True)
class Resources:
    """Per trial: `cpu` and `gpu` per worker process, `workers` processes training the
    trial's one model data-parallel (each trial config then gets `workers`)."""

    cpu: float = 1
    gpu: float = 0
    workers: int = 1


@dataclass(frozen=True)
class SamplerSpec:
    """`type` is a short name (SAMPLERS) or an optuna.samplers class name; `options` are
    the sampler's keyword arguments, Optuna's own names in both cases."""

    type: str = "tpe"
    seed: int | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def class_name(self) -> str:
        return SAMPLERS.get(self.type, self.type)


@dataclass(frozen=True)
class PrunerSpec:
    """`type` is a short name (PRUNERS), whose options are in epochs (tuner.search.distributions
    maps them to Optuna's arguments), or an optuna.pruners class name, whose options are
    Optuna's keyword arguments as they are. A patient pruner's `wrapped` option is a
    PrunerSpec."""

    type: str = "median"
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def class_name(self) -> str:
        return PRUNERS.get(self.type, self.type)


@dataclass(frozen=True)
class SchedulerSpec:
    type: str = "optuna"  # "optuna": the pruner decides; "asha": Ray's ASHA
    options: dict[str, Any] = field(default_factory=dict)


def same(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from numbers (YAML `true` is not `1`)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if a is None or b is None:
        return a is b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def encode_choice(value: Any) -> Any:
    """A choice value as Optuna stores it: lists (and mappings) as their JSON text,
    scalars unchanged (Optuna's categorical choices must be None, bool, int, float or str)."""
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def float_top(low: float, high: float, step: float) -> float:
    """The largest low + k·step ≤ high (what Optuna uses as high for a stepped float)."""
    lo, hi, st = Decimal(str(low)), Decimal(str(high)), Decimal(str(step))
    return float(lo + ((hi - lo) // st) * st)


class InvalidParam(ValueError):
    """A param's own rules broken. `key` is inside the param's entry (("step",),
    ("choice", 3)): the loader turns it into a ConfigError at that file line. `also` is
    the other place a value listed twice is (its key, how to name it: (("choice", 0),
    "choice 0")), for the loader to add with its line."""

    def __init__(
        self,
        key: tuple[str | int, ...],
        message: str,
        hint: str | None = None,
        also: tuple[tuple[str | int, ...], str] | None = None,
    ):
        super().__init__(f"{message} (also {also[1]})" if also else message)
        self.key, self.message, self.hint, self.also = key, message, hint, also


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def choice_key(value: Any) -> tuple[str, Any]:
    """A hashable key equal for two choices exactly when `same()` holds for their stored
    (encoded) forms, so duplicates are found in one pass: a pairwise check took minutes
    for a choice of 20,000 values. Numbers compare by value (1 and 1.0 collide), booleans
    and text only with their own kind."""
    encoded = encode_choice(value)
    if isinstance(encoded, bool):
        return ("bool", encoded)
    if isinstance(encoded, int | float):
        return ("number", encoded)
    return (type(encoded).__name__, encoded)


def _no_mapping(value: Any, key: tuple[str | int, ...], what: str) -> None:
    """Choices and `when` values are numbers, text, booleans, null or lists of them: a
    mapping has no stable stored form in Optuna."""
    if isinstance(value, dict):
        raise InvalidParam(
            key,
            f"{what} cannot be a mapping",
            "expected a number, text, true/false, null or a list",
        )
    if isinstance(value, list):
        for i, item in enumerate(value):
            _no_mapping(item, (*key, i), what)


@dataclass(frozen=True)
class Param:
    """One swept key. Ranges include both ends: low ≤ x ≤ high (with a step, x is
    low + k·step and the top is `top`, high rounded down onto the grid). `when` maps
    other params to the values (any of) for which this one is sampled."""

    name: str
    kind: str  # "float" | "int" | "choice"
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()
    when: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidParam((), f"'{self.kind}' is not a kind", f"expected one of {KINDS}")
        for q, values in self.when.items():
            if not values:
                raise InvalidParam(
                    ("when", q),
                    "an empty list of values: never true",
                    "expected a value or a list of values",
                )
            for v in values:
                _no_mapping(v, ("when", q), "a `when` value")
        if self.kind == "choice":
            self._check_choices()
        else:
            self._check_range()

    def _check_choices(self) -> None:
        if not self.choices:
            raise InvalidParam(("choice",), "an empty choice", "expected at least one value")
        seen: dict[Any, int] = {}
        for i, c in enumerate(self.choices):
            _no_mapping(c, ("choice", i), "a choice")
            first = seen.setdefault(choice_key(c), i)
            if first != i:
                raise InvalidParam(
                    ("choice", i),
                    f"{c!r} is listed twice",
                    "expected distinct values",
                    also=(("choice", first), f"choice {first}"),
                )

    def _check_range(self) -> None:
        low, high, step, bounds = self.low, self.high, self.step, (self.kind,)
        assert is_number(low) and is_number(high)  # the loader checked the shape
        if self.kind == "int" and not all(float(b).is_integer() for b in (low, high)):
            raise InvalidParam(
                bounds,
                f"{[low, high]!r} are not whole numbers",
                "expected [low, high] as integers (or use float:)",
            )
        if low >= high:
            raise InvalidParam(
                bounds, f"low {low} ≥ high {high}", "expected [low, high] with low < high"
            )
        if self.log and low <= 0:
            raise InvalidParam(
                bounds,
                f"a log scale needs low > 0, not {low}",
                "expected a positive low end, e.g. 1.0e-5",
            )
        if step is not None:
            self._check_step(low, high, step)
        # as Optuna's distributions hold them: an int range of ints, a float one of floats
        whole = self.kind == "int"
        number: Any = int if whole else float
        object.__setattr__(self, "low", number(low))
        object.__setattr__(self, "high", number(high))
        if step is not None and whole:
            object.__setattr__(self, "step", int(step))

    def _check_step(self, low: float, high: float, step: Any) -> None:
        if not is_number(step) or step <= 0:
            raise InvalidParam(("step",), f"{step!r} is not a positive number")
        if self.kind == "int" and not float(step).is_integer():
            raise InvalidParam(
                ("step",), f"{step!r} is not a whole number", "an int step is an integer ≥ 1"
            )
        if self.log and not (self.kind == "int" and step == 1):
            raise InvalidParam(
                ("step",),
                "step cannot be combined with log: true",
                "Optuna samples a log range continuously (int: step 1 only)",
            )
        if step > high - low:
            raise InvalidParam(
                ("step",),
                f"{step} is wider than the range [{low}, {high}]",
                "expected a step ≤ high - low",
            )

    @property
    def bounds(self) -> tuple[float | int, float | int]:
        """(low, high) of a float or int param; a choice has no range (ValueError)."""
        if self.low is None or self.high is None:
            raise ValueError(f"param '{self.name}' is a {self.kind}: it has no range")
        return self.low, self.high

    @property
    def int_range(self) -> tuple[int, int, int]:
        """(low, high, step) of an int param, step 1 when none is given (ValueError for
        another kind: the loader makes an int param's low, high and step ints)."""
        low, high = self.bounds
        step = self.step or 1
        if self.kind != "int" or not (
            isinstance(low, int) and isinstance(high, int) and isinstance(step, int)
        ):
            raise ValueError(f"param '{self.name}' is a {self.kind}, not an int range")
        return low, high, step

    @property
    def top(self) -> float | int:
        """The highest value the param can take (high unless a step rounds it down);
        a choice has none (ValueError)."""
        low, high = self.bounds
        if self.kind == "int" and self.step:
            return low + (high - low) // self.step * self.step
        if self.kind == "float" and self.step:
            return float_top(low, high, self.step)
        return high

    @property
    def first(self) -> Any:
        """The value of the sample configs checked at load: the first choice, or low."""
        return self.choices[0] if self.kind == "choice" else self.low

    @property
    def encoded_choices(self) -> tuple[Any, ...]:
        return tuple(encode_choice(c) for c in self.choices)

    @property
    def discrete(self) -> bool:
        return self.kind != "float" or self.step is not None

    def decode(self, stored: Any) -> Any:
        """Optuna's stored value → the trial config's value (JSON text → its list)."""
        if self.kind != "choice":
            return stored
        for encoded, value in zip(self.encoded_choices, self.choices, strict=True):
            if same(encoded, stored):
                return value
        raise ValueError(f"{stored!r} is not a choice of param '{self.name}'")

    def can_take(self, value: Any) -> bool:
        if self.kind == "choice":
            return any(same(value, c) for c in self.choices)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind == "int" and not float(value).is_integer():
            return False
        low, _ = self.bounds
        if not (low <= value <= self.top):
            return False
        if self.step:
            off = (Decimal(str(value)) - Decimal(str(low))) / Decimal(str(self.step))
            return off == off.to_integral_value()
        return True

    def active(self, values: Mapping[str, Any]) -> bool:
        """Whether this param is sampled, given the values of those sampled before it."""
        return all(
            q in values and any(same(values[q], v) for v in allowed)
            for q, allowed in self.when.items()
        )


@dataclass(frozen=True)
class SweepSpec:
    """A validated space file. `params` are in dependency order (a `when` param after
    the params it tests), otherwise in file order."""

    name: str
    objective: str
    metric: Metric  # the first objective: what a single-objective reader ranks by
    budget: Budget
    params: tuple[Param, ...]
    dataset: str | None = None
    concurrency: int = 1
    resources: Resources = field(default_factory=Resources)
    sampler: SamplerSpec = field(default_factory=SamplerSpec)
    pruner: PrunerSpec = field(default_factory=PrunerSpec)
    scheduler: SchedulerSpec = field(default_factory=SchedulerSpec)
    fixed: dict[str, Any] = field(default_factory=dict)
    epochs_in_config: bool = True  # False: the objective's schema has no `epochs` key
    path: Path | None = None
    source: str = ""  # the space file's text, as written
    objectives: tuple[Metric, ...] = ()  # `metrics:` of the file; () means (metric,)
    constraints: tuple[Constraint, ...] = ()
    warm_start: WarmStart | None = None  # earlier sweeps a new sweep starts from
    # which epoch's value is a trial's value: "best" (one metric's default) or "last"
    # (several metrics score by the last epoch's vector); see `scored_by`
    score: Literal["best", "last"] = "best"
    # the budget keys the command line set now (--trials → "trials", --concurrency →
    # "concurrency"): the others keep what the sweep was last given (`with_budget_of`)
    given: frozenset[str] = frozenset()

    @property
    def folder(self) -> Path | None:
        """The space file's folder (absolute): where a `module:function` objective that
        Python cannot import is looked for, by the driver and by its workers."""
        return self.path.absolute().parent if self.path is not None else None

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """Every objective, the first one `metric`."""
        return self.objectives or (self.metric,)

    @property
    def multi(self) -> bool:
        """Several objectives: a multi-objective Optuna study, a Pareto front."""
        return len(self.metrics) > 1

    @property
    def scored_by(self) -> Metric | None:
        """The metric whose best epoch is a trial's value (`score: best`), or None when
        a trial's value is its last epoch's (`score: last`, and every sweep over several
        metrics: an epoch's vector has no one best)."""
        return self.metric if self.score == "best" and not self.multi else None

    @property
    def trials_at_once(self) -> int:
        """`concurrency` counts worker processes: a trial of N workers takes N of them."""
        return max(1, self.concurrency // self.resources.workers)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def base_config(self) -> dict[str, Any]:
        """What every trial config holds: fixed, plus dataset and epochs."""
        config = dict(self.fixed)
        if self.dataset is not None:
            config["dataset"] = self.dataset
        if self.epochs_in_config:
            config[RESERVED] = self.budget.max_epochs
        if self.resources.workers > 1:
            config["workers"] = self.resources.workers
        return config

    def config(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The trial config for these (decoded) param values."""
        return {**self.base_config(), **values}

    def with_overrides(
        self, *, trials: int | None = None, concurrency: int | None = None
    ) -> SweepSpec:
        """The command line's --trials / --concurrency applied (each ≥ 1)."""
        changes: dict[str, Any] = {}
        given = {"trials": trials, "concurrency": concurrency}
        for key, value in given.items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"--{key} {value!r}: expected a whole number ≥ 1")
        if trials is not None:
            changes["budget"] = replace(self.budget, trials=trials)
        if concurrency is not None:
            changes["concurrency"] = concurrency
        if not changes:
            return self
        now = frozenset(k for k, v in given.items() if v is not None)
        return replace(self, given=self.given | now, **changes)

    def with_budget_of(self, trials: int | None, concurrency: int | None) -> SweepSpec:
        """The budget the sweep was last given (`trials`, `concurrency`, as its study
        recorded them: an earlier --trials/--concurrency) where this command line gives
        none: a resume or a rerun of the same space file does not undo an extension."""
        budget = self.budget
        changes: dict[str, Any] = {}
        if trials is not None and "trials" not in self.given and trials != budget.trials:
            changes["budget"] = replace(budget, trials=trials)
        if (
            concurrency is not None
            and "concurrency" not in self.given
            and concurrency != self.concurrency
        ):
            changes["concurrency"] = concurrency
        return replace(self, **changes) if changes else self

    def with_warm_start(
        self, sources: tuple[str, ...] = (), storage: str | None = None
    ) -> SweepSpec:
        """The command line's --warm-start-from (replacing the file's list; the file's
        `top` stays) and --warm-start-storage (the sources' storage)."""
        if not sources and storage is None:
            return self
        if self.sampler.type == "grid":
            raise ConfigError(
                "--warm-start-from: the grid sampler tries every point of the grid and "
                "learns from no history",
                hint="use a sampler that learns (tpe, gp, ...)",
            )
        current = self.warm_start or WarmStart(())
        found = tuple(dict.fromkeys(sources)) or current.sources
        if not found:
            raise ConfigError(
                "--warm-start-storage names where the sources are, but there are none",
                hint="add --warm-start-from NAME (or warm_start: in the space file)",
            )
        chosen = WarmStart(found, storage if storage is not None else current.storage, current.top)
        return replace(self, warm_start=chosen)


def assign(spec: SweepSpec, forced: Mapping[str, Any]) -> dict[str, Any]:
    """Params in dependency order: the forced value or the first one, for each param whose
    `when` holds (others are absent)."""
    values: dict[str, Any] = {}
    for p in spec.params:
        if p.active(values):
            values[p.name] = forced.get(p.name, p.first)
    return values
