"""`tune train`: a config file plus overrides → one trial, printed epoch by epoch.

Everything the config can get wrong is checked before TensorFlow is imported, so a bad
config costs a fraction of a second and trains nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuner.space.yaml_file import load_yaml, parse_override, validate
from tuner.tabular.model.config import prepare, trial_schema
from tuner.trial import METRICS, TrialContext, trial_scope

DEFAULT_OUT = Path("results") / "train"


def load_config(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """Read, override, validate and prepare a trial config; errors name file:line:key."""
    located = load_yaml(path)
    schema = trial_schema()
    for text in overrides or []:
        key, value = parse_override(text, schema)
        located.override(key, value, f"--set {key}")
    validate(located, schema)
    return prepare(located.data, where=str(located.path), locate=located.where)


def train_from_file(
    config_file: str | Path,
    *,
    overrides: list[str] | None = None,
    out: str | Path | None = None,
    from_scratch: bool = False,
    init_from: str | Path | None = None,
    echo: Callable[[str], None] = print,
    format_epoch: Callable[[int, int, dict[str, float]], str] | None = None,
) -> dict[str, Any]:
    config = load_config(config_file, overrides)
    out = Path(out) if out else DEFAULT_OUT / Path(config_file).stem
    from tuner.tabular.model.launch import train_trial  # (TensorFlow: after the checks)

    resumed_at = 0

    def on_resume(epoch: int) -> None:
        nonlocal resumed_at
        resumed_at = epoch
        echo(f"resuming {out} after epoch {epoch}")

    def report(epoch: int, metrics: dict[str, float]) -> None:
        if epoch <= resumed_at:
            return  # the checkpoint's own epochs, replayed for sweeps; printed last time
        line = format_epoch(epoch, config["epochs"], metrics) if format_epoch else str(metrics)
        echo(line)

    context = TrialContext(None, out.absolute(), 0 if from_scratch else _recorded_epoch(out))
    with trial_scope(context):  # (what `tuner.trial.current_trial()` says, as in a sweep)
        summary = train_trial(
            config, report, out, resume=not from_scratch, init_from=init_from, on_resume=on_resume
        )
    echo(f"model exported to {out / 'model'}")
    return summary


def _recorded_epoch(out: Path) -> int:
    """The last epoch an earlier `tune train` into `out` recorded (its metrics.json)."""
    import json

    try:
        history = json.loads((out / METRICS).read_text()).get("history") or []
        return max((int(h["epoch"]) for h in history), default=0)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return 0
