"""Step 4 of loading a space file: the spec against its objective, before any trial.

Param and fixed names (did you mean …?), the objective's config schema on several
sample configs (every choice — of a choice of more than PROBE_LIMIT values, its
representatives — and both ends of every range, each with the `when` conditions it
needs), the metric on each sample, and the objective's `prepare` on each (which checks
e.g. crosses against the data set). The checks grow with the number of params, not with
the number of values: a choice of 200,000 values is checked in well under a second.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from tuner.errors import ConfigError, DataError, TunerError
from tuner.space.model import RESERVED, Param, SweepSpec, assign, choice_key, same
from tuner.space.yaml_file import KeyPath, Located, key_error, validate
from tuner.text import suggest

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


def probes(p: Param) -> list[tuple[Any, str]]:
    """The values of `p` checked against the objective at load, with how to call each.

    Each probe is one trial config prepared by the objective (~1 ms), so they are
    bounded: every value of a choice of up to PROBE_LIMIT values, and of a longer
    choice only its representatives (`representatives`); both ends of a range."""
    if p.kind == "choice":
        n = len(p.choices)
        indices = range(n) if n <= PROBE_LIMIT else representatives(p.choices)
        return [(p.choices[i], f"choice {i + 1} of {n}") for i in indices]
    return [(p.low, "the low end of its range"), (p.top, "the high end of its range")]


def check_objective(spec: SweepSpec, located: Located) -> SweepSpec:
    from tuner.objective_loader import load_objective

    objective = load_objective(
        spec.objective, where=located.where(("objective",)), folder=spec.folder
    )
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
                    raise key_error(
                        located,
                        (section, k),
                        f"objective '{ref}' has no setting '{k}'",
                        hint=f"did you mean '{near}'?" if near else "see its config schema",
                    )
        if spec.dataset is not None and "dataset" not in props:
            raise key_error(located, ("dataset",), f"objective '{ref}' takes no dataset")
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
    for key, name in _named_metrics(spec, located):
        dotted = ".".join(map(str, key))
        for label, _key, config in samples:
            try:
                objective.check_metric(name, config, where=located.where(key))
            except ConfigError as exc:
                raise ConfigError(
                    f"key '{dotted}': {exc.message}{label}", where=exc.where, hint=exc.hint
                ) from None
    for label, key, config in samples[1:]:
        _prepare(objective, config, label, located.where(key), data_where)
    return spec


def _named_metrics(spec: SweepSpec, located: Located) -> list[tuple[KeyPath, str]]:
    """Every metric the file names, with its key: the objectives, then the constraints'."""
    named: list[tuple[KeyPath, str]]
    if "metrics" in located.data:
        named = [(("metrics", i, "name"), m.name) for i, m in enumerate(spec.metrics)]
    else:
        named = [(("metric", "name"), spec.metric.name)]
    named += [(("constraints", i, "metric"), c.metric) for i, c in enumerate(spec.constraints)]
    return named


def _check_enum(located: Located, p: Param, subschema: Any) -> None:
    """Every value of a long choice against the enum the objective's schema gives its
    key (one set lookup each): the probes see only representatives of such a choice."""
    if not isinstance(subschema, dict) or not isinstance(subschema.get("enum"), list):
        return
    allowed = {choice_key(v) for v in subschema["enum"]}
    for i, c in enumerate(p.choices):
        if choice_key(c) not in allowed:
            raise key_error(
                located,
                ("params", p.name, "choice", i),
                f"{c!r} is not one of {subschema['enum']}",
            )


def _label(p: Param, value: Any) -> str:
    for probe, what in probes(p):
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
        for value, _what in probes(p):
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
            raise key_error(
                located,
                ("params", p.name, "when"),
                f"can never be sampled: its conditions need two different values of '{q}'",
            )
        needs[q] = values[0]
    sampled = assign(spec, {**needs, p.name: p.first})
    if p.name not in sampled:
        raise key_error(
            located,
            ("params", p.name, "when"),
            "can never be sampled: its conditions contradict each other",
        )
    return needs
