"""The space file of `tune run`: parsed and validated completely, once, into a frozen
`SweepSpec` before anything starts.

Every mistake is one `ConfigError` naming the file, the line and the key, and what was
expected (with the nearest valid name for a typo). The checks, in order:

1. YAML (read as YAML 1.2 for numbers: `1e-4` is a number, not the text YAML 1.1 makes
   of it); the parts whose JSON Schema messages would be cryptic are checked here first
   with plain messages: `params` (kinds, bounds, log, step, choices, `when`),
   `budget.time`, the sampler, pruner and scheduler types;
2. the whole file against the published `tuner/schemas/space.schema.json`;
3. what needs more than one key: `when` references (unknown, itself, cycles, values the
   parameter can never take), a key both fixed and swept, grid with continuous or
   conditional params, missing extras (cmaes, gp), ASHA with an Optuna pruner;
4. against the objective: param and fixed names (did you mean …?), its config schema on
   several sample configs (every choice — of a choice of more than PROBE_LIMIT values,
   its representatives — and both ends of every range, each with the `when` conditions
   it needs), the metric on each sample, and its `prepare` on each (which checks e.g.
   crosses against the data set). The checks grow with the number of params, not with
   the number of values: a choice of 200,000 values is checked in well under a second.

Nothing here imports TensorFlow, Ray, MLflow or (for the named sampler and pruner types)
Optuna; the Optuna translation is `tuner.search.distributions`.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeGuard

from tuner.errors import ConfigError, DataError, TunerError
from tuner.space.yaml_file import (
    KeyPath,
    Located,
    check_finite,
    parse_yaml,
    read_text,
    suggest,
    validate,
)

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schemas" / "space.schema.json"

# short name → optuna class; the options of a short name are in the schema's $defs.
SAMPLERS = {
    "tpe": "TPESampler",
    "random": "RandomSampler",
    "grid": "GridSampler",
    "qmc": "QMCSampler",
    "cmaes": "CmaEsSampler",
    "gp": "GPSampler",
}
PRUNERS = {
    "median": "MedianPruner",
    "percentile": "PercentilePruner",
    "successive_halving": "SuccessiveHalvingPruner",
    "hyperband": "HyperbandPruner",
    "threshold": "ThresholdPruner",
    "patient": "PatientPruner",
    "none": "NopPruner",
}
# optuna class → (module it needs, the extra of pyproject.toml that installs it)
EXTRAS = {"CmaEsSampler": ("cmaes", "cmaes"), "GPSampler": ("torch", "gp")}
SCHEDULERS = ("optuna", "asha")
SCHEDULER_OPTIONS = ("grace_period", "reduction_factor", "brackets")
KINDS = ("float", "int", "choice")
DIST_KEYS = (*KINDS, "log", "step", "when")
RESERVED = "epochs"  # every trial config gets epochs = budget.max_epochs

_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*d)?\s*(?:(\d+(?:\.\d+)?)\s*h)?"
    r"\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$"
)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@cache
def space_schema() -> dict[str, Any]:
    """The published JSON Schema of the space file."""
    return json.loads(SCHEMA_FILE.read_text())


# ---------------------------------------------------------------- the frozen spec


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
class Budget:
    trials: int
    max_epochs: int
    time: float | None = None  # seconds; None: no time limit
    max_failures: int | None = None  # None: no limit
    max_retries: int = 1  # re-runs of a trial whose worker process died


@dataclass(frozen=True)
class Resources:
    cpu: float = 1
    gpu: float = 0


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


PROBE_LIMIT = 32  # a choice of more values is probed through its representatives


def _shape(value: Any) -> tuple[Any, ...]:
    """What a JSON Schema can tell apart without comparing values: the kind of a value,
    and for a list its length and its items' shapes."""
    if isinstance(value, list):
        return ("list", len(value), *(_shape(v) for v in value[:8]))
    if isinstance(value, bool) or value is None:
        return (type(value).__name__,)
    if isinstance(value, int | float):
        return ("integer" if float(value).is_integer() else "number",)
    return (type(value).__name__,)


def representatives(choices: Sequence[Any], limit: int = PROBE_LIMIT) -> list[int]:
    """Indices of the choices that stand for all of them in the load checks: the first
    and last value; the first and last of each shape (`_shape`: kind, list length), up
    to `limit` shapes; the smallest and largest number (bounds such as minimum and
    maximum are then checked at both ends). Text is checked per value only where the
    objective's schema gives the key an enum (see `_check_enum`); other values outside
    these reach the objective only in their trial, which fails alone (a FAIL row)."""
    picked = {0, len(choices) - 1}
    ends: dict[tuple[Any, ...], list[int]] = {}
    low = high = None
    for i, c in enumerate(choices):
        shape = _shape(c)
        if shape in ends:
            ends[shape][1] = i
        elif len(ends) < limit:
            ends[shape] = [i, i]
        if isinstance(c, int | float) and not isinstance(c, bool):
            if low is None or c < choices[low]:
                low = i
            if high is None or c > choices[high]:
                high = i
    for first, last in ends.values():
        picked.update((first, last))
    picked.update(i for i in (low, high) if i is not None)
    return sorted(picked)


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

    def probes(self) -> list[tuple[Any, str]]:
        """The values checked against the objective at load, with how to call each.

        Each probe is one trial config prepared by the objective (~1 ms), so they are
        bounded: every value of a choice of up to PROBE_LIMIT values, and of a longer
        choice only its representatives (`representatives`); both ends of a range."""
        if self.kind == "choice":
            n = len(self.choices)
            indices = range(n) if n <= PROBE_LIMIT else representatives(self.choices)
            return [(self.choices[i], f"choice {i + 1} of {n}") for i in indices]
        top = self.top
        return [(self.low, "the low end of its range"), (top, "the high end of its range")]


@dataclass(frozen=True)
class SweepSpec:
    """A validated space file. `params` are in dependency order (a `when` param after
    the params it tests), otherwise in file order."""

    name: str
    objective: str
    metric: Metric
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
        return config

    def config(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The trial config for these (decoded) param values."""
        return {**self.base_config(), **values}

    def with_overrides(
        self, *, trials: int | None = None, concurrency: int | None = None
    ) -> SweepSpec:
        """The command line's --trials / --concurrency applied (each ≥ 1)."""
        changes: dict[str, Any] = {}
        for flag, value in (("--trials", trials), ("--concurrency", concurrency)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{flag} {value!r}: expected a whole number ≥ 1")
        if trials is not None:
            changes["budget"] = replace(self.budget, trials=trials)
        if concurrency is not None:
            changes["concurrency"] = concurrency
        return replace(self, **changes) if changes else self


# ---------------------------------------------------------------- loading


def load_spec(
    path: str | Path,
    *,
    trials: int | None = None,
    concurrency: int | None = None,
    check_objective: bool = True,
) -> SweepSpec:
    """Read and validate a space file completely; raises one ConfigError (exit 2).

    `trials` / `concurrency` are the command line's overrides. `check_objective=False`
    skips the checks that load the objective and its data set (for reading back a spec
    that was checked when its sweep started)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError("no such file", where=path)
    if path.is_dir():
        raise ConfigError("is a directory", where=path, hint="expected a space file (YAML)")
    spec = parse_spec(read_text(path), path, check_objective=check_objective)
    return spec.with_overrides(trials=trials, concurrency=concurrency)


def parse_spec(
    text: str, path: str | Path | None = None, *, check_objective: bool = True
) -> SweepSpec:
    """`load_spec` for text (e.g. the space file kept in a study); `path` names it in errors."""
    path = Path(path) if path is not None else None
    return check_spec(parse_yaml(text, path), text, check_objective=check_objective)


def check_spec(located: Located, text: str, *, check_objective: bool = True) -> SweepSpec:
    """Steps 1–4 on a parsed space file (`text` is kept in the spec as its source)."""
    check_finite(located, located.data)
    _precheck(located)
    validate(_short_choices(located), space_schema())
    spec = _build(located, text)
    if check_objective:
        spec = _check_objective(spec, located)
    return spec


def _short_choices(located: Located) -> Located:
    """The file with each choice cut to its first value, for the JSON Schema check: the
    precheck has checked every value already (no mappings, no duplicates), and the
    schema checked 200,000 values in 2.7 s."""
    params = located.data.get("params")
    if not isinstance(params, dict):
        return located
    short = {
        name: {**dist, "choice": dist["choice"][:1]}
        if isinstance(dist, dict) and isinstance(dist.get("choice"), list)
        else dist
        for name, dist in params.items()
    }
    return replace(located, data={**located.data, "params": short})


def parse_duration(text: str, where: str | None = None, key: str = "budget.time") -> float:
    """'90s', '30m', '2h', '1h30m', '1.5h', '2d' → seconds (> 0)."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ConfigError(
            f"key '{key}': {text!r} is not a duration",
            where=where,
            hint="expected e.g. 90s, 30m, 2h or 1h30m",
        )
    d, h, m, s = (float(g) if g else 0.0 for g in match.groups())
    seconds = ((d * 24 + h) * 60 + m) * 60 + s
    if seconds <= 0:
        raise ConfigError(f"key '{key}': {text!r} is no time at all", where=where)
    return seconds


# ---------------------------------------------------------------- step 1: plain checks


def _err(located: Located, key: KeyPath, message: str, hint: str | None = None) -> ConfigError:
    name = ".".join(str(k) for k in key)
    return ConfigError(f"key '{name}': {message}", where=located.where(key), hint=hint)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind_of(value: Any) -> str:
    return {bool: "a boolean", str: "text", list: "a list", dict: "a mapping"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _precheck(located: Located) -> None:
    data = located.data
    budget = data.get("budget")
    if isinstance(budget, dict) and "time" in budget:
        parse_duration(budget["time"], located.where(("budget", "time")))
    if isinstance(data.get("sampler"), dict):
        _check_type(located, ("sampler",), SAMPLERS, "sampler")
    if isinstance(data.get("pruner"), dict):
        _check_pruner_types(located, ("pruner",))
    if "scheduler" in data:
        _check_scheduler(located)
    for section in ("fixed", "params"):
        if isinstance(data.get(section), dict) and RESERVED in data[section]:
            raise _err(
                located,
                (section, RESERVED),
                "every trial trains budget.max_epochs epochs (pruned trials fewer)",
                hint="set budget.max_epochs instead",
            )
    params = data.get("params")
    if isinstance(params, dict):
        for name, dist in params.items():
            _check_distribution(located, name, dist)


def _check_type(located: Located, key: KeyPath, short: dict[str, str], what: str) -> None:
    section = located.data
    for k in key:
        section = section[k]
    kind = section.get("type", next(iter(short)))
    if not isinstance(kind, str) or kind in short:
        return  # the schema names a non-text type
    if kind[:1].isupper() and _optuna_class(what, kind) is not None:
        return
    names = [*short, *_optuna_names(what)]
    near = suggest(kind, names)
    hint = (
        f"did you mean '{near}'?"
        if near
        else f"expected one of {list(short)} or an optuna.{what}s class name"
    )
    raise _err(located, (*key, "type"), f"unknown {what} '{kind}'", hint=hint)


def _check_pruner_types(located: Located, key: KeyPath) -> None:
    _check_type(located, key, PRUNERS, "pruner")
    section = located.data
    for k in key:
        section = section[k]
    if section.get("type") == "patient" and isinstance(section.get("wrapped"), dict):
        _check_pruner_types(located, (*key, "wrapped"))


def _optuna_names(what: str) -> list[str]:
    import optuna

    module = optuna.samplers if what == "sampler" else optuna.pruners
    return [n for n in module.__all__ if _optuna_class(what, n) is not None]


def _optuna_class(what: str, name: str) -> type | None:
    """optuna.samplers.NAME / optuna.pruners.NAME if it is a concrete sampler/pruner."""
    import inspect

    import optuna

    module, base = (
        (optuna.samplers, optuna.samplers.BaseSampler)
        if what == "sampler"
        else (optuna.pruners, optuna.pruners.BasePruner)
    )
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, base)) or inspect.isabstract(cls):
        return None
    if name.startswith("Base"):
        return None
    return cls


def _check_scheduler(located: Located) -> None:
    value = located.data["scheduler"]
    key: KeyPath = ("scheduler",)
    if isinstance(value, dict):
        for option in value:
            if option != "type" and option not in SCHEDULER_OPTIONS:
                near = suggest(str(option), SCHEDULER_OPTIONS)
                hint = (
                    f"did you mean '{near}'?"
                    if near
                    else f"expected {['type', *SCHEDULER_OPTIONS]}"
                )
                raise _err(located, (*key, option), "unknown scheduler option", hint=hint)
        if "type" not in value:
            raise _err(
                located, key, "'type' is required", hint=f"expected one of {list(SCHEDULERS)}"
            )
        key, value = (*key, "type"), value["type"]
    if not isinstance(value, str) or value not in SCHEDULERS:
        near = suggest(str(value), SCHEDULERS)
        hint = f"did you mean '{near}'?" if near else f"expected one of {list(SCHEDULERS)}"
        raise _err(located, key, f"unknown scheduler {value!r}", hint=hint)
    options = located.data["scheduler"]
    if isinstance(options, dict):
        for option in SCHEDULER_OPTIONS:
            v = options.get(option)
            if option in options and (
                not _is_number(v) or v <= (1 if option == "reduction_factor" else 0)
            ):
                raise _err(
                    located,
                    ("scheduler", option),
                    f"{v!r} is not a valid value",
                    hint="expected a number > 1"
                    if option == "reduction_factor"
                    else "expected a whole number ≥ 1",
                )
            if (
                option in ("grace_period", "brackets")
                and option in options
                and not isinstance(v, int)
            ):
                raise _err(located, ("scheduler", option), f"{v!r} is not a whole number")


def _check_value(located: Located, key: KeyPath, value: Any, what: str) -> None:
    if isinstance(value, dict):
        raise _err(
            located,
            key,
            f"{what} cannot be a mapping",
            hint="expected a number, text, true/false, null or a list",
        )
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_value(located, (*key, i), item, what)


def _choice_key(value: Any) -> tuple[str, Any]:
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


def _check_distribution(located: Located, name: Any, dist: Any) -> None:
    key: KeyPath = ("params", name)
    expected = "expected {float: [low, high]}, {int: [low, high]} or {choice: [a, b, ...]}"
    if not isinstance(name, str):
        raise _err(located, key, f"a parameter name must be text, not {_kind_of(name)}")
    if not isinstance(dist, dict):
        raise _err(located, key, f"{_kind_of(dist)} {dist!r} is not a distribution", hint=expected)
    for k in dist:
        if k not in DIST_KEYS:
            near = suggest(str(k), DIST_KEYS)
            hint = f"did you mean '{near}'?" if near else f"expected one of {list(DIST_KEYS)}"
            raise _err(located, (*key, k), f"unknown key '{k}'", hint=hint)
    kinds = [k for k in KINDS if k in dist]
    if not kinds:
        raise _err(located, key, "no distribution", hint=expected)
    if len(kinds) > 1:
        raise _err(
            located,
            key,
            f"both {kinds[0]} and {kinds[1]}",
            hint="give exactly one of float, int, choice",
        )
    kind = kinds[0]
    log, step = dist.get("log", False), dist.get("step")
    if not isinstance(log, bool):
        raise _err(located, (*key, "log"), f"{log!r} is not true or false")
    if "when" in dist:
        when = dist["when"]
        if not isinstance(when, dict) or not when:
            raise _err(
                located,
                (*key, "when"),
                f"{_kind_of(when)} {when!r} is not a condition",
                hint="expected {param: value} or {param: [values]}",
            )
        for q, v in when.items():
            _check_value(located, (*key, "when", q), v, "a `when` value")
            if isinstance(v, list) and not v:
                raise _err(
                    located,
                    (*key, "when", q),
                    "an empty list of values: never true",
                    hint="expected a value or a list of values",
                )
    if kind == "choice":
        choices = dist["choice"]
        if "log" in dist or "step" in dist:
            bad = "log" if "log" in dist else "step"
            raise _err(
                located, (*key, bad), f"'{bad}' applies to float and int ranges, not to a choice"
            )
        if not isinstance(choices, list):
            raise _err(
                located,
                (*key, "choice"),
                f"{_kind_of(choices)} {choices!r} is not a list",
                hint="expected [a, b, ...]",
            )
        if not choices:
            raise _err(
                located, (*key, "choice"), "an empty choice", hint="expected at least one value"
            )
        seen: dict[Any, int] = {}
        for i, c in enumerate(choices):
            _check_value(located, (*key, "choice", i), c, "a choice")
            first = seen.setdefault(_choice_key(c), i)
            if first != i:
                raise _err(
                    located,
                    (*key, "choice", i),
                    f"{c!r} is listed twice (also as choice {first + 1})",
                    hint="expected distinct values",
                )
        return
    bounds = dist[kind]
    bkey = (*key, kind)
    if not isinstance(bounds, list) or len(bounds) != 2 or not all(_is_number(b) for b in bounds):
        raise _err(
            located, bkey, f"{bounds!r} is not a range", hint="expected [low, high], two numbers"
        )
    low, high = bounds
    if kind == "int" and not all(float(b).is_integer() for b in bounds):
        raise _err(
            located,
            bkey,
            f"{bounds!r} are not whole numbers",
            hint="expected [low, high] as integers (or use float:)",
        )
    if low >= high:
        raise _err(
            located, bkey, f"low {low} ≥ high {high}", hint="expected [low, high] with low < high"
        )
    if log and low <= 0:
        raise _err(
            located,
            bkey,
            f"a log scale needs low > 0, not {low}",
            hint="expected a positive low end, e.g. 1.0e-5",
        )
    if step is not None:
        if not _is_number(step) or step <= 0:
            raise _err(located, (*key, "step"), f"{step!r} is not a positive number")
        if kind == "int" and not float(step).is_integer():
            raise _err(
                located,
                (*key, "step"),
                f"{step!r} is not a whole number",
                hint="an int step is an integer ≥ 1",
            )
        if log and not (kind == "int" and step == 1):
            raise _err(
                located,
                (*key, "step"),
                "step cannot be combined with log: true",
                hint="Optuna samples a log range continuously (int: step 1 only)",
            )
        if step > high - low:
            raise _err(
                located,
                (*key, "step"),
                f"{step} is wider than the range [{low}, {high}]",
                hint="expected a step ≤ high - low",
            )


# ---------------------------------------------------------------- step 3: the spec


def _build(located: Located, text: str) -> SweepSpec:
    data = located.data
    path = located.path
    name = data.get("name")
    if name is None:
        if path is None:
            raise ConfigError("key 'name' is required", where="space file")
        name = path.stem
        if not _SAFE_NAME.match(name):
            raise ConfigError(
                f"the file name '{name}' is not a safe sweep name",
                where=f"{path}:1",
                hint="add name: with letters, digits, '.', '_' or '-'",
            )
    params = _params(located)
    fixed = dict(data.get("fixed") or {})
    dataset = data.get("dataset")
    for p in params:
        if p.name in fixed:
            line = located.lines.get(("fixed", p.name))
            raise _err(
                located,
                ("params", p.name),
                f"also set in fixed (line {line})",
                hint="a key is either fixed or swept",
            )
        if p.name == "dataset" and dataset is not None:
            raise _err(
                located,
                ("params", p.name),
                "also set at the top level (dataset:)",
                hint="a key is either fixed or swept",
            )
    if dataset is not None and "dataset" in fixed:
        raise _err(
            located, ("fixed", "dataset"), "also set at the top level (dataset:)", hint="keep one"
        )
    if isinstance(dataset, str) and not dataset.startswith("builtin:") and Path(dataset).exists():
        dataset = str(Path(dataset).absolute())  # Ray changes each trial's directory

    budget_data = data["budget"]
    budget = Budget(
        trials=int(budget_data["trials"]),
        max_epochs=int(budget_data["max_epochs"]),
        time=parse_duration(budget_data["time"]) if "time" in budget_data else None,
        max_failures=budget_data.get("max_failures"),
        max_retries=int(budget_data.get("max_retries", 1)),
    )
    res = data.get("resources") or {}
    gpu = res.get("gpu", 0)
    if gpu > 1 and not float(gpu).is_integer():
        raise _err(
            located,
            ("resources", "gpu"),
            f"{gpu} GPUs: above 1 a trial takes whole GPUs",
            hint="expected a fraction ≤ 1 or a whole number",
        )
    resources = Resources(cpu=res.get("cpu", 1), gpu=gpu)

    sampler = _sampler(located, params)
    pruner = _pruner(located, ("pruner",), data.get("pruner") or {}, budget)
    scheduler = data.get("scheduler", "optuna")
    if isinstance(scheduler, str):
        scheduler = SchedulerSpec(scheduler)
    else:
        scheduler = SchedulerSpec(
            scheduler["type"], {k: v for k, v in scheduler.items() if k != "type"}
        )
    if scheduler.type == "asha":
        if "pruner" in data and pruner.type != "none":
            raise _err(
                located,
                ("pruner",),
                "scheduler asha stops trials itself",
                hint="leave out pruner (or set type: none) with scheduler: asha",
            )
        pruner = PrunerSpec("none")
        grace = scheduler.options.get("grace_period", 1)
        if grace > budget.max_epochs:
            raise _err(
                located,
                ("scheduler", "grace_period"),
                f"{grace} is more than budget.max_epochs ({budget.max_epochs})",
            )
    elif scheduler.options:
        first = next(iter(scheduler.options))
        raise _err(
            located,
            ("scheduler", first),
            "an asha option, but the scheduler is optuna",
            hint="the optuna scheduler takes its options from pruner:",
        )
    metric = data["metric"]
    return SweepSpec(
        name=name,
        objective=data.get("objective", "tabular"),
        metric=Metric(metric["name"], metric["goal"]),
        budget=budget,
        params=params,
        dataset=dataset,
        concurrency=data.get("concurrency", 1),
        resources=resources,
        sampler=sampler,
        pruner=pruner,
        scheduler=scheduler,
        fixed=fixed,
        path=path.absolute() if path else None,
        source=text,
    )


def _params(located: Located) -> tuple[Param, ...]:
    raw: dict[str, Param] = {}
    for name, dist in located.data["params"].items():
        kind = next(k for k in KINDS if k in dist)
        when = {
            q: tuple(v) if isinstance(v, list) else (v,) for q, v in dist.get("when", {}).items()
        }
        if kind == "choice":
            raw[name] = Param(name, kind, choices=tuple(dist["choice"]), when=when)
            continue
        low, high = dist[kind]
        step = dist.get("step")
        if kind == "int":
            low, high = int(low), int(high)
            step = int(step) if step is not None else None
        else:
            low, high = float(low), float(high)
        raw[name] = Param(name, kind, low, high, dist.get("log", False), step, when=when)

    for p in raw.values():
        for q, values in p.when.items():
            key = ("params", p.name, "when", q)
            if q == p.name:
                raise _err(located, key, "a parameter cannot depend on itself")
            if q not in raw:
                fixed = located.data.get("fixed") or {}
                if q in fixed:
                    hint = f"'{q}' is fixed, so the condition is always true or never: drop it"
                else:
                    near = suggest(str(q), list(raw))
                    hint = f"did you mean '{near}'?" if near else f"the params are {list(raw)}"
                raise _err(located, key, f"'{q}' is not a parameter", hint=hint)
            target = raw[q]
            if not target.discrete:
                raise _err(
                    located,
                    key,
                    f"params.{q} is a continuous float: no value would ever match",
                    hint=f"make {q} a choice or give it a step",
                )
            for v in values:
                if not target.can_take(v):
                    if target.kind == "choice":
                        near = (
                            suggest(v, [c for c in target.choices if isinstance(c, str)])
                            if isinstance(v, str)
                            else None
                        )
                        hint = (
                            f"did you mean '{near}'?"
                            if near
                            else f"it takes one of {list(target.choices)}"
                        )
                    else:
                        hint = f"it takes {target.kind}s in [{target.low}, {target.top}]" + (
                            f" in steps of {target.step}" if target.step else ""
                        )
                    raise _err(located, key, f"{v!r} is never a value of params.{q}", hint=hint)

    # dependency order (Kahn's algorithm, file order among the ready ones); cycles refused
    order: list[Param] = []
    placed: set[str] = set()
    pending = list(raw.values())
    while pending:
        ready = [p for p in pending if all(q in placed for q in p.when)]
        if not ready:
            cycle = _cycle(pending)
            raise _err(
                located,
                ("params", cycle[0], "when"),
                "conditions form a cycle: " + " → ".join([*cycle, cycle[0]]),
                hint="a `when` must not depend, directly or not, on its own parameter",
            )
        for p in ready:
            order.append(p)
            placed.add(p.name)
        pending = [p for p in pending if p.name not in placed]
    return tuple(order)


def _cycle(pending: list[Param]) -> list[str]:
    graph = {p.name: list(p.when) for p in pending}
    start = pending[0].name
    seen: list[str] = []
    node = start
    while node not in seen:
        seen.append(node)
        node = next(q for q in graph[node] if q in graph)
    return seen[seen.index(node) :]


def _sampler(located: Located, params: tuple[Param, ...]) -> SamplerSpec:
    section = located.data.get("sampler") or {}
    kind = section.get("type", "tpe")
    if kind == "GridSampler":
        kind = "grid"  # its search space comes from params either way
    seed = section.get("seed")
    options = {k: v for k, v in section.items() if k not in ("type", "seed")}
    class_name = SAMPLERS.get(kind, kind)
    if class_name in EXTRAS:
        module, extra = EXTRAS[class_name]
        if importlib.util.find_spec(module) is None:
            raise _err(
                located,
                ("sampler", "type"),
                f"sampler '{kind}' needs the '{module}' package",
                hint=f'install it with: pip install -e ".[{extra}]"',
            )
    if kind == "grid":
        for p in params:
            if p.when:
                raise _err(
                    located,
                    ("params", p.name, "when"),
                    "the grid sampler cannot take conditional params",
                    hint="drop the `when`, or use another sampler (e.g. tpe, random)",
                )
            if not p.discrete:
                raise _err(
                    located,
                    ("params", p.name, "float"),
                    "the grid sampler cannot take a continuous float",
                    hint="give it a step, make it a choice, or use another sampler",
                )
    elif kind == "tpe" and options.get("group") and options.get("multivariate") is False:
        raise _err(
            located,
            ("sampler", "group"),
            "group needs the multivariate TPE",
            hint="drop multivariate: false (or group: true)",
        )
    elif kind not in SAMPLERS:
        _check_class_options(located, ("sampler",), "sampler", kind, options, seed)
    return SamplerSpec(kind, seed, options)


def _pruner(located: Located, key: KeyPath, section: dict[str, Any], budget: Budget) -> PrunerSpec:
    kind = section.get("type", "median")
    options = {k: v for k, v in section.items() if k != "type"}
    if kind == "patient" and "wrapped" in options:
        options["wrapped"] = _pruner(located, (*key, "wrapped"), options["wrapped"], budget)
    elif kind == "threshold":
        lower, upper = options.get("lower"), options.get("upper")
        if lower is not None and upper is not None and lower >= upper:
            raise _err(
                located,
                (*key, "lower"),
                f"lower {lower} ≥ upper {upper}",
                hint="expected lower < upper",
            )
    elif kind == "hyperband":
        top = options.get("max_resource", budget.max_epochs)
        if top > budget.max_epochs:
            raise _err(
                located,
                (*key, "max_resource"),
                f"{top} is more than budget.max_epochs ({budget.max_epochs})",
            )
        if options.get("min_resource", 1) > top:
            raise _err(
                located,
                (*key, "min_resource"),
                f"{options['min_resource']} is more than max_resource ({top})",
            )
    elif kind not in PRUNERS:
        _check_class_options(located, key, "pruner", kind, options, None)
    return PrunerSpec(kind, options)


def _check_class_options(
    located: Located, key: KeyPath, what: str, name: str, options: dict[str, Any], seed: int | None
) -> None:
    """An Optuna class given by name: its options must be its keyword arguments."""
    import inspect

    cls = _optuna_class(what, name)
    assert cls is not None  # _precheck made sure
    signature = inspect.signature(cls)
    accepted = {
        n: p
        for n, p in signature.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    given = {**options, **({"seed": seed} if seed is not None else {})}
    for option in given:
        if option not in accepted:
            near = suggest(str(option), list(accepted))
            hint = (
                f"did you mean '{near}'?"
                if near
                else f"optuna.{what}s.{name} takes {sorted(accepted)}"
            )
            raise _err(
                located,
                (*key, option),
                f"optuna.{what}s.{name} has no argument '{option}'",
                hint=hint,
            )
    missing = [n for n, p in accepted.items() if p.default is p.empty and n not in given]
    if missing:
        raise _err(
            located,
            key,
            f"optuna.{what}s.{name} needs '{missing[0]}'",
            hint=f"add {missing[0]}: to {what}:",
        )


# ---------------------------------------------------------------- step 4: the objective


def _check_objective(spec: SweepSpec, located: Located) -> SweepSpec:
    from tuner.trial import load_objective

    objective = load_objective(spec.objective, where=located.where(("objective",)))
    schema = objective.config_schema
    ref = spec.objective
    props = (schema or {}).get("properties", {})
    closed = bool(schema and schema.get("additionalProperties") is False)
    if closed and RESERVED not in props:
        spec = replace(spec, epochs_in_config=False)

    if closed:
        for section, keys in (("fixed", spec.fixed), ("params", spec.param_names)):
            for k in keys:
                if k not in props:
                    near = suggest(k, props)
                    raise _err(
                        located,
                        (section, k),
                        f"objective '{ref}' has no setting '{k}'",
                        hint=f"did you mean '{near}'?" if near else "see its config schema",
                    )
        if spec.dataset is not None and "dataset" not in props:
            raise _err(located, ("dataset",), f"objective '{ref}' takes no dataset")
    for p in spec.params:
        if p.kind == "choice" and len(p.choices) > PROBE_LIMIT:
            _check_enum(located, p, props.get(p.name))
    for required in (schema or {}).get("required", []):
        if required not in spec.base_config() and required not in spec.param_names:
            hint = (
                "add dataset: at the top level"
                if required == "dataset"
                else "set it in fixed or params"
            )
            raise ConfigError(
                f"objective '{ref}' needs '{required}'",
                where=f"{spec.path}:1" if spec.path else None,
                hint=hint,
            )

    # which key of the file each trial-config key comes from, for messages
    origin: dict[str, KeyPath] = {k: ("fixed", k) for k in spec.fixed}
    origin.update({p.name: ("params", p.name) for p in spec.params})
    if spec.dataset is not None:
        origin["dataset"] = ("dataset",)
    lines: dict[KeyPath, int] = {
        (k,): located.lines[o] for k, o in origin.items() if o in located.lines
    }

    samples = list(_samples(spec, located))
    if schema:
        for label, _key, config in samples:
            try:
                validate(Located(config, located.path, lines), schema)
            except ConfigError as exc:
                message = exc.message
                match = re.match(r"key '([^'.]+)", message)
                culprit = match.group(1) if match else None
                if match is not None and culprit in origin:
                    dotted = ".".join(map(str, origin[culprit]))
                    message = f"key '{dotted}{message[match.end() :]}"
                    if not label and culprit in spec.param_names:
                        label = _label(spec.param(culprit), config[culprit])
                raise ConfigError(f"{message}{label}", where=exc.where, hint=exc.hint) from None

    data_where = (
        located.where(("dataset",)) if spec.dataset is not None else located.where(("fixed",))
    )
    base = samples[0][2]
    _prepare(objective, base, " (with the first value of each param)", data_where, data_where)
    metric_where = located.where(("metric", "name"))
    for label, _key, config in samples:
        try:
            objective.check_metric(spec.metric.name, config, where=metric_where)
        except ConfigError as exc:
            raise ConfigError(
                f"key 'metric.name': {exc.message}{label}", where=exc.where, hint=exc.hint
            ) from None
    for label, key, config in samples[1:]:
        _prepare(objective, config, label, located.where(key), data_where)
    return spec


def _check_enum(located: Located, p: Param, subschema: Any) -> None:
    """Every value of a long choice against the enum the objective's schema gives its
    key (one set lookup each): the probes see only representatives of such a choice."""
    if not isinstance(subschema, dict) or not isinstance(subschema.get("enum"), list):
        return
    allowed = {_choice_key(v) for v in subschema["enum"]}
    for i, c in enumerate(p.choices):
        if _choice_key(c) not in allowed:
            raise _err(
                located,
                ("params", p.name, "choice", i),
                f"{c!r} is not one of {subschema['enum']}",
            )


def _label(p: Param, value: Any) -> str:
    for probe, what in p.probes():
        if same(probe, value):
            return f" (with {p.name} = {value!r}: {what})"
    return f" (with {p.name} = {value!r})"


def _prepare(
    objective: Any, config: dict[str, Any], label: str, where: str | None, data_where: str | None
) -> Any:
    """The objective's own deep check of one sample; a data set problem is reported at
    the `dataset` line."""
    if objective.prepare is None:
        return config
    try:
        return objective.prepare(config)
    except DataError as exc:
        detail = f"{exc.where}: {exc.message}" if exc.where else exc.message
        raise ConfigError(f"key 'dataset': {detail}", where=data_where, hint=exc.hint) from None
    except TunerError as exc:
        raise ConfigError(f"{exc.message}{label}", where=where, hint=exc.hint) from None


def _samples(spec: SweepSpec, located: Located) -> Iterator[tuple[str, KeyPath, dict[str, Any]]]:
    """(how to name it in a message, the key it probes, a trial config): first the base
    sample (the first value of each param), then every choice and both ends of every
    range, each with the values of other params its `when` needs."""
    seen: set[str] = set()

    def once(config: dict[str, Any]) -> bool:
        text = json.dumps(config, sort_keys=True, default=str)
        if text in seen:
            return False
        seen.add(text)
        return True

    base = spec.config(assign(spec, {}))
    once(base)
    yield "", ("params",), base
    for p in spec.params:
        needs = _requirements(spec, p, located)
        for value, _what in p.probes():
            values = assign(spec, {**needs, p.name: value})
            config = spec.config(values)
            if once(config):
                yield _label(p, value), ("params", p.name), config


def _requirements(spec: SweepSpec, p: Param, located: Located) -> dict[str, Any]:
    """Values of the params that `p` (through its `when`s, transitively) needs."""
    allowed: dict[str, list[Any]] = {}

    def gather(param: Param) -> None:
        for q, values in param.when.items():
            now = allowed.get(q)
            allowed[q] = (
                list(values) if now is None else [v for v in now if any(same(v, w) for w in values)]
            )
            gather(spec.param(q))

    gather(p)
    needs = {}
    for q, values in allowed.items():
        if not values:
            raise _err(
                located,
                ("params", p.name, "when"),
                f"can never be sampled: its conditions need two different values of '{q}'",
            )
        needs[q] = values[0]
    sampled = assign(spec, {**needs, p.name: p.first})
    if p.name not in sampled:
        raise _err(
            located,
            ("params", p.name, "when"),
            "can never be sampled: its conditions contradict each other",
        )
    return needs


def assign(spec: SweepSpec, forced: Mapping[str, Any]) -> dict[str, Any]:
    """Params in dependency order: the forced value or the first one, for each param whose
    `when` holds (others are absent)."""
    values: dict[str, Any] = {}
    for p in spec.params:
        if p.active(values):
            values[p.name] = forced.get(p.name, p.first)
    return values
