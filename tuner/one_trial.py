"""`tune train` for any objective: a trial config file that names its objective runs
that objective once, its epochs printed as they come.

    objective: {command: python train.py, metrics: [val_auc]}   # or my_module:train
    learning_rate: 0.01
    epochs: 4

A file without `objective:` is the built-in tabular objective's config (its own path,
tuner/tabular/model/run.py, with its schema). `tune best --export` writes such a file
for a sweep of any other objective (`exported_config`), so its best trial retrains with
`tune train` as the built-in one's does. A program's folder is the one the sweep ran it
in (absolute in the export), or relative to the config file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuner.errors import ConfigError
from tuner.program.spec import PREFIX, ProgramSpec
from tuner.space.yaml_file import Located, load_yaml

DEFAULT_OUT = Path("results") / "train"
KEY = "objective"


def names_objective(path: str | Path) -> bool:
    """Whether a trial config file names a non-built-in objective (read without
    TensorFlow; a file that cannot be read is left to the built-in path's errors)."""
    try:
        written = load_yaml(path).data.get(KEY)
    except ConfigError:
        return False
    return written is not None and written != "tabular"


def exported_config(ref: str, config: dict[str, Any]) -> dict[str, Any]:
    """The trial config as `tune best --export` writes it: with its objective, unless it
    is the built-in one (whose schema has no such key)."""
    if ref == "tabular":
        return config
    written: Any = ProgramSpec.from_ref(ref).written() if ref.startswith(PREFIX) else ref
    return {KEY: written, **config}


def train_file(
    path: str | Path,
    *,
    overrides: list[str] | None = None,
    out: str | Path | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the objective a config file names, once, into `out` (a folder of its own,
    as a trial's)."""
    from tuner.objective_loader import load_objective
    from tuner.space.yaml_file import parse_override
    from tuner.trial import checked_report

    located = load_yaml(path)
    for text in overrides or []:
        key, value = parse_override(text, {})
        located.override(key, value, f"--set {key}")
    ref = _reference(located)
    objective = load_objective(ref, where=located.where((KEY,)))
    config = {k: v for k, v in located.data.items() if k != KEY}
    if objective.prepare is not None:
        config = objective.prepare(config)
    declared = objective.metrics(config)
    out = Path(out) if out else DEFAULT_OUT / Path(path).stem
    epochs = config.get("epochs")

    def report(epoch: int, metrics: dict[str, float]) -> None:
        shown = "  ".join(
            f"{k} {v:.4f}" if math.isfinite(v) else f"{k} {v}"
            for k, v in metrics.items()
            if k in declared
        )
        echo(f"epoch {epoch}{f'/{epochs}' if epochs else ''}  {shown}")

    summary = objective.function(config, checked_report(report), out)
    echo(f"trial folder: {out}")
    return dict(summary or {})


def _reference(located: Located) -> str:
    written = located.data[KEY]
    if isinstance(written, str):
        return written
    if not isinstance(written, dict):
        raise ConfigError(
            f"key '{KEY}': expected a name (module:function) or a program's mapping",
            where=located.where((KEY,)),
        )
    from tuner.program.spec import parse

    folder = located.path.parent if located.path is not None else Path.cwd()
    return parse(written, folder.absolute(), located.where).ref
