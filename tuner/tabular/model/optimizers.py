"""The six optimizers of the original program, their hyperparameters, and the
learning-rate schedules, from a flat trial config.

Optimizer-specific keys (momentum, rho, beta_1, …) apply to every optimizer of a kind
that has them and are ignored by the others, so one flat sweep space can mix optimizers.
"""

from __future__ import annotations

from typing import Any

from tuner.errors import ConfigError
from tuner.tabular.model.build import WIDE_PREFIX
from tuner.tabular.model.config import OPTIMIZERS
from tuner.tabular.model.layers import keras

# config key → keyword of the Keras optimizer, per optimizer
_KEYS: dict[str, dict[str, str]] = {
    "sgd": {"momentum": "momentum", "nesterov": "nesterov"},
    "adadelta": {"rho": "rho", "epsilon": "epsilon"},
    "adagrad": {"initial_accumulator_value": "initial_accumulator_value", "epsilon": "epsilon"},
    "adam": {"beta_1": "beta_1", "beta_2": "beta_2", "epsilon": "epsilon", "amsgrad": "amsgrad"},
    "ftrl": {
        "learning_rate_power": "learning_rate_power",
        "initial_accumulator_value": "initial_accumulator_value",
        "ftrl_l1": "l1_regularization_strength",
        "ftrl_l2": "l2_regularization_strength",
    },
    "rmsprop": {"rho": "rho", "momentum": "momentum", "epsilon": "epsilon", "centered": "centered"},
}
_CLASSES = {
    "sgd": "SGD",
    "adadelta": "Adadelta",
    "adagrad": "Adagrad",
    "adam": "Adam",
    "ftrl": "Ftrl",
    "rmsprop": "RMSprop",
}


def schedule(cfg: dict[str, Any], learning_rate: float, steps_per_epoch: int) -> Any:
    """constant → the number; exponential and cosine → a Keras schedule over steps."""
    kind = cfg.get("lr_schedule", "constant")
    if kind == "constant":
        return learning_rate
    if kind == "exponential":
        return keras.optimizers.schedules.ExponentialDecay(
            learning_rate,
            decay_steps=cfg.get("decay_steps", steps_per_epoch),
            decay_rate=cfg.get("decay_rate", 0.96),
            staircase=cfg.get("staircase", False),
        )
    if kind == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            learning_rate,
            decay_steps=cfg.get("decay_steps", steps_per_epoch * cfg["epochs"]),
            alpha=cfg.get("cosine_alpha", 0.0),
        )
    raise ConfigError(
        f"lr_schedule '{kind}' is unknown", hint="expected one of constant, exponential, cosine"
    )


def make_optimizer(
    name: str, learning_rate: float, cfg: dict[str, Any], steps_per_epoch: int, label: str
) -> Any:
    if name not in OPTIMIZERS:
        raise ConfigError(f"optimizer '{name}' is unknown", hint=f"expected one of {OPTIMIZERS}")
    kwargs = {kw: cfg[key] for key, kw in _KEYS[name].items() if key in cfg}
    for clip in ("clipnorm", "clipvalue"):
        if clip in cfg:
            kwargs[clip] = cfg[clip]
    cls = getattr(keras.optimizers, _CLASSES[name])
    return cls(learning_rate=schedule(cfg, learning_rate, steps_per_epoch), name=label, **kwargs)


def optimizers_for(cfg: dict[str, Any], steps_per_epoch: int) -> dict[str, Any]:
    """{'deep' or 'main': optimizer, and 'wide' for wide_deep}."""
    main = make_optimizer(cfg["optimizer"], cfg["learning_rate"], cfg, steps_per_epoch, "main")
    if cfg["model"] != "wide_deep":
        return {"main": main}
    wide = make_optimizer(
        cfg["wide_optimizer"], cfg["wide_learning_rate"], cfg, steps_per_epoch, "wide"
    )
    return {"main": main, "wide": wide}


def combined(optimizers: dict[str, Any]) -> Any:
    """The one optimizer Keras trains with: the wide part's variables (named wide_…) go to
    the wide optimizer, everything else to the main one."""
    if "wide" not in optimizers:
        return optimizers["main"]

    mapping = keras.optimizers.OptimizerMap(
        optimizers["main"], {f"{WIDE_PREFIX}.*": optimizers["wide"]}
    )
    return keras.optimizers.MultiOptimizer(mapping)


def current_learning_rate(optimizer: Any) -> float:
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def class_name(name: str) -> str:
    return _CLASSES[name]
