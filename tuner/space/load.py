"""Loading a space file: YAML to a validated `SweepSpec`, or one `ConfigError` naming
the file, the line and the key, and what was expected (with the nearest valid name for
a typo). The checks, in order:

1. YAML (read as YAML 1.2 for numbers: `1e-4` is a number, not the text YAML 1.1 makes
   of it), then the parts whose JSON Schema messages would name no rule, in plain
   words: the shape of each `params` entry (one of float, int or choice: a `oneOf` to
   the schema), `budget.time`, and the sampler and pruner types (Optuna class names
   too, which no schema lists). Each entry becomes a `Param`, which checks its own
   values (bounds, log, step, distinct choices);
2. the whole file against the published `tuner/schemas/space.schema.json`: the
   structural rules are stated there once (the scheduler, every option's type and
   bounds, the name and duration patterns, which this module reads from it);
3. what needs more than one key: `when` references (unknown, itself, cycles, values the
   parameter can never take), a key both fixed and swept, grid with continuous or
   conditional params, missing extras (cmaes, gp), ASHA with an Optuna pruner;
4. against the objective (`tuner.space.probe`).

Nothing here imports TensorFlow, Ray, MLflow or (for the named sampler and pruner types)
Optuna; the Optuna translation is `tuner.search.distributions`.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any, Literal

from tuner.errors import ConfigError
from tuner.program.spec import ProgramSpec, check_placeholders, is_program
from tuner.program.spec import parse as parse_program
from tuner.space.model import (
    DIST_KEYS,
    EXTRAS,
    KINDS,
    PRUNERS,
    RESERVED,
    SAMPLERS,
    SINGLE_OBJECTIVE_SAMPLERS,
    Budget,
    Constraint,
    InvalidParam,
    Metric,
    Param,
    PrunerSpec,
    Resources,
    SamplerSpec,
    SchedulerSpec,
    SweepSpec,
    WarmStart,
    is_number,
)
from tuner.space.schema import parse_duration, space_schema
from tuner.space.yaml_file import (
    KeyPath,
    Located,
    also,
    check_finite,
    key_error,
    parse_yaml,
    read_text,
    suggest,
    validate,
)


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
    params = _precheck(located)
    validate(_short_choices(located), space_schema())
    spec = _build(located, text, params)
    if check_objective:
        from tuner.space.probe import check_objective as probe

        spec = probe(spec, located)
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


@cache
def _safe_name() -> re.Pattern[str]:
    """The schema's pattern of `name`, for the name a sweep takes from its file."""
    return re.compile(space_schema()["properties"]["name"]["pattern"])


# ---------------------------------------------------------------- step 1: plain checks


def _kind_of(value: Any) -> str:
    return {bool: "a boolean", str: "text", list: "a list", dict: "a mapping"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _precheck(located: Located) -> dict[str, Param]:
    """The plain checks, and the params they make (in file order)."""
    data = located.data
    budget = data.get("budget")
    if isinstance(budget, dict) and "time" in budget:
        parse_duration(budget["time"], located.where(("budget", "time")))
    if isinstance(data.get("sampler"), dict):
        _check_type(located, ("sampler",), SAMPLERS, "sampler")
    if isinstance(data.get("pruner"), dict):
        _check_pruner_types(located, ("pruner",))
    for section in ("fixed", "params"):
        if isinstance(data.get(section), dict) and RESERVED in data[section]:
            raise key_error(
                located,
                (section, RESERVED),
                "every trial trains budget.max_epochs epochs (pruned trials fewer)",
                hint="set budget.max_epochs instead",
            )
    params = data.get("params")
    if not isinstance(params, dict):
        return {}  # the schema says what params must be
    return {name: _check_distribution(located, name, dist) for name, dist in params.items()}


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
    raise key_error(located, (*key, "type"), f"unknown {what} '{kind}'", hint=hint)


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


def _check_distribution(located: Located, name: Any, dist: Any) -> Param:
    """The shape of one entry of `params` (what the schema's `oneOf` of float, int and
    choice would only call "not valid under any of the given schemas"), then the Param
    it makes, which checks its own values."""
    key: KeyPath = ("params", name)
    expected = "expected {float: [low, high]}, {int: [low, high]} or {choice: [a, b, ...]}"
    if not isinstance(name, str):
        raise key_error(located, key, f"a parameter name must be text, not {_kind_of(name)}")
    if not isinstance(dist, dict):
        raise key_error(
            located, key, f"{_kind_of(dist)} {dist!r} is not a distribution", hint=expected
        )
    for k in dist:
        if k not in DIST_KEYS:
            near = suggest(str(k), DIST_KEYS)
            hint = f"did you mean '{near}'?" if near else f"expected one of {list(DIST_KEYS)}"
            raise key_error(located, (*key, k), f"unknown key '{k}'", hint=hint)
    kinds = [k for k in KINDS if k in dist]
    if not kinds:
        raise key_error(located, key, "no distribution", hint=expected)
    if len(kinds) > 1:
        raise key_error(
            located,
            key,
            f"both {kinds[0]} and {kinds[1]}",
            hint="give exactly one of float, int, choice",
        )
    kind = kinds[0]
    log = dist.get("log", False)
    if not isinstance(log, bool):
        raise key_error(located, (*key, "log"), f"{log!r} is not true or false")
    when = dist.get("when", {})
    if not isinstance(when, dict) or ("when" in dist and not when):
        raise key_error(
            located,
            (*key, "when"),
            f"{_kind_of(when)} {when!r} is not a condition",
            hint="expected {param: value} or {param: [values]}",
        )
    conditions = {q: tuple(v) if isinstance(v, list) else (v,) for q, v in when.items()}
    try:
        if kind == "choice":
            return _choice(located, key, name, dist, conditions)
        bounds = dist[kind]
        if not isinstance(bounds, list) or len(bounds) != 2 or not all(map(is_number, bounds)):
            raise key_error(
                located,
                (*key, kind),
                f"{bounds!r} is not a range",
                hint="expected [low, high], two numbers",
            )
        low, high = bounds
        return Param(name, kind, low, high, log, dist.get("step"), when=conditions)
    except InvalidParam as exc:
        message = exc.message
        if exc.also:
            there, what = exc.also
            message += also(located, (*key, *exc.key), (*key, *there), what)
        raise key_error(located, (*key, *exc.key), message, exc.hint) from None


def _choice(
    located: Located,
    key: KeyPath,
    name: str,
    dist: dict[str, Any],
    when: dict[str, tuple[Any, ...]],
) -> Param:
    if "log" in dist or "step" in dist:
        bad = "log" if "log" in dist else "step"
        raise key_error(
            located, (*key, bad), f"'{bad}' applies to float and int ranges, not to a choice"
        )
    choices = dist["choice"]
    if not isinstance(choices, list):
        raise key_error(
            located,
            (*key, "choice"),
            f"{_kind_of(choices)} {choices!r} is not a list",
            hint="expected [a, b, ...]",
        )
    return Param(name, "choice", choices=tuple(choices), when=when)


# ---------------------------------------------------------------- step 3: the spec


def _build(located: Located, text: str, raw: dict[str, Param]) -> SweepSpec:
    data = located.data
    path = located.path
    name = data.get("name")
    if name is None:
        if path is None:
            raise ConfigError("key 'name' is required", where="space file")
        name = path.stem
        if not _safe_name().match(name):
            raise ConfigError(
                f"the file name '{name}' is not a safe sweep name",
                where=f"{path}:1",
                hint="add name: with letters, digits, '.', '_' or '-'",
            )
    params = _params(located, raw)
    fixed = dict(data.get("fixed") or {})
    dataset = data.get("dataset")
    for p in params:
        if p.name in fixed:
            line = located.lines.get(("fixed", p.name))
            raise key_error(
                located,
                ("params", p.name),
                f"also set in fixed (line {line})",
                hint="a key is either fixed or swept",
            )
        if p.name == "dataset" and dataset is not None:
            raise key_error(
                located,
                ("params", p.name),
                "also set at the top level (dataset:)",
                hint="a key is either fixed or swept",
            )
    if dataset is not None and "dataset" in fixed:
        raise key_error(
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
        raise key_error(
            located,
            ("resources", "gpu"),
            f"{gpu} GPUs: above 1 a trial takes whole GPUs",
            hint="expected a fraction ≤ 1 or a whole number",
        )
    workers = int(res.get("workers", 1))
    if workers > 1 and ("workers" in (data.get("fixed") or {}) or "workers" in raw):
        raise key_error(
            located,
            ("resources", "workers"),
            "workers is also a trial key in fixed or params",
            hint="give it once, as resources.workers",
        )
    resources = Resources(cpu=res.get("cpu", 1), gpu=gpu, workers=workers)

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
            raise key_error(
                located,
                ("pruner",),
                "scheduler asha stops trials itself",
                hint="leave out pruner (or set type: none) with scheduler: asha",
            )
        pruner = PrunerSpec("none")
        grace = scheduler.options.get("grace_period", 1)
        if grace > budget.max_epochs:
            raise key_error(
                located,
                ("scheduler", "grace_period"),
                f"{grace} is more than budget.max_epochs ({budget.max_epochs})",
            )
    elif scheduler.options:
        first = next(iter(scheduler.options))
        raise key_error(
            located,
            ("scheduler", first),
            "an asha option, but the scheduler is optuna",
            hint="the optuna scheduler takes its options from pruner:",
        )
    objectives = _objectives(located)
    if len(objectives) > 1:
        pruner = _multi_objective_search(located, pruner, scheduler, data)
    elif pruner.type == "pareto":
        raise key_error(
            located,
            ("pruner", "type"),
            "pareto compares trials on several objectives, and metric: names one",
            hint="use median (the default) with one metric, or list several under metrics:",
        )
    spec = SweepSpec(
        name=name,
        objective=_objective(located),
        metric=objectives[0],
        objectives=objectives if "metrics" in data else (),
        constraints=tuple(
            Constraint(c["metric"], max=c.get("max"), min=c.get("min"))
            for c in data.get("constraints") or ()
        ),
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
        warm_start=_warm_start(located, sampler),
        score=_score(located, objectives),
    )
    if is_program(spec.objective):
        check_placeholders(
            ProgramSpec.from_ref(spec.objective),
            set(spec.base_config()) | set(spec.param_names),
            located.where(("objective", "command")),
        )
    return spec


def _score(located: Located, objectives: tuple[Metric, ...]) -> Literal["best", "last"]:
    """`score:` (the schema checked its value): best by default with one metric; with
    several, a trial is scored by its last epoch (no epoch is best at a vector)."""
    given = located.data.get("score")
    if len(objectives) == 1:
        return "last" if given == "last" else "best"
    if given == "best":
        raise key_error(
            located,
            ("score",),
            "best picks the epoch best at one metric, and metrics: names several",
            hint="leave out score: (several metrics score a trial by its last epoch)",
        )
    return "last"


def _objective(located: Located) -> str:
    """The objective's reference: a name as written, or a program's (its `objective:`
    mapping checked: the program found, its pattern compiled; tuner/program/spec.py)."""
    written = located.data.get("objective", "tabular")
    if isinstance(written, str):
        return written
    folder = located.path.parent if located.path is not None else Path.cwd()
    return parse_program(written, folder.absolute(), located.where).ref


def _warm_start(located: Located, sampler: SamplerSpec) -> WarmStart | None:
    """`warm_start:` as a name, a list of names or {from, storage, top} (the schema
    checked the shapes). Not with the grid sampler: it tries every point anyway and
    reads no history."""
    given = located.data.get("warm_start")
    if given is None:
        return None
    if sampler.type == "grid":
        raise key_error(
            located,
            ("warm_start",),
            "the grid sampler tries every point of the grid and learns from no history",
            hint="leave out warm_start, or use a sampler that learns (tpe, gp, ...)",
        )
    section = given if isinstance(given, dict) else {"from": given}
    sources = section["from"]
    return WarmStart(
        sources=(sources,) if isinstance(sources, str) else tuple(sources),
        storage=section.get("storage"),
        top=int(section.get("top", 3)),
    )


def is_sweep_name(text: str) -> bool:
    """Whether `text` is a valid sweep name (the schema's pattern of `name`)."""
    return bool(_safe_name().match(text))


def _objectives(located: Located) -> tuple[Metric, ...]:
    """`metric:` (one objective) or `metrics:` (one or more), never both; each metric
    named once; a constraint's bounds in order."""
    data = located.data
    if "metric" in data and "metrics" in data:
        raise key_error(
            located, ("metrics",), "also given as metric:", hint="keep one: metric: or metrics:"
        )
    if "metric" not in data and "metrics" not in data:
        raise ConfigError(
            "'metric' is required",
            where=located.where(()),
            hint="add metric: {name: ..., goal: maximize|minimize} (or metrics: [...])",
        )
    entries = [data["metric"]] if "metric" in data else data["metrics"]
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        first = seen.setdefault(entry["name"], i)
        if first != i:
            here, there = ("metrics", i, "name"), ("metrics", first, "name")
            raise key_error(
                located,
                here,
                f"'{entry['name']}' is listed twice"
                + also(located, here, there, f"metrics entry {first}"),
                hint="each objective once",
            )
    for i, c in enumerate(data.get("constraints") or ()):
        low, high = c.get("min"), c.get("max")
        if low is not None and high is not None and low > high:
            raise key_error(
                located,
                ("constraints", i, "min"),
                f"min {low} > max {high}: no trial could be feasible",
                hint="expected min ≤ max",
            )
    return tuple(Metric(e["name"], e["goal"]) for e in entries)


def _multi_objective_search(
    located: Located,
    pruner: PrunerSpec,
    scheduler: SchedulerSpec,
    data: dict[str, Any],
) -> PrunerSpec:
    """What searches several objectives at once: the pareto pruner (the default) or none,
    not Ray's ASHA (it ranks by one metric); `_sampler` refused a sampler that cannot.
    Returns the pruner."""
    if scheduler.type == "asha":
        raise key_error(
            located,
            ("scheduler",),
            "Ray's ASHA stops trials by one metric, and metrics: names several",
            hint="leave out scheduler: (the pareto pruner stops dominated trials)",
        )
    given = data.get("pruner") or {}
    if "type" not in given:  # median is the default of one metric; pareto of several
        return PrunerSpec("pareto", dict(pruner.options))
    if pruner.type not in ("pareto", "none"):
        raise key_error(
            located,
            ("pruner", "type"),
            f"pruner '{pruner.type}' compares one metric (Optuna's pruners refuse"
            " multi-objective studies), and metrics: names several",
            hint="use pareto (the default with several metrics) or none",
        )
    return pruner


def _params(located: Located, raw: dict[str, Param]) -> tuple[Param, ...]:
    """The `when` conditions checked against the params they name; dependency order."""
    for p in raw.values():
        for q, values in p.when.items():
            key = ("params", p.name, "when", q)
            if q == p.name:
                raise key_error(located, key, "a parameter cannot depend on itself")
            if q not in raw:
                fixed = located.data.get("fixed") or {}
                if q in fixed:
                    hint = f"'{q}' is fixed, so the condition is always true or never: drop it"
                else:
                    near = suggest(str(q), list(raw))
                    hint = f"did you mean '{near}'?" if near else f"the params are {list(raw)}"
                raise key_error(located, key, f"'{q}' is not a parameter", hint=hint)
            target = raw[q]
            if not target.discrete:
                raise key_error(
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
                    raise key_error(
                        located, key, f"{v!r} is never a value of params.{q}", hint=hint
                    )

    # dependency order (Kahn's algorithm, file order among the ready ones); cycles refused
    order: list[Param] = []
    placed: set[str] = set()
    pending = list(raw.values())
    while pending:
        ready = [p for p in pending if all(q in placed for q in p.when)]
        if not ready:
            cycle = _cycle(pending)
            raise key_error(
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
    several = located.data.get("metrics")
    why = SINGLE_OBJECTIVE_SAMPLERS.get(class_name)
    if why is not None and isinstance(several, list) and len(several) > 1:
        raise key_error(  # (before asking for its package: installing it would not help)
            located,
            ("sampler", "type"),
            f"sampler '{kind}' optimizes one objective ({why}), and metrics: names {len(several)}",
            hint="use tpe, nsga2, nsga3, gp, random or qmc with several metrics",
        )
    if class_name in EXTRAS:
        module, extra = EXTRAS[class_name]
        if importlib.util.find_spec(module) is None:
            raise key_error(
                located,
                ("sampler", "type"),
                f"sampler '{kind}' needs the '{module}' package",
                hint=f'install it with: pip install -e ".[{extra}]"',
            )
    if kind == "grid":
        for p in params:
            if p.when:
                raise key_error(
                    located,
                    ("params", p.name, "when"),
                    "the grid sampler cannot take conditional params",
                    hint="drop the `when`, or use another sampler (e.g. tpe, random)",
                )
            if not p.discrete:
                raise key_error(
                    located,
                    ("params", p.name, "float"),
                    "the grid sampler cannot take a continuous float",
                    hint="give it a step, make it a choice, or use another sampler",
                )
    elif kind == "tpe" and options.get("group") and options.get("multivariate") is False:
        raise key_error(
            located,
            ("sampler", "group"),
            "group needs the multivariate TPE",
            hint="drop multivariate: false (or group: true)",
        )
    elif kind not in SAMPLERS or kind in ("nsga2", "nsga3"):  # their options: Optuna's
        _check_class_options(located, ("sampler",), "sampler", class_name, options, seed)
    return SamplerSpec(kind, seed, options)


def _pruner(located: Located, key: KeyPath, section: dict[str, Any], budget: Budget) -> PrunerSpec:
    kind = section.get("type", "median")
    options = {k: v for k, v in section.items() if k != "type"}
    if kind == "patient" and "wrapped" in options:
        options["wrapped"] = _pruner(located, (*key, "wrapped"), options["wrapped"], budget)
    elif kind == "threshold":
        lower, upper = options.get("lower"), options.get("upper")
        if lower is not None and upper is not None and lower >= upper:
            raise key_error(
                located,
                (*key, "lower"),
                f"lower {lower} ≥ upper {upper}",
                hint="expected lower < upper",
            )
    elif kind == "hyperband":
        top = options.get("max_resource", budget.max_epochs)
        if top > budget.max_epochs:
            raise key_error(
                located,
                (*key, "max_resource"),
                f"{top} is more than budget.max_epochs ({budget.max_epochs})",
            )
        if options.get("min_resource", 1) > top:
            raise key_error(
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
            raise key_error(
                located,
                (*key, option),
                f"optuna.{what}s.{name} has no argument '{option}'",
                hint=hint,
            )
    missing = [n for n, p in accepted.items() if p.default is p.empty and n not in given]
    if missing:
        raise key_error(
            located,
            key,
            f"optuna.{what}s.{name} needs '{missing[0]}'",
            hint=f"add {missing[0]}: to {what}:",
        )
