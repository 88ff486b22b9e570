"""The six optimizers on the three models: each trains (finite, falling loss), and the
optimizer the model was compiled with is the one the config names — for wide_deep, the
wide part's variables go to `wide_optimizer` and the rest to `optimizer`. Plus the
learning-rate schedules, gradient clipping and unknown names, without training.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuner.errors import ConfigError
from tuner.tabular.model.config import OPTIMIZERS

# learning rates at which each kind learns visibly within two short epochs
LR = {"sgd": 0.1, "adadelta": 1.0, "adagrad": 0.1, "adam": 0.01, "ftrl": 0.1, "rmsprop": 0.01}
CLASSES = {
    "sgd": "SGD",
    "adadelta": "Adadelta",
    "adagrad": "Adagrad",
    "adam": "Adam",
    "ftrl": "Ftrl",
    "rmsprop": "RMSprop",
}
# the wide part gets a different kind than the deep part, each kind once
WIDE = {name: OPTIMIZERS[(i + 3) % len(OPTIMIZERS)] for i, name in enumerate(OPTIMIZERS)}
ROWS, BATCH, EPOCHS = 2000, 64, 2


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory):
    """2,000 rows, two numbers and two categories, a learnable binary label; 20% held out."""
    from tuner.tabular.data.convert import ConvertOptions, convert

    rng = np.random.default_rng(7)
    x1, x2 = rng.normal(size=ROWS), rng.normal(2.0, 3.0, size=ROWS)
    c1 = rng.choice(list("abcdef"), size=ROWS)
    c2 = rng.choice(["north", "south", "east", "west"], size=ROWS)
    effect1 = dict(zip("abcdef", [-2.0, -1.0, 0.0, 0.5, 1.0, 2.0], strict=True))
    effect2 = {"north": 1.0, "south": -1.0, "east": 0.5, "west": -0.5}
    logit = 1.5 * x1 - 0.5 * (x2 - 2.0) + np.array([effect1[c] for c in c1])
    logit += np.array([effect2[c] for c in c2])
    label = np.where(rng.random(ROWS) < 1 / (1 + np.exp(-logit)), "yes", "no")
    root = tmp_path_factory.mktemp("mixed")
    lines = ["x1,c1,x2,c2,label"]
    lines += [
        f"{a:.4f},{b},{c:.4f},{d},{e}" for a, b, c, d, e in zip(x1, c1, x2, c2, label, strict=True)
    ]
    (root / "mixed.csv").write_text("\n".join(lines) + "\n")
    convert(root / "mixed.csv", root / "ds", ConvertOptions(split=0.2, seed=0))
    return root / "ds"


@pytest.fixture
def built_models(monkeypatch):
    """Records every model run_trial builds, with its trainable variables' initial values."""
    import tuner.tabular.model.train as train_module
    from tuner.tabular.model.layers import keras

    seen: list[tuple[object, dict[str, np.ndarray]]] = []
    original = train_module.build_model

    def recording(schema, cfg):
        built = original(schema, cfg)
        initial = {
            v.path: keras.ops.convert_to_numpy(v).copy() for v in built.model.trainable_variables
        }
        seen.append((built, initial))
        return built

    monkeypatch.setattr(train_module, "build_model", recording)
    return seen


def _values(variables) -> dict[str, np.ndarray]:
    from tuner.tabular.model.layers import keras

    return {v.path: keras.ops.convert_to_numpy(v) for v in variables}


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("model", ["linear", "dnn", "wide_deep"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_optimizer_trains_and_is_the_one_configured(
    mixed, built_models, tmp_path, model, optimizer
):
    from tuner.tabular.model.build import wide_variables
    from tuner.tabular.model.layers import keras
    from tuner.tabular.model.train import run_trial

    config = {
        "dataset": str(mixed),
        "model": model,
        "optimizer": optimizer,
        "learning_rate": LR[optimizer],
        "epochs": EPOCHS,
        "batch_size": BATCH,
        "hidden_units": [8, 4],
        "embedding_dim": 2,
    }
    if model == "wide_deep":
        wide = WIDE[optimizer]
        config |= {
            "wide_optimizer": wide,
            "wide_learning_rate": LR[wide],
            "crosses": ["c1 x c2"],
            "hash_buckets": 32,
        }
    reports = []
    payload = run_trial(config, lambda e, m: reports.append((e, m)), tmp_path, export=False)

    assert payload["status"] == "complete"
    assert payload["config"]["optimizer"] == optimizer
    losses = [m["loss"] for _, m in reports]
    assert [e for e, _ in reports] == list(range(1, EPOCHS + 1))
    assert all(math.isfinite(v) for _, m in reports for v in m.values()), reports
    assert losses[-1] < losses[0], losses
    assert reports[-1][1]["learning_rate"] == pytest.approx(LR[optimizer])

    ((built, initial),) = built_models
    compiled = built.model.optimizer
    steps = EPOCHS * math.ceil(round(ROWS * 0.8) / BATCH)
    after = _values(built.model.trainable_variables)
    changed = {p for p in after if not np.array_equal(after[p], initial[p])}
    if model != "wide_deep":
        assert type(compiled) is getattr(keras.optimizers, CLASSES[optimizer])
        assert compiled.name == "main"
        assert int(compiled.iterations) == steps
        assert changed == set(after), f"never updated: {sorted(set(after) - changed)}"
        return

    assert isinstance(compiled, keras.optimizers.MultiOptimizer)
    subs = {o.name: o for o in compiled.optimizers}
    assert set(subs) == {"main", "wide"}
    assert type(subs["main"]) is getattr(keras.optimizers, CLASSES[optimizer])
    assert type(subs["wide"]) is getattr(keras.optimizers, CLASSES[WIDE[optimizer]])
    assert reports[-1][1]["wide_learning_rate"] == pytest.approx(LR[WIDE[optimizer]])
    wide_paths = {v.path for v in wide_variables(built.model)}
    # the wide part: one-hot tables of c1 and c2, the c1 x c2 cross, the bias
    assert {"wide_c1/embeddings", "wide_c2/embeddings", "wide_c1_x_c2/embeddings"} <= wide_paths
    assert "wide_logits/bias" in wide_paths
    deep_paths = set(after) - wide_paths
    assert deep_paths and all(not p.startswith("wide_") for p in deep_paths)
    # each sub-optimizer was built on (and so updates) exactly its part's variables
    assert {v.path for v in subs["wide"]._trainable_variables} == wide_paths
    assert {v.path for v in subs["main"]._trainable_variables} == deep_paths
    assert int(subs["wide"].iterations) == int(subs["main"].iterations) == steps
    assert changed == set(after), f"never updated: {sorted(set(after) - changed)}"


# ---------------------------------------------------------------- no training


@pytest.fixture(scope="module")
def opt():
    from tuner.tabular.model import optimizers

    return optimizers


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_constant_schedule_is_the_number(opt):
    assert opt.schedule({"lr_schedule": "constant", "epochs": 3}, 0.01, 10) == 0.01
    assert opt.schedule({"epochs": 3}, 0.01, 10) == 0.01
    optimizer = opt.make_optimizer("adam", 0.01, {"epochs": 3}, 10, "main")
    optimizer.iterations.assign(1000)
    assert opt.current_learning_rate(optimizer) == pytest.approx(0.01)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("extra", "step", "expected"),
    [
        ({"decay_rate": 0.5}, 0, 0.1),
        ({"decay_rate": 0.5}, 10, 0.05),  # one epoch of steps by default
        ({"decay_rate": 0.5}, 5, 0.1 * 0.5**0.5),  # continuous
        ({"decay_rate": 0.5}, 30, 0.1 * 0.5**3),
        ({"decay_rate": 0.5, "staircase": True}, 5, 0.1),
        ({"decay_rate": 0.5, "staircase": True}, 19, 0.05),
        ({"decay_rate": 0.5, "decay_steps": 4}, 8, 0.025),
        ({}, 10, 0.1 * 0.96),  # the default rate
    ],
)
def test_exponential_schedule(opt, extra, step, expected):
    cfg = {"lr_schedule": "exponential", "epochs": 3, **extra}
    assert float(opt.schedule(cfg, 0.1, 10)(step)) == pytest.approx(expected, rel=1e-5)
    # what a trial reports: the optimizer's rate at its current step
    optimizer = opt.make_optimizer("sgd", 0.1, cfg, 10, "main")
    optimizer.iterations.assign(step)
    assert opt.current_learning_rate(optimizer) == pytest.approx(expected, rel=1e-5)


def _cosine(lr: float, step: int, total: int, alpha: float) -> float:
    progress = min(step, total) / total
    return lr * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * progress)) + alpha)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("extra", "step", "total", "alpha"),
    [
        ({}, 0, 40, 0.0),
        ({}, 20, 40, 0.0),  # default: all steps (10 per epoch x 4 epochs)
        ({}, 40, 40, 0.0),
        ({}, 100, 40, 0.0),  # stays at the floor after the end
        ({"cosine_alpha": 0.1}, 20, 40, 0.1),
        ({"cosine_alpha": 0.1}, 40, 40, 0.1),
        ({"decay_steps": 8, "cosine_alpha": 0.2}, 2, 8, 0.2),
    ],
)
def test_cosine_schedule(opt, extra, step, total, alpha):
    cfg = {"lr_schedule": "cosine", "epochs": 4, **extra}
    expected = _cosine(0.2, step, total, alpha)
    assert float(opt.schedule(cfg, 0.2, 10)(step)) == pytest.approx(expected, rel=1e-5, abs=1e-7)
    optimizer = opt.make_optimizer("adagrad", 0.2, cfg, 10, "main")
    optimizer.iterations.assign(step)
    assert opt.current_learning_rate(optimizer) == pytest.approx(expected, rel=1e-5, abs=1e-7)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_schedule_applies_to_both_parts_of_wide_deep(opt):
    cfg = {
        "model": "wide_deep",
        "optimizer": "adagrad",
        "learning_rate": 0.05,
        "wide_optimizer": "ftrl",
        "wide_learning_rate": 0.2,
        "lr_schedule": "exponential",
        "decay_rate": 0.5,
        "epochs": 2,
    }
    parts = opt.optimizers_for(cfg, 10)
    for part in parts.values():
        part.iterations.assign(10)
    assert opt.current_learning_rate(parts["main"]) == pytest.approx(0.025)
    assert opt.current_learning_rate(parts["wide"]) == pytest.approx(0.1)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_clipnorm_and_clipvalue_pass_through(opt, name):
    optimizer = opt.make_optimizer(name, 0.1, {"clipnorm": 0.5}, 10, "main")
    assert optimizer.clipnorm == 0.5 and optimizer.clipvalue is None
    optimizer = opt.make_optimizer(name, 0.1, {"clipvalue": 2.0}, 10, "main")
    assert optimizer.clipvalue == 2.0 and optimizer.clipnorm is None
    optimizer = opt.make_optimizer(name, 0.1, {}, 10, "main")
    assert optimizer.clipnorm is None and optimizer.clipvalue is None


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_clipnorm_limits_the_step(opt):
    from tuner.tabular.model.layers import keras

    optimizer = opt.make_optimizer("sgd", 1.0, {"clipnorm": 0.5}, 10, "main")
    variable = keras.Variable(np.zeros(2, np.float32))
    optimizer.apply([keras.ops.convert_to_tensor(np.array([30.0, 40.0], np.float32))], [variable])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), [-0.3, -0.4], rtol=1e-5)
    wide = opt.optimizers_for(
        {
            "model": "wide_deep",
            "optimizer": "adam",
            "learning_rate": 0.01,
            "wide_optimizer": "ftrl",
            "wide_learning_rate": 0.1,
            "clipnorm": 1.5,
        },
        10,
    )
    assert wide["main"].clipnorm == wide["wide"].clipnorm == 1.5


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_hyperparameters_reach_their_optimizer_only(opt):
    cfg = {
        "momentum": 0.8,
        "nesterov": True,
        "rho": 0.7,
        "beta_1": 0.5,
        "ftrl_l1": 0.01,
        "ftrl_l2": 0.02,
        "learning_rate_power": -0.25,
        "initial_accumulator_value": 0.3,
        "centered": True,
    }
    sgd = opt.make_optimizer("sgd", 0.1, cfg, 10, "main")
    assert (sgd.momentum, sgd.nesterov) == (0.8, True)
    adam = opt.make_optimizer("adam", 0.1, cfg, 10, "main")  # momentum etc. ignored
    assert adam.beta_1 == 0.5
    ftrl = opt.make_optimizer("ftrl", 0.1, cfg, 10, "main")
    assert (ftrl.l1_regularization_strength, ftrl.l2_regularization_strength) == (0.01, 0.02)
    assert (ftrl.learning_rate_power, ftrl.initial_accumulator_value) == (-0.25, 0.3)
    rms = opt.make_optimizer("rmsprop", 0.1, cfg, 10, "main")
    assert (rms.rho, rms.momentum, rms.centered) == (0.7, 0.8, True)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["adamw", "Adam", "lamb", ""])
def test_unknown_optimizer_is_a_config_error_listing_the_names(opt, name):
    with pytest.raises(ConfigError) as err:
        opt.make_optimizer(name, 0.1, {}, 10, "main")
    assert f"optimizer '{name}' is unknown" in str(err.value)
    assert all(f"'{valid}'" in err.value.hint for valid in OPTIMIZERS)
    with pytest.raises(ConfigError, match="optimizer 'adamw' is unknown"):
        opt.optimizers_for({"model": "dnn", "optimizer": "adamw", "learning_rate": 0.1}, 10)
    with pytest.raises(ConfigError, match="optimizer 'sgdd' is unknown"):
        opt.optimizers_for(
            {
                "model": "wide_deep",
                "optimizer": "sgd",
                "learning_rate": 0.1,
                "wide_optimizer": "sgdd",
                "wide_learning_rate": 0.1,
            },
            10,
        )


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_unknown_schedule_is_a_config_error(opt):
    with pytest.raises(ConfigError, match="lr_schedule 'linear' is unknown"):
        opt.schedule({"lr_schedule": "linear", "epochs": 2}, 0.1, 10)
