"""Space files: every mistake is one ConfigError (exit 2) naming file:line and the key,
what was expected and the nearest valid name, before anything runs; the shipped files
load and match the published JSON Schema.

Nothing here imports TensorFlow, Ray or MLflow: the built-in data sets are materialized
schema-only (empty TFRecord shards) into a private cache; the pure-validation cases use
`toy`, an objective declared below.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import write
from tuner.errors import ConfigError
from tuner.space.load import load_spec, parse_spec
from tuner.space.schema import SCHEMA_FILE, parse_duration, space_schema
from tuner.trial import objective

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "search_spaces").glob("*.yaml"))
# the ones on a built-in data set (adult.yaml needs Adult converted: tests/tabular)
ON_BUILTINS = [p for p in SHIPPED if "dataset: data/" not in p.read_text()]
HEAVY = ("tensorflow", "keras", "ray", "mlflow")


# no test here may pull in TensorFlow, Ray or MLflow (the subprocess tests check the
# same in a fresh interpreter, where it cannot be masked)
pytestmark = pytest.mark.usefixtures("no_heavy_imports")


@pytest.fixture(scope="module")
def builtins(tmp_path_factory: pytest.TempPathFactory):
    """builtin:breast_cancer and builtin:census_synthetic with their real schemas in a
    private cache, TFRecord writing stubbed out (a space file's checks read only the
    schema), so no TensorFlow is imported. The cache stays set for this module."""
    import tuner.tabular.data.writer as writer

    cache = tmp_path_factory.mktemp("builtins-schema-only")
    saved_env, saved_write = os.environ.get("TUNER_CACHE_DIR"), writer.write_split

    def empty_shards(table, labels, label, directory, split, shards, compression):
        name = writer.shard_names(split, 1, compression)[0]
        (Path(directory) / name).touch()
        return [name], [table.rows]

    os.environ["TUNER_CACHE_DIR"] = str(cache)
    writer.write_split = empty_shards
    try:
        from tuner.tabular.data.builtin import resolve

        resolve("builtin:breast_cancer")
        resolve("builtin:census_synthetic")
    finally:
        writer.write_split = saved_write
    yield cache
    if saved_env is None:
        os.environ.pop("TUNER_CACHE_DIR", None)
    else:
        os.environ["TUNER_CACHE_DIR"] = saved_env


# ------------------------------------------------------------------ a toy objective

TOY_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["dataset"],
    "properties": {
        "dataset": {"type": "string"},
        "epochs": {"type": "integer", "minimum": 1},
        "batch_size": {"type": "integer", "minimum": 1},
        "optimizer": {"enum": ["sgd", "adam", "rmsprop"]},
        "learning_rate": {"type": "number", "exclusiveMinimum": 0},
        "momentum": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
        "nesterov": {"type": "boolean"},
        "width": {"type": "integer", "minimum": 1},
        "depth": {"type": "integer", "minimum": 1},
        "hidden_units": {"type": "array", "items": {"type": "integer", "minimum": 1}},
        "activation": {"enum": ["relu", "tanh"]},
    },
}


def toy_prepare(config: dict[str, Any]) -> dict[str, Any]:
    if "momentum" in config and config.get("optimizer") != "sgd":
        raise ConfigError(f"momentum needs sgd, not {config.get('optimizer')}")
    if config.get("width") == 7:
        raise ConfigError("width 7 is unlucky", hint="expected any other width")
    return config


def toy_metrics(config: dict[str, Any]) -> list[str]:
    return ["val_loss", "val_auc"] + (["momentum_now"] if config.get("optimizer") == "sgd" else [])


@objective(metrics=toy_metrics, config_schema=TOY_SCHEMA, prepare=toy_prepare)
def toy(config, report, trial_dir):  # pragma: no cover - never trained here
    report(1, {"val_loss": 0.0, "val_auc": 1.0})


HEAD = """\
name: toy
objective: tests.space.test_load:toy
dataset: toy-data
metric: {name: val_loss, goal: minimize}
budget: {trials: 4, max_epochs: 3}
"""
PARAMS = """\
params:
  optimizer: {choice: [adam, sgd]}
  learning_rate: {float: [1.0e-4, 1.0e-1], log: true}
  momentum: {float: [0.0, 0.9], when: {optimizer: sgd}}
"""


def mark(text: str, start: str) -> str:
    """Mark (`# <-`) the first line that starts with `start`."""
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith(start))
    lines[i] += "  # <-"
    return "\n".join(lines) + "\n"


def load(tmp_path: Path, text: str, name: str = "space.yaml", **kw: Any):
    return load_spec(write(tmp_path / name, text), **kw)


def refused(tmp_path: Path, text: str, *fragments: str, name: str = "space.yaml") -> str:
    """The one-line message for a file that must be refused. The line marked `# <-`
    must be the one the message names (file:line:)."""
    path = write(tmp_path / name, text)
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    message = str(info.value)
    assert info.value.exit_code == 2
    assert "\n" not in message, message
    marked = [i + 1 for i, line in enumerate(text.splitlines()) if "# <-" in line]
    if marked:
        assert message.startswith(f"{path}:{marked[0]}: "), message
    for fragment in fragments:
        assert fragment in message, message
    return message


# ------------------------------------------------------------------ shipped files


def test_the_schema_is_valid_draft_2020_12_with_descriptions():
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{name} has no description"
    for name in ("float", "int", "choice", "log", "step", "when"):
        assert schema["$defs"]["distribution"]["properties"][name].get("description") or name in (
            "when",
        )


def test_shipped_files_are_there():
    names = {p.name for p in SHIPPED}
    assert {"optimizers.yaml", "architecture.yaml", "wide_and_deep.yaml", "tiny.yaml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_file_matches_the_published_schema(path: Path):
    jsonschema.Draft202012Validator(space_schema()).validate(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize("path", ON_BUILTINS, ids=lambda p: p.name)
def test_shipped_file_loads(path: Path, builtins):
    spec = load_spec(path)
    assert spec.name == path.stem
    assert spec.source == path.read_text()
    assert spec.path == path.absolute()
    assert spec.params and spec.budget.trials >= 1


def test_optimizers_yaml(builtins):
    spec = load_spec(ROOT / "search_spaces" / "optimizers.yaml")
    assert spec.param("optimizer").choices == (
        "sgd",
        "adadelta",
        "adagrad",
        "adam",
        "ftrl",
        "rmsprop",
    )
    assert spec.param("momentum").when == {"optimizer": ("sgd",)}
    lr = spec.param("learning_rate")
    assert (lr.kind, lr.log) == ("float", True)
    assert spec.param("depth").kind == "int"
    assert spec.fixed["model"] == "dnn" and spec.dataset == "builtin:census_synthetic"
    assert (spec.metric.name, spec.metric.goal) == ("val_auc", "maximize")
    assert spec.concurrency == 2 and spec.budget.time == 1800
    assert spec.base_config()["epochs"] == spec.budget.max_epochs


def test_tiny_yaml(builtins):
    spec = load_spec(ROOT / "search_spaces" / "tiny.yaml")
    assert (spec.budget.trials, spec.budget.max_epochs) == (4, 2)
    assert spec.dataset == "builtin:breast_cancer"


def test_wide_and_deep_yaml_has_lists_of_crosses(builtins):
    spec = load_spec(ROOT / "search_spaces" / "wide_and_deep.yaml")
    crosses = spec.param("crosses")
    assert all(isinstance(c, list) for c in crosses.choices)
    assert ["education x occupation"] in crosses.choices
    assert {"optimizer", "wide_optimizer", "embedding_dim"} <= set(spec.param_names)
    assert spec.fixed["model"] == "wide_deep"


# ------------------------------------------------------------------ a good toy file


def test_toy_file_loads(tmp_path: Path):
    spec = load(tmp_path, HEAD + "fixed: {batch_size: 32}\n" + PARAMS)
    assert spec.objective == "tests.space.test_load:toy"
    assert spec.param_names == ("optimizer", "learning_rate", "momentum")
    assert spec.base_config() == {"batch_size": 32, "dataset": "toy-data", "epochs": 3}
    assert (spec.sampler.type, spec.pruner.type, spec.scheduler.type) == ("tpe", "median", "optuna")
    assert spec.concurrency == 1 and (spec.resources.cpu, spec.resources.gpu) == (1, 0)
    assert spec.budget.time is None and spec.budget.max_failures is None


def test_conditional_probes_get_the_values_their_when_needs(tmp_path: Path):
    # toy_prepare refuses momentum without sgd: the base sample (adam) has no momentum,
    # and momentum's own samples are checked with optimizer = sgd
    spec = load(tmp_path, HEAD + PARAMS)
    assert spec.param("momentum").when == {"optimizer": ("sgd",)}


def test_params_are_in_dependency_order(tmp_path: Path):
    text = HEAD + textwrap.dedent("""\
        params:
          nesterov: {choice: [true, false], when: {momentum: [0.5]}}
          momentum: {choice: [0.0, 0.5], when: {optimizer: sgd}}
          optimizer: {choice: [adam, sgd]}
        """)
    assert load(tmp_path, text).param_names == ("optimizer", "momentum", "nesterov")


def test_yaml_1_2_numbers(tmp_path: Path):
    text = HEAD + "params:\n  learning_rate: {float: [1e-4, 1E-1], log: true}\n"
    lr = load(tmp_path, text).param("learning_rate")
    assert (lr.low, lr.high) == (1e-4, 0.1)


def test_name_defaults_to_the_file_name(tmp_path: Path):
    text = HEAD.replace("name: toy\n", "") + PARAMS
    assert load(tmp_path, text, name="my-sweep.yaml").name == "my-sweep"
    refused(tmp_path, text, "not a safe sweep name", name="my sweep.yaml")


def test_overrides(tmp_path: Path):
    spec = load(tmp_path, HEAD + PARAMS, trials=9, concurrency=3)
    assert (spec.budget.trials, spec.concurrency) == (9, 3)
    again = spec.with_overrides(trials=2)
    assert (again.budget.trials, again.concurrency, spec.budget.trials) == (2, 3, 9)
    assert spec.with_overrides() is spec
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="--trials"):
            spec.with_overrides(trials=bad)
    with pytest.raises(ConfigError, match="--concurrency 0: expected a whole number ≥ 1"):
        spec.with_overrides(concurrency=0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("2h", 7200),
        ("1h30m", 5400),
        ("1.5h", 5400),
        ("2d", 172800),
        ("1h 30m 15s", 5415),
    ],
)
def test_parse_duration(text: str, seconds: float):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["30 minutes", "", "m", "0s", "1m1h", "-5m", "5"])
def test_parse_duration_refuses(text: str):
    with pytest.raises(ConfigError, match=r"key .budget.time.*(expected e.g. 90s|no time at all)"):
        parse_duration(text)


def test_budget_time_in_a_file(tmp_path: Path):
    text = HEAD.replace("max_epochs: 3}", "max_epochs: 3,\n  time: 1h30m}") + PARAMS
    assert load(tmp_path, text).budget.time == 5400
    bad = HEAD.replace("max_epochs: 3}", "max_epochs: 3,\n  time: half an hour}  # <-") + PARAMS
    refused(tmp_path, bad, "key 'budget.time'", "'half an hour' is not a duration", "30m")
    bad = HEAD.replace("max_epochs: 3}", "max_epochs: 3,\n  time: 30}  # <-") + PARAMS
    refused(tmp_path, bad, "key 'budget.time'", "30 is not a duration")


def test_parse_spec_from_text_without_the_objective():
    spec = parse_spec(
        HEAD.replace("tests.space.test_load:toy", "nowhere:nothing") + PARAMS, check_objective=False
    )
    assert spec.path is None and spec.objective == "nowhere:nothing"


def test_bad_files_are_refused_fast_without_heavy_imports(tmp_path: Path):
    path = write(
        tmp_path / "bad.yaml",
        HEAD.replace("tests.space.test_load:toy", "tabular")
        + "params:\n  learnig_rate: {float: [0.001, 0.1]}\n",
    )
    code = textwrap.dedent(f"""
        import sys, time
        from tuner.errors import ConfigError
        from tuner.space.load import load_spec
        start = time.process_time()  # (CPU: a loaded machine does not inflate it)
        try:
            load_spec({str(path)!r})
        except ConfigError as exc:
            print(exc)
        print(round(time.process_time() - start, 3))
        print([m for m in ("tensorflow", "ray", "mlflow", "optuna") if m in sys.modules])
    """)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.splitlines()
    assert "did you mean 'learning_rate'?" in out[0]
    assert out[2] == "[]"
    assert float(out[1]) < 1.0, out


# ------------------------------------------------------------------ refused files


def test_not_yaml(tmp_path: Path):
    refused(tmp_path, HEAD + "params: {a: [1, 2}\n", "not valid YAML")


def test_no_such_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="no such file"):
        load_spec(tmp_path / "nope.yaml")


def test_unknown_top_level_key(tmp_path: Path):
    text = HEAD + "sampeler: {type: tpe}  # <-\n" + PARAMS
    refused(tmp_path, text, "unknown key 'sampeler'", "did you mean 'sampler'?")


def test_missing_metric(tmp_path: Path):
    text = HEAD.replace("metric: {name: val_loss, goal: minimize}\n", "") + PARAMS
    refused(tmp_path, text, "'metric' is required")


def test_bad_goal(tmp_path: Path):
    text = HEAD.replace("goal: minimize}", "goal: minimise}  # <-") + PARAMS
    refused(tmp_path, text, "key 'metric.goal'", "did you mean 'minimize'?")


def test_unknown_param_name_suggests_the_nearest_setting(tmp_path: Path):
    text = HEAD + "params:\n  learnig_rate: {float: [0.001, 0.1]}  # <-\n"
    refused(
        tmp_path,
        text,
        "key 'params.learnig_rate'",
        "has no setting 'learnig_rate'",
        "did you mean 'learning_rate'?",
    )


def test_unknown_param_name_tabular(tmp_path: Path, builtins):
    text = textwrap.dedent("""\
        name: t
        dataset: builtin:breast_cancer
        metric: {name: val_auc, goal: maximize}
        budget: {trials: 2, max_epochs: 2}
        params:
          learnig_rate: {float: [0.001, 0.1], log: true}  # <-
        """)
    refused(
        tmp_path,
        text,
        "key 'params.learnig_rate'",
        "objective 'tabular'",
        "did you mean 'learning_rate'?",
    )


def test_unknown_fixed_key(tmp_path: Path):
    text = HEAD + "fixed: {batch_sise: 3}  # <-\n" + PARAMS
    refused(tmp_path, text, "key 'fixed.batch_sise'", "did you mean 'batch_size'?")


@pytest.mark.parametrize(
    ("dist", "fragments"),
    [
        (
            "{float: [0.1, 0.01]}",
            ["key 'params.learning_rate.float'", "low 0.1 ≥ high 0.01", "low < high"],
        ),
        ("{float: [0.1, 0.1]}", ["low 0.1 ≥ high 0.1"]),
        ("{int: [8, 2]}", ["key 'params.learning_rate.int'", "low 8 ≥ high 2"]),
        ("{float: [0.0, 0.1], log: true}", ["a log scale needs low > 0, not 0.0"]),
        ("{float: [-1, 0.1], log: true}", ["a log scale needs low > 0, not -1"]),
        ("{float: [0.1]}", ["is not a range", "expected [low, high]"]),
        ("{int: [1.5, 4]}", ["are not whole numbers"]),
        (
            "{choice: []}",
            ["key 'params.learning_rate.choice'", "an empty choice", "at least one value"],
        ),
        ("{choice: 0.1}", ["is not a list"]),
        ("{choice: [0.1, 0.1]}", ["0.1 is listed twice"]),
        ("{choice: [{a: 1}]}", ["a choice cannot be a mapping"]),
        ("{choice: [0.1], log: true}", ["'log' applies to float and int ranges"]),
        ("{flaot: [0.1, 0.2]}", ["unknown key 'flaot'", "did you mean 'float'?"]),
        ("{float: [0.1, 0.2], int: [1, 2]}", ["both float and int"]),
        ("{log: true}", ["no distribution", "{float: [low, high]}"]),
        ("0.1", ["is not a distribution"]),
        ("{float: [0.01, 0.1], log: true, step: 0.01}", ["step cannot be combined with log"]),
        ("{int: [1, 9], step: 0.5}", ["0.5 is not a whole number"]),
        ("{float: [0.0, 0.1], step: 0.5}", ["wider than the range"]),
        ("{float: [0.0, 0.1], step: 0}", ["0 is not a positive number"]),
        ("{float: [0.01, 0.1], log: 1}", ["is not true or false"]),
    ],
)
def test_bad_distribution(tmp_path: Path, dist: str, fragments: list[str]):
    text = HEAD + f"params:\n  learning_rate: {dist}  # <-\n"
    refused(tmp_path, text, *fragments)


def test_a_choice_listed_twice_names_both_positions_as_the_key_path_counts(tmp_path: Path):
    """Issue 25: `choice.1: 8 is listed twice (also as choice 1)` named the first
    position counted from 1 beside a key path counted from 0."""
    flow = HEAD + "params:\n  width: {choice: [4, 8, 8]}  # <-\n"
    refused(tmp_path, flow, "key 'params.width.choice.2': 8 is listed twice (also choice 1)")
    block = HEAD + "params:\n  width:\n    choice:\n      - 8\n      - 4\n      - 8  # <-\n"
    message = refused(tmp_path, block, "key 'params.width.choice.2'")
    assert "8 is listed twice (also choice 0, line 9)" in message, message


def test_a_sweep_listed_twice_to_warm_start_from_names_both_positions(tmp_path: Path):
    text = HEAD + "warm_start:\n  from:\n    - a\n    - b\n    - a  # <-\n" + PARAMS
    refused(tmp_path, text, "key 'warm_start.from.2': 'a' is listed twice (also entry 0, line 8)")
    text = HEAD + "warm_start: [a, a]  # <-\n" + PARAMS
    refused(tmp_path, text, "key 'warm_start.1': 'a' is listed twice (also entry 0)")


@pytest.mark.parametrize(
    "dist",
    [
        "{choice: []}",
        "{flaot: [0.1, 0.2]}",
        "{float: [0.1, 0.2], int: [1, 2]}",
        "{log: true}",
        "{choice: [1], step: 1}",
        "{int: [1, 9], step: 0.5}",
        "{float: [0.1]}",
    ],
)
def test_the_published_schema_refuses_bad_distributions_too(dist: str):
    data = yaml.safe_load(HEAD + f"params:\n  x: {dist}\n")
    assert not jsonschema.Draft202012Validator(space_schema()).is_valid(data)


def test_when_on_an_unknown_param(tmp_path: Path):
    text = HEAD + textwrap.dedent("""\
        params:
          optimizer: {choice: [adam, sgd]}
          momentum: {float: [0.0, 0.9], when: {optimzer: sgd}}  # <-
        """)
    refused(
        tmp_path,
        text,
        "key 'params.momentum.when.optimzer'",
        "'optimzer' is not a parameter",
        "did you mean 'optimizer'?",
    )


def test_when_on_a_fixed_key(tmp_path: Path):
    text = (
        HEAD
        + "fixed: {optimizer: sgd}\n"
        + textwrap.dedent("""\
        params:
          momentum: {float: [0.0, 0.9], when: {optimizer: sgd}}  # <-
        """)
    )
    refused(tmp_path, text, "'optimizer' is not a parameter", "is fixed")


def test_when_on_itself(tmp_path: Path):
    text = HEAD + "params:\n  width: {int: [1, 4], when: {width: 2}}  # <-\n"
    refused(tmp_path, text, "key 'params.width.when.width'", "cannot depend on itself")


def test_when_cycle(tmp_path: Path):
    text = HEAD + textwrap.dedent("""\
        params:
          width: {int: [1, 4], when: {depth: 2}}  # <-
          depth: {int: [1, 4], when: {width: 2}}
          optimizer: {choice: [adam, sgd]}
        """)
    refused(tmp_path, text, "key 'params.width.when'", "cycle: width → depth → width")


@pytest.mark.parametrize(
    ("when", "fragments"),
    [
        ("{optimizer: sdg}", ["'sdg' is never a value of params.optimizer", "did you mean 'sgd'?"]),
        (
            "{optimizer: [sgd, xyz]}",
            ["'xyz' is never a value of params.optimizer", "one of ['adam', 'sgd']"],
        ),
        ("{depth: 9}", ["9 is never a value of params.depth", "ints in [1, 4]"]),
        ("{depth: true}", ["True is never a value of params.depth"]),
        ("{depth: []}", ["an empty list of values"]),
        ("{learning_rate: 0.01}", ["continuous float", "make learning_rate a choice"]),
    ],
)
def test_when_value_the_param_never_takes(tmp_path: Path, when: str, fragments: list[str]):
    text = HEAD + textwrap.dedent(f"""\
        params:
          optimizer: {{choice: [adam, sgd]}}
          depth: {{int: [1, 4]}}
          learning_rate: {{float: [0.001, 0.1]}}
          momentum: {{float: [0.0, 0.9], when: {when}}}  # <-
        """)
    refused(tmp_path, text, *fragments)


def test_when_conditions_that_contradict(tmp_path: Path):
    text = HEAD + textwrap.dedent("""\
        params:
          optimizer: {choice: [adam, sgd]}
          momentum: {choice: [0.0, 0.5], when: {optimizer: sgd}}
          nesterov: {choice: [true, false], when: {momentum: 0.5, optimizer: adam}}  # <-
        """)
    refused(tmp_path, text, "key 'params.nesterov.when'", "can never be sampled")


def test_unknown_sampler(tmp_path: Path):
    text = HEAD + "sampler: {type: tpee}  # <-\n" + PARAMS
    refused(tmp_path, text, "key 'sampler.type'", "unknown sampler 'tpee'", "did you mean 'tpe'?")


def test_unknown_sampler_class(tmp_path: Path):
    text = HEAD + "sampler: {type: NSGAIISampeler}  # <-\n" + PARAMS
    refused(tmp_path, text, "unknown sampler 'NSGAIISampeler'", "did you mean 'NSGAIISampler'?")


def test_unknown_sampler_option(tmp_path: Path):
    text = HEAD + "sampler: {type: tpe, n_startup: 3}  # <-\n" + PARAMS
    refused(tmp_path, text, "unknown key 'n_startup'", "did you mean 'n_startup_trials'?")


def test_tpe_group_needs_multivariate(tmp_path: Path):
    text = HEAD + "sampler: {type: tpe, group: true, multivariate: false}  # <-\n" + PARAMS
    refused(tmp_path, text, "key 'sampler.group'", "group needs the multivariate TPE")


def test_sampler_by_class_name(tmp_path: Path):
    text = HEAD + "sampler: {type: NSGAIISampler, seed: 3, population_size: 8}\n" + PARAMS
    spec = load(tmp_path, text)
    assert (spec.sampler.type, spec.sampler.seed, spec.sampler.options) == (
        "NSGAIISampler",
        3,
        {"population_size": 8},
    )
    text = HEAD + "sampler: {type: BruteForceSampler}\n" + PARAMS
    assert load(tmp_path, text).sampler.class_name == "BruteForceSampler"


def test_sampler_class_with_a_bad_argument(tmp_path: Path):
    text = HEAD + "sampler: {type: NSGAIISampler, populaton_size: 8}  # <-\n" + PARAMS
    refused(
        tmp_path,
        text,
        "key 'sampler.populaton_size'",
        "no argument 'populaton_size'",
        "did you mean 'population_size'?",
    )


def test_abstract_sampler_class_is_unknown(tmp_path: Path):
    refused(tmp_path, HEAD + "sampler: {type: BaseSampler}  # <-\n" + PARAMS, "unknown sampler")


def test_unknown_pruner(tmp_path: Path):
    text = HEAD + "pruner: {type: medain, warmup_epochs: 2}  # <-\n" + PARAMS
    refused(
        tmp_path, text, "key 'pruner.type'", "unknown pruner 'medain'", "did you mean 'median'?"
    )


def test_unknown_wrapped_pruner(tmp_path: Path):
    text = HEAD + "pruner:\n  type: patient\n  patience: 2\n  wrapped: {type: hyperbnd}  # <-\n"
    refused(tmp_path, text + PARAMS, "key 'pruner.wrapped.type'", "did you mean 'hyperband'?")


def test_pruner_option_of_another_pruner(tmp_path: Path):
    text = HEAD + "pruner: {type: median, warmup_epoch: 2}  # <-\n" + PARAMS
    refused(tmp_path, text, "unknown key 'warmup_epoch'", "did you mean 'warmup_epochs'?")


def test_percentile_needs_its_percentile(tmp_path: Path):
    text = HEAD + "pruner: {type: percentile}  # <-\n" + PARAMS
    refused(tmp_path, text, "pruner 'percentile' needs option 'percentile' (a number in [0, 100])")


def test_missing_options_name_their_key_path(tmp_path: Path):
    """JSON Schema's "'x' is required" names the word, not the key path or the option."""
    text = HEAD + "pruner: {type: threshold}  # <-\n" + PARAMS
    refused(tmp_path, text, "pruner 'threshold' needs option 'lower' or 'upper'")
    text = HEAD + "pruner: {type: patient, patience: 1, wrapped: {type: percentile}}  # <-\n"
    refused(tmp_path, text + PARAMS, "pruner 'percentile' needs option 'percentile'")
    text = HEAD.replace("{name: val_loss, goal: minimize}", "{name: val_loss}  # <-") + PARAMS
    refused(tmp_path, text, "key 'metric.goal' is required (one of ['maximize', 'minimize'])")


def test_pruner_class_needs_its_arguments(tmp_path: Path):
    text = HEAD + "pruner: {type: PercentilePruner, n_warmup_steps: 2}  # <-\n" + PARAMS
    refused(tmp_path, text, "optuna.pruners.PercentilePruner needs 'percentile'")
    text = HEAD + "pruner: {type: PercentilePruner, percentile: 25.0, n_warmup_steps: 2}\n"
    spec = load(tmp_path, text + PARAMS)
    assert spec.pruner.options == {"percentile": 25.0, "n_warmup_steps": 2}


def test_pruner_checks(tmp_path: Path):
    text = HEAD + "pruner: {type: threshold, lower: 0.9, upper: 0.1}  # <-\n" + PARAMS
    refused(tmp_path, text, "lower 0.9 ≥ upper 0.1")
    text = HEAD + "pruner: {type: hyperband, max_resource: 9}  # <-\n" + PARAMS
    refused(tmp_path, text, "9 is more than budget.max_epochs (3)")
    text = HEAD + "pruner: {type: threshold}  # <-\n" + PARAMS
    refused(tmp_path, text, "pruner 'threshold' needs option 'lower' or 'upper'")


def test_grid_refuses_continuous_and_conditional_params(tmp_path: Path):
    text = HEAD + "sampler: {type: grid}\n" + PARAMS.replace("log: true}", "log: true}  # <-")
    refused(
        tmp_path,
        text,
        "key 'params.learning_rate.float'",
        "the grid sampler cannot take a continuous float",
        "give it a step",
    )
    text = (
        HEAD
        + "sampler: {type: grid}\n"
        + textwrap.dedent("""\
        params:
          optimizer: {choice: [adam, sgd]}
          momentum: {choice: [0.0, 0.9], when: {optimizer: sgd}}  # <-
        """)
    )
    refused(tmp_path, text, "the grid sampler cannot take conditional params")
    text = (
        HEAD
        + "sampler: {type: grid}\n"
        + textwrap.dedent("""\
        params:
          optimizer: {choice: [adam, sgd]}
          learning_rate: {float: [0.1, 0.9], step: 0.3}
          width: {int: [1, 4]}
        """)
    )
    assert load(tmp_path, text).sampler.type == "grid"


@pytest.mark.parametrize(
    ("kind", "module", "extra"),
    [("cmaes", "cmaes", "cmaes"), ("gp", "torch", "gp"), ("GPSampler", "torch", "gp")],
)
def test_samplers_that_need_an_extra(tmp_path: Path, monkeypatch, kind, module, extra):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a)
    )
    text = HEAD + f"sampler: {{type: {kind}}}  # <-\n" + PARAMS
    refused(tmp_path, text, f"needs the '{module}' package", f'pip install -e ".[{extra}]"')
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == module else real(name, *a)
    )
    assert load(tmp_path, text).sampler.type == kind


def test_metric_never_reported(tmp_path: Path):
    text = mark(HEAD.replace("name: val_loss", "name: val_los") + PARAMS, "metric:")
    message = refused(
        tmp_path,
        text,
        "key 'metric.name'",
        "metric 'val_los' is never reported",
        "did you mean 'val_loss'?",
    )
    assert message.startswith(f"{tmp_path / 'space.yaml'}:4: ")


def test_metric_reported_only_for_some_samples(tmp_path: Path):
    text = HEAD.replace("name: val_loss", "name: momentum_now") + PARAMS
    refused(tmp_path, text, "metric 'momentum_now' is never reported")


def test_metric_never_reported_tabular(tmp_path: Path, builtins):
    text = textwrap.dedent("""\
        dataset: builtin:breast_cancer
        metric: {name: val_rmse, goal: minimize}  # <-
        budget: {trials: 2, max_epochs: 2}
        params:
          learning_rate: {float: [0.001, 0.1], log: true}
        """)
    refused(tmp_path, text, "metric 'val_rmse' is never reported by objective 'tabular'")


def test_param_also_fixed(tmp_path: Path):
    text = HEAD + "fixed: {optimizer: adam}\n" + PARAMS.replace("adam, sgd]}", "adam, sgd]}  # <-")
    refused(tmp_path, text, "key 'params.optimizer'", "also set in fixed (line 6)")


def test_dataset_twice(tmp_path: Path):
    text = HEAD + "fixed: {dataset: other}  # <-\n" + PARAMS
    refused(tmp_path, text, "key 'fixed.dataset'", "also set at the top level")


def test_dataset_missing(tmp_path: Path):
    refused(
        tmp_path,
        HEAD.replace("dataset: toy-data\n", "") + PARAMS,
        "objective 'tests.space.test_load:toy' needs 'dataset'",
        "add dataset:",
    )


def test_epochs_is_the_budget(tmp_path: Path):
    text = HEAD + "fixed: {epochs: 5}  # <-\n" + PARAMS
    refused(tmp_path, text, "key 'fixed.epochs'", "budget.max_epochs")


def test_objective_refuses_a_choice(tmp_path: Path):
    text = HEAD + "params:\n  optimizer: {choice: [adam, nadam]}  # <-\n"
    refused(
        tmp_path,
        text,
        "key 'params.optimizer'",
        "'nadam' is not one of",
        "with optimizer = 'nadam': choice 2 of 2",
    )


def test_objective_refuses_the_high_end_of_a_range(tmp_path: Path):
    text = HEAD + "params:\n  momentum: {float: [0.0, 1.0]}  # <-\n"
    refused(tmp_path, text, "key 'params.momentum'", "1.0", "the high end of its range")


def test_objective_refuses_a_list_choice(tmp_path: Path):
    text = HEAD + "params:\n  hidden_units: {choice: [[64, 32], [8, 0]]}  # <-\n"
    refused(tmp_path, text, "key 'params.hidden_units.1'", "minimum of 1", "[8, 0]")


def test_objective_refuses_a_fixed_value(tmp_path: Path):
    text = HEAD + "fixed: {batch_size: 0}  # <-\n" + PARAMS
    refused(tmp_path, text, "key 'fixed.batch_size'", "minimum of 1")


def test_width_zero_is_refused_by_tabular(tmp_path: Path, builtins):
    text = textwrap.dedent("""\
        dataset: builtin:breast_cancer
        metric: {name: val_auc, goal: maximize}
        budget: {trials: 2, max_epochs: 2}
        fixed: {depth: 2}
        params:
          width: {int: [0, 8]}  # <-
        """)
    refused(tmp_path, text, "key 'params.width'", "minimum of 1", "with width = 0")


def test_prepare_is_run_on_the_samples(tmp_path: Path):
    text = HEAD + "params:\n  width: {int: [1, 7]}  # <-\n"
    refused(tmp_path, text, "width 7 is unlucky", "with width = 7: the high end", "any other width")
    text = HEAD + "params:\n  width: {int: [1, 7], step: 2}\n"
    with pytest.raises(ConfigError, match="unlucky"):
        load(tmp_path, text)  # 1, 3, 5, 7: the top is 7
    text = HEAD + "params:\n  width: {int: [2, 9], step: 3}\n"
    assert load(tmp_path, text).param("width").top == 8  # 2, 5, 8


def test_prepare_checks_crosses_against_the_data_set(tmp_path: Path, builtins):
    text = textwrap.dedent("""\
        dataset: builtin:census_synthetic
        metric: {name: val_auc, goal: maximize}
        budget: {trials: 2, max_epochs: 2}
        fixed: {model: wide_deep}
        params:
          crosses:  # <-
            choice:
              - [education x occupation]
              - [education x occupaton]
        """)
    refused(tmp_path, text, "'occupaton'", "did you mean 'occupation'?", "crosses")


def test_unknown_data_set(tmp_path: Path, builtins):
    text = textwrap.dedent("""\
        dataset: builtin:breast_cancr  # <-
        metric: {name: val_auc, goal: maximize}
        budget: {trials: 2, max_epochs: 2}
        params:
          learning_rate: {float: [0.001, 0.1], log: true}
        """)
    refused(tmp_path, text, "unknown built-in data set 'breast_cancr'")


def test_scheduler(tmp_path: Path):
    assert load(tmp_path, HEAD + "scheduler: asha\n" + PARAMS).pruner.type == "none"
    text = HEAD + "scheduler: {type: asha, grace_period: 2, reduction_factor: 3}\n" + PARAMS
    spec = load(tmp_path, text)
    assert spec.scheduler.options == {"grace_period": 2, "reduction_factor": 3}
    refused(
        tmp_path,
        HEAD + "scheduler: ashaa  # <-\n" + PARAMS,
        "key 'scheduler'",
        "did you mean 'asha'?",
    )
    refused(
        tmp_path,
        HEAD + "scheduler: {type: asha, grace_perod: 2}  # <-\n" + PARAMS,
        "did you mean 'grace_period'?",
    )
    refused(
        tmp_path,
        HEAD + "scheduler: asha\npruner: {type: median}  # <-\n" + PARAMS,
        "scheduler asha stops trials itself",
    )
    refused(
        tmp_path,
        HEAD + "scheduler: {type: asha, grace_period: 9}  # <-\n" + PARAMS,
        "more than budget.max_epochs",
    )


def test_fractional_gpus(tmp_path: Path):
    assert load(tmp_path, HEAD + "resources: {gpu: 0.25}\n" + PARAMS).resources.gpu == 0.25
    assert load(tmp_path, HEAD + "resources: {gpu: 2}\n" + PARAMS).resources.gpu == 2
    refused(
        tmp_path, HEAD + "resources: {gpu: 1.5}  # <-\n" + PARAMS, "above 1 a trial takes whole"
    )
    refused(tmp_path, HEAD + "resources: {gpu: -1}  # <-\n" + PARAMS, "key 'resources.gpu'")


def test_bad_budget(tmp_path: Path):
    text = mark(HEAD.replace("trials: 4", "trials: 0") + PARAMS, "budget:")
    refused(tmp_path, text, "key 'budget.trials'", "minimum of 1")


def test_relative_data_set_directory_is_made_absolute(tmp_path: Path, monkeypatch):
    (tmp_path / "ds").mkdir()
    monkeypatch.chdir(tmp_path)
    spec = load(tmp_path, HEAD.replace("toy-data", "ds") + PARAMS)
    assert spec.dataset == str(tmp_path / "ds")


# ------------------------------------------------------------------ bytes, duplicates, numbers

GOOD = HEAD + PARAMS


@pytest.mark.parametrize(
    ("raw", "fragments"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ["not UTF-8 text: binary data", "byte offset 8"]),
        (
            GOOD.replace("toy-data", "donn\xe9es  # <-").encode("latin-1"),
            ["not UTF-8 text: byte 0xe9 on line 3 (byte offset 60)", "iconv"],
        ),
        (GOOD.encode("utf-16-le"), ["not UTF-8 text: UTF-16 text without a byte-order mark"]),
        (GOOD.encode("utf-16-be"), ["UTF-16 text without a byte-order mark"]),
    ],
    ids=["binary", "latin-1", "utf-16-le-no-bom", "utf-16-be-no-bom"],
)
def test_a_file_that_is_not_utf8_text_is_one_line(tmp_path: Path, raw: bytes, fragments):
    path = tmp_path / "space.yaml"
    path.write_bytes(raw)
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)), message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig"])
def test_utf16_and_utf8_with_a_byte_order_mark_are_read(tmp_path: Path, encoding: str):
    """YAML allows UTF-16 with a byte-order mark; Windows editors write the UTF-8 BOM."""
    path = tmp_path / "space.yaml"
    path.write_bytes(GOOD.encode(encoding))
    assert load_spec(path).name == "toy"


def test_a_control_character_is_one_line(tmp_path: Path):
    refused(tmp_path, GOOD.replace("toy-data", "toy\x1bdata"), "control character #x1b on line 3")


def test_a_key_written_twice_names_both_lines(tmp_path: Path):
    text = GOOD + "  optimizer: {choice: [rmsprop]}  # <-\n"
    refused(tmp_path, text, "key 'params.optimizer' is written twice, on lines 7 and 10")
    text = HEAD + "budget: {trials: 2, max_epochs: 1}  # <-\n" + PARAMS
    refused(tmp_path, text, "key 'budget' is written twice, on lines 5 and 6")
    text = HEAD.replace("goal: minimize}", "goal: minimize, name: val_auc}  # <-") + PARAMS
    refused(tmp_path, text, "key 'metric.name' is written twice, on lines 4 and 4")


def test_a_merge_key_may_still_be_overridden(tmp_path: Path):
    text = HEAD + (
        "params:\n"
        "  optimizer: {choice: [adam, sgd]}\n"
        "  learning_rate: &lr {float: [1.0e-4, 1.0e-1], log: true}\n"
        "  momentum: {<<: *lr, float: [0.01, 0.9], when: {optimizer: sgd}}\n"
    )
    momentum = load(tmp_path, text).param("momentum")
    assert (momentum.low, momentum.high, momentum.log) == (0.01, 0.9, True)


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN"])
def test_non_finite_numbers_are_refused(tmp_path: Path, value: str):
    text = HEAD + f"fixed: {{weight: {value}}}  # <-\n" + PARAMS
    refused(tmp_path, text, "key 'fixed.weight':", "is not a finite number")
    text = HEAD + f"params:\n  momentum: {{float: [0.0, {value}]}}  # <-\n"
    refused(tmp_path, text, "key 'params.momentum.float.1':", "is not a finite number")


@pytest.mark.timeout(60)
def test_a_choice_of_200000_values_validates_in_seconds_not_minutes(tmp_path: Path):
    """The load checks probe a long choice through its representatives, not value by
    value (200,000 values took over 5 minutes); timed without the YAML parse itself."""
    import time

    from tuner.space.load import check_spec
    from tuner.space.yaml_file import parse_yaml

    values = ", ".join(str((i + 1) / 1000) for i in range(200_000))
    text = HEAD + f"params:\n  learning_rate: {{choice: [{values}]}}\n"
    located = parse_yaml(text, tmp_path / "space.yaml")
    start = time.process_time()  # (this process's CPU: what other processes take is not
    spec = check_spec(located, text)  # counted, so a loaded machine does not fail it)
    elapsed = time.process_time() - start
    assert len(spec.param("learning_rate").choices) == 200_000
    # ~0.4 s of CPU; a value-by-value probe takes minutes, so this fails if the bound is lost
    assert elapsed < 5.0, f"{elapsed:.2f} s of CPU"


def test_a_long_choice_is_still_checked_at_its_representatives(tmp_path: Path):
    from tuner.space.probe import PROBE_LIMIT

    widths = [*range(8, 100), 0, *range(100, 200)]  # 0: the smallest, below the minimum 1
    assert len(widths) > PROBE_LIMIT
    text = HEAD + f"params:\n  width: {{choice: {widths}}}  # <-\n  depth: {{int: [1, 2]}}\n"
    refused(tmp_path, text, "key 'params.width': 0 is less than the minimum of 1")
    names = [f"opt{i}" for i in range(100)]
    text = HEAD + f"params:\n  optimizer:\n    choice: [adam, {', '.join(names)}]  # <-\n"
    refused(tmp_path, text, "key 'params.optimizer.choice.1': 'opt0' is not one of")


@pytest.mark.parametrize(
    ("scheduler", "fragments"),
    [
        ("{type: asha, grace_period: 0}", ["key 'scheduler.grace_period'", "minimum of 1"]),
        ("{type: asha, reduction_factor: 1}", ["key 'scheduler.reduction_factor'", "of 1"]),
        ("{type: asha, brackets: 1.5}", ["key 'scheduler.brackets'", "'integer'"]),
        ("{type: ashaa}", ["key 'scheduler.type'", "did you mean 'asha'?"]),
        ("{grace_period: 2}", ["key 'scheduler.type' is required"]),
        ("3", ["key 'scheduler'", "is not one of ['optuna', 'asha']"]),
    ],
)
def test_the_schema_alone_states_the_scheduler_rules(
    tmp_path: Path, scheduler: str, fragments: list[str]
):
    """The schema's oneOf (a name or a mapping) is reported from the branch meant for
    the value given: the rule it breaks, at its line, not "valid under none"."""
    refused(tmp_path, HEAD + f"scheduler: {scheduler}  # <-\n" + PARAMS, *fragments)


def test_budget_time_and_the_name_use_the_schema_patterns(tmp_path: Path):
    schema = space_schema()["properties"]
    assert schema["budget"]["properties"]["time"]["pattern"]  # what parse_duration reads
    assert parse_duration("1d 1.5h 2m 3s") == 86400 + 5400 + 120 + 3
    bad = tmp_path / "no good.yaml"  # the sweep's name would come from the file's
    bad.write_text(HEAD.replace("name: toy\n", "") + PARAMS)
    with pytest.raises(ConfigError, match=r"'no good' is not a safe sweep name"):
        load_spec(bad, check_objective=False)


def test_an_empty_list_of_when_values_is_refused(tmp_path: Path):
    text = HEAD + textwrap.dedent("""\
        params:
          optimizer: {choice: [adam, sgd]}
          momentum: {float: [0.0, 0.9], when: {optimizer: []}}  # <-
        """)
    refused(tmp_path, text, "key 'params.momentum.when.optimizer'", "never true")


def test_max_failures_counts_from_one(tmp_path: Path):
    """`max_failures: N` ends the sweep at the N-th failed trial; 0 would end it before
    its first trial, so it is refused (1: at the first failure)."""
    text = HEAD.replace("max_epochs: 3}", "max_epochs: 3, max_failures: 0}  # <-") + PARAMS
    refused(tmp_path, text, "key 'budget.max_failures'", "minimum of 1")
    one = HEAD.replace("max_epochs: 3}", "max_epochs: 3, max_failures: 1}") + PARAMS
    assert load(tmp_path, one).budget.max_failures == 1
