"""Trial configs: every mistake is refused with exit code 2 before any training (and
before TensorFlow is imported), naming the file and line or the key; the `hidden_units`
shorthand; `--set` typing; objectives and the metrics they declare.

Nothing here imports TensorFlow, Keras, or tuner.tabular.model.build/train.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import write
from tuner.errors import ConfigError
from tuner.objective_loader import load_objective
from tuner.space.yaml_file import parse_override
from tuner.tabular.model.config import OPTIMIZERS, hidden_units, metric_names, prepare, trial_schema

HEAVY = (
    "tensorflow",
    "keras",
    "tuner.tabular.model.build",
    "tuner.tabular.model.train",
    "tuner.tabular.model.layers",
)


# no test here may pull in TensorFlow, Ray or MLflow (the subprocess tests check the
# same in a fresh interpreter, where it cannot be masked)
pytestmark = pytest.mark.usefixtures("no_heavy_imports")


@pytest.fixture(scope="module")
def census(tmp_path_factory: pytest.TempPathFactory):
    """builtin:census_synthetic with its real schema, materialized into a private cache
    with the TFRecord writing stubbed out (empty files), so no TensorFlow is imported.
    A config check reads only the schema."""
    import os

    import tuner.tabular.data.writer as writer

    cache = tmp_path_factory.mktemp("census-schema-only")
    saved_env, saved_write = os.environ.get("TUNER_CACHE_DIR"), writer.write_split

    def empty_shards(table, labels, label, directory, split, shards, compression):
        name = writer.shard_names(split, 1, compression)[0]
        (Path(directory) / name).touch()
        return [name], [table.rows]

    os.environ["TUNER_CACHE_DIR"] = str(cache)
    writer.write_split = empty_shards
    try:
        from tuner.tabular.data.builtin import resolve

        resolve("builtin:census_synthetic")
    finally:
        writer.write_split = saved_write
    yield "builtin:census_synthetic"
    if saved_env is None:
        os.environ.pop("TUNER_CACHE_DIR", None)
    else:
        os.environ["TUNER_CACHE_DIR"] = saved_env


def bad(cli, tmp_path: Path, yaml_text: str, *extra: str) -> tuple[Path, str]:
    """Run `tune train` on a config that must be refused; returns (file, the one error line)."""
    config = write(tmp_path / "trial.yaml", textwrap.dedent(yaml_text).lstrip())
    out = tmp_path / "out"
    code, stdout, err = cli("train", config, "--out", out, *extra)
    assert code == 2, (code, stdout, err)
    assert stdout == ""
    assert err.startswith("tune: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert not out.exists(), "nothing may be written for a refused config"
    return config, err.strip()


# ---------------------------------------------------------------- bad configs via the CLI


def test_unknown_model(cli, tmp_path):
    config, err = bad(cli, tmp_path, "dataset: builtin:census_synthetic\nmodel: cnn\n")
    assert f"{config}:2: key 'model': 'cnn' is not one of ['linear', 'dnn', 'wide_deep']" in err


def test_unknown_optimizer_lists_names_and_suggests(cli, tmp_path):
    config, err = bad(
        cli,
        tmp_path,
        """
        dataset: builtin:census_synthetic
        model: dnn
        optimizer: adamm
        """,
    )
    assert f"{config}:3: key 'optimizer': 'adamm' is not one of" in err
    assert all(f"'{name}'" in err for name in OPTIMIZERS)
    assert "did you mean 'adam'?" in err


def test_unknown_wide_optimizer(cli, tmp_path):
    config, err = bad(cli, tmp_path, "dataset: builtin:census_synthetic\nwide_optimizer: ftlr\n")
    assert f"{config}:2: key 'wide_optimizer'" in err and "did you mean 'ftrl'?" in err


@pytest.mark.parametrize(
    ("lines", "line", "key", "expect"),
    [
        ("depth: 2\nwidth: 0\n", 3, "width", "0 is less than the minimum of 1"),
        ("hidden_units: [64, 0]\n", 2, "hidden_units.1", "0 is less than the minimum of 1"),
        ("hidden_units: [64, -8]\n", 2, "hidden_units.1", "-8 is less than the minimum of 1"),
        ("depth: 0\nwidth: 8\n", 2, "depth", "0 is less than the minimum of 1"),
    ],
    ids=["width=0", "hidden_units 0", "hidden_units negative", "depth=0"],
)
def test_non_positive_width(cli, tmp_path, lines, line, key, expect):
    config, err = bad(cli, tmp_path, "dataset: builtin:census_synthetic\n" + lines)
    assert f"{config}:{line}: key '{key}': {expect}" in err


@pytest.mark.parametrize("key", ["learning_rate", "wide_learning_rate"])
@pytest.mark.parametrize("value", ["0", "-0.01"])
def test_non_positive_learning_rate(cli, tmp_path, key, value):
    config, err = bad(
        cli, tmp_path, f"dataset: builtin:census_synthetic\nmodel: wide_deep\n{key}: {value}\n"
    )
    assert f"{config}:3: key '{key}': {value} is less than or equal to the minimum of 0" in err


def test_non_positive_learning_rate_from_set(cli, tmp_path):
    _, err = bad(
        cli, tmp_path, "dataset: builtin:census_synthetic\n", "--set", "learning_rate=-1e-3"
    )
    assert "--set learning_rate: key 'learning_rate': -0.001 is less than or equal to" in err


def test_crossed_feature_that_does_not_exist(cli, tmp_path, census):
    config, err = bad(
        cli,
        tmp_path,
        """
        dataset: builtin:census_synthetic
        model: wide_deep
        crosses: ["education x occupaton"]
        """,
    )
    assert err.startswith(f"tune: error: {config}:3: crosses: 'occupaton'")
    assert (
        "(in 'education x occupaton') is not a categorical feature of builtin:census_synthetic"
        in err
    )
    assert "did you mean 'occupation'?" in err


def test_crossed_numeric_feature_is_refused(cli, tmp_path, census):
    _, err = bad(
        cli,
        tmp_path,
        "dataset: builtin:census_synthetic\nmodel: wide_deep\ncrosses: ['age x sex']\n",
    )
    assert "crosses: 'age' (in 'age x sex') is not a categorical feature" in err


def test_malformed_cross_names_the_line(cli, tmp_path):
    config, err = bad(
        cli,
        tmp_path,
        "dataset: builtin:census_synthetic\nmodel: wide_deep\ncrosses:\n  - education occupation\n",
    )
    assert f"{config}:4: key 'crosses.0'" in err
    assert "'education occupation' names 1 column" in err


@pytest.mark.parametrize(
    ("crosses", "shown", "count"),
    [
        ("[[age]]", "age", "1 column"),
        ("[age]", "age", "1 column"),
        ("['education x ']", "education x ", "1 column"),
        ("[[]]", "", "0 columns"),
    ],
)
def test_single_name_cross_says_what_a_cross_needs(cli, tmp_path, census, crosses, shown, count):
    """Not JSON Schema's raw regular expression: what is wrong and what was expected."""
    config, err = bad(
        cli,
        tmp_path,
        f"dataset: builtin:census_synthetic\nmodel: wide_deep\ncrosses: {crosses}\n",
    )
    assert err.startswith(
        f"tune: error: {config}:3: key 'crosses.0': '{shown}' names {count}; "
        "a cross needs at least two column names"
    ), err
    assert "'education x occupation'" in err and "[education, occupation]" in err
    assert "\\s" not in err and "^" not in err


def test_cross_naming_a_column_twice(cli, tmp_path, census):
    _, err = bad(
        cli,
        tmp_path,
        "dataset: builtin:census_synthetic\nmodel: wide_deep\ncrosses: [sex x sex]\n",
    )
    assert "key 'crosses.0': 'sex x sex' names a column twice" in err


def test_cross_as_a_list_of_names(census):
    cfg = prepare(
        {"dataset": census, "model": "wide_deep", "crosses": [["education", "occupation"]]}
    )
    assert cfg["crosses"] == [["education", "occupation"]]
    with pytest.raises(ConfigError, match=r"'occupaton' .* is not a categorical feature"):
        prepare({"dataset": census, "model": "wide_deep", "crosses": [["education", "occupaton"]]})


def test_unknown_key_suggests_nearest_and_names_file_line(cli, tmp_path):
    config, err = bad(
        cli,
        tmp_path,
        """
        dataset: builtin:census_synthetic
        model: dnn
        learning_rat: 0.01
        """,
    )
    assert err == (
        f"tune: error: {config}:3: unknown key 'learning_rat' (did you mean 'learning_rate'?)"
    )


def test_set_with_unknown_key(cli, tmp_path):
    _, err = bad(cli, tmp_path, "dataset: builtin:census_synthetic\n", "--set", "optimiser=adam")
    assert err == "tune: error: --set: unknown key 'optimiser' (did you mean 'optimizer'?)"


def test_set_with_bad_value_names_the_option(cli, tmp_path):
    _, err = bad(cli, tmp_path, "dataset: builtin:census_synthetic\n", "--set", "model=cnn")
    assert err.startswith("tune: error: --set model: key 'model': 'cnn' is not one of")


@pytest.mark.parametrize(("lines", "missing"), [("depth: 3\n", "width"), ("width: 64\n", "depth")])
def test_depth_without_width(cli, tmp_path, lines, missing):
    config, err = bad(cli, tmp_path, "dataset: builtin:census_synthetic\n" + lines)
    assert err == (
        f"tune: error: {config}:2: '{missing}' is missing "
        "(depth and width go together; or give hidden_units)"
    )


def test_hidden_units_together_with_depth(cli, tmp_path):
    config, err = bad(
        cli,
        tmp_path,
        "dataset: builtin:census_synthetic\nhidden_units: [32, 8]\ndepth: 2\nwidth: 16\n",
    )
    assert err == (
        f"tune: error: {config}:2: give either hidden_units or depth + width, not both "
        "(hidden_units=[32, 8])"
    )


def test_missing_dataset_and_unknown_dataset(cli, tmp_path):
    config, err = bad(cli, tmp_path, "model: dnn\n")
    assert f"{config}: key 'dataset' is required (text)" in err
    _, err = bad(cli, tmp_path, "dataset: builtin:nope\n")
    assert "unknown built-in data set 'nope'" in err


def test_missing_config_file(cli, tmp_path):
    code, _, err = cli("train", tmp_path / "absent.yaml", "--out", tmp_path / "out")
    assert code == 2 and f"{tmp_path / 'absent.yaml'}: no such file" in err


CHECK_NO_TF = r"""
import json, sys, time
from tuner.cli.app import main
start = time.process_time()
HEAVY = json.loads(sys.argv[3])
codes = [main(["train", path, "--out", sys.argv[1]] + extra)
         for path, extra in json.loads(sys.argv[2])]
heavy = [m for m in HEAVY if m in sys.modules]
print(json.dumps({"codes": codes, "heavy": heavy, "seconds": time.process_time() - start}))
"""


def test_bad_configs_import_nothing_heavy_and_are_fast(tmp_path):
    cases = {
        "model.yaml": ("model: cnn\n", []),
        "optimizer.yaml": ("optimizer: adamm\n", []),
        "width.yaml": ("depth: 2\nwidth: 0\n", []),
        "lr.yaml": ("learning_rate: 0\n", []),
        "key.yaml": ("learning_rat: 0.1\n", []),
        "set.yaml": ("", ["--set", "optimiser=adam"]),
        "depth.yaml": ("depth: 2\n", []),
        "both.yaml": ("hidden_units: [8]\ndepth: 1\nwidth: 8\n", []),
    }
    runs = []
    for name, (lines, extra) in cases.items():
        path = write(tmp_path / name, "dataset: builtin:census_synthetic\n" + lines)
        runs.append([str(path), extra])
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            CHECK_NO_TF,
            str(tmp_path / "out"),
            json.dumps(runs),
            json.dumps(HEAVY),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["codes"] == [2] * len(cases), result.stderr
    assert report["heavy"] == []
    assert report["seconds"] < 2.0, report
    assert not (tmp_path / "out").exists()
    assert result.stderr.count("tune: error: ") == len(cases)


# ---------------------------------------------------------------- hidden_units


@pytest.mark.parametrize(
    ("config", "units"),
    [
        ({}, [128, 64, 32]),
        ({"hidden_units": [128, 32, 8]}, [128, 32, 8]),
        ({"hidden_units": [16.0]}, [16]),
        ({"depth": 3, "width": 64}, [64, 64, 64]),
        ({"depth": 3, "width": 128, "shrink": 0.5}, [128, 64, 32]),
        ({"depth": 3, "width": 100, "shrink": 0.75}, [100, 75, 56]),
        ({"depth": 2, "width": 5, "shrink": 0.5}, [5, 3]),  # 2.5 rounds half up
        ({"depth": 4, "width": 4, "shrink": 0.1}, [4, 1, 1, 1]),  # never below one unit
        ({"depth": 1, "width": 7, "shrink": 0.5}, [7]),
    ],
)
def test_hidden_units_expansion(config, units):
    assert hidden_units(config) == units
    assert all(type(u) is int for u in hidden_units(config))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"depth": 2}, "'width' is missing"),
        ({"width": 8}, "'depth' is missing"),
        ({"depth": 2, "shrink": 0.5}, "'width' is missing"),
        ({"hidden_units": [8], "depth": 1}, "not both"),
        ({"hidden_units": [8], "width": 8}, "not both"),
    ],
)
def test_hidden_units_conflicts(config, message):
    with pytest.raises(ConfigError, match=message):
        hidden_units(config)


def test_prepare_writes_the_canonical_layer_list(census):
    cfg = prepare({"dataset": census, "depth": 2, "width": 32, "shrink": 0.25})
    assert cfg["hidden_units"] == [32, 8]
    assert not {"depth", "width", "shrink"} & set(cfg)
    # defaults by model
    assert (cfg["model"], cfg["optimizer"], cfg["learning_rate"]) == ("dnn", "adam", 0.001)
    assert "crosses" not in cfg and "wide_optimizer" not in cfg and "top_k" not in cfg
    wide = prepare({"dataset": census, "model": "wide_deep"})
    assert (wide["optimizer"], wide["learning_rate"], wide["wide_optimizer"]) == (
        "adagrad",
        0.05,
        "ftrl",
    )
    assert wide["crosses"] == [
        "education x occupation",
        "marital_status x relationship",
        "region x workclass",
    ]
    assert 0 < wide["wide_learning_rate"] <= 0.2


# ---------------------------------------------------------------- --set typing


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("hidden_units=[128,32,8]", "hidden_units", [128, 32, 8]),
        ("hidden_units=[128, 32, 8]", "hidden_units", [128, 32, 8]),
        ("optimizer=adam", "optimizer", "adam"),
        ("learning_rate=1e-3", "learning_rate", 0.001),
        ("learning_rate=0.5", "learning_rate", 0.5),
        ("learning_rate=1", "learning_rate", 1),
        ("dataset=123", "dataset", "123"),
        ("dataset=1e3", "dataset", "1e3"),
        ("dataset=builtin:census_synthetic", "dataset", "builtin:census_synthetic"),
        ("train_split=2024", "train_split", "2024"),
        ("epochs=3", "epochs", 3),
        ("nesterov=true", "nesterov", True),
        ("crosses=[a x b]", "crosses", ["a x b"]),
        (" seed = 7", "seed", 7),
    ],
)
def test_parse_override_types_by_schema(text, key, value):
    got_key, got = parse_override(text, trial_schema())
    assert (got_key, got) == (key, value)
    assert type(got) is type(value)
    if isinstance(value, list):
        assert all(type(a) is type(b) for a, b in zip(got, value, strict=True))


@pytest.mark.parametrize("text", ["learning_rate", "=3", ""])
def test_parse_override_needs_key_and_value(text):
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_override(text, trial_schema())


def test_parse_override_unknown_key_suggests():
    with pytest.raises(ConfigError) as err:
        parse_override("hiden_units=[8]", trial_schema())
    assert err.value.message == "--set: unknown key 'hiden_units'"
    assert err.value.hint == "did you mean 'hidden_units'?"


# ---------------------------------------------------------------- objectives

USER_MODULE = """
from tuner.trial import objective


@objective(metrics=["score", "val_score"])
def fit(config, report, trial_dir):
    report(1, {"score": 1.0, "val_score": 0.5})
    return {"status": "complete"}


@objective(metrics=lambda config: ["loss"] + (["val_auc"] if config.get("auc") else []))
def dynamic(config, report, trial_dir):
    return None


def bare(config, report, trial_dir):
    return None


not_callable = 3
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    name = "user_objective_for_config_tests"
    write(tmp_path / f"{name}.py", USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_load_tabular_objective(census):
    import objectives.tabular

    obj = load_objective("tabular")
    assert obj.ref == "tabular"
    assert obj.function is objectives.tabular.train
    assert obj.config_schema == trial_schema()
    assert obj.prepare is prepare
    binary = {"dataset": census, "model": "dnn"}
    assert obj.metrics(binary) == metric_names(binary)
    assert {"loss", "val_loss", "val_auc", "val_accuracy", "learning_rate"} <= obj.metrics(binary)
    assert "wide_learning_rate" not in obj.metrics(binary)
    assert "wide_learning_rate" in obj.metrics({**binary, "model": "wide_deep"})
    obj.check_metric("val_auc", binary)
    with pytest.raises(ConfigError) as err:
        obj.check_metric("val_rmse", binary, where="space.yaml:4")
    assert err.value.where == "space.yaml:4"
    assert "metric 'val_rmse' is never reported by objective 'tabular'" in str(err.value)


def test_load_user_objective_with_declared_metrics(user_module, tmp_path):
    obj = load_objective(f"{user_module}:fit")
    assert obj.metrics({}) == frozenset({"score", "val_score"})
    assert obj.config_schema is None and obj.prepare is None
    seen = []
    assert obj.function({}, lambda e, m: seen.append((e, m)), tmp_path) == {"status": "complete"}
    assert seen == [(1, {"score": 1.0, "val_score": 0.5})]
    obj.check_metric("val_score", {})
    dynamic = load_objective(f"{user_module}:dynamic")
    assert dynamic.metrics({}) == frozenset({"loss"})
    assert dynamic.metrics({"auc": True}) == frozenset({"loss", "val_auc"})


def test_check_metric_suggests_the_nearest(user_module):
    obj = load_objective(f"{user_module}:fit")
    with pytest.raises(ConfigError) as err:
        obj.check_metric("val_scor", {}, where="space.yaml:3")
    assert str(err.value) == (
        f"space.yaml:3: metric 'val_scor' is never reported by objective '{user_module}:fit' "
        "(did you mean 'val_score'?)"
    )
    with pytest.raises(ConfigError) as err:
        obj.check_metric("accuracy", {})
    assert err.value.hint == "it reports ['score', 'val_score']"


def test_objective_without_metrics_is_refused(user_module):
    with pytest.raises(ConfigError) as err:
        load_objective(f"{user_module}:bare", where="space.yaml:2")
    assert str(err.value) == (
        f"space.yaml:2: objective '{user_module}:bare' declares no metrics "
        "(decorate it with @tuner.trial.objective(metrics=[...]))"
    )


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nonsense", "expected one of ['tabular'] or package.module:function"),
        ("module_that_does_not_exist_xyz:fit", "cannot import module_that_does_not_exist_xyz"),
        ("{mod}:absent", "has no function 'absent'"),
        ("{mod}:not_callable", "has no function 'not_callable'"),
        ("{mod}:", "expected one of ['tabular']"),
    ],
)
def test_bad_objective_refs(user_module, ref, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_objective(ref.format(mod=user_module))
