"""`tune best`: the best trials of a sweep, and the best one exported or registered.

Everything starts from the Optuna study (the single source of truth), so it works on a
finished sweep and on a running one (the best so far), also through `--storage URL`.

- `top_trials(study, k)`: the best k COMPLETE trials in the study's direction (lowest
  number on a tie); `best_table(...)` their rows as a JSON-ready dict (number, value,
  params, epochs, state, MLflow run id, trial folder); `render_best` as text.
- `export_best(study, results, name)`: `results/<name>/best/` (or `out`), written into a
  temporary folder and renamed into place (an older export is replaced):
  `config.yaml` — exactly the trial config the trial received (`tune train` retrains it);
  `model/` — the model the trial exported (copied, never retrained), or, for a trial
  that has none, the one its objective's `export_model` hook makes (the tabular
  objective rebuilds it from `config.yaml` + `schema.json` with the weights of the
  checkpoint its model is from); `metrics.json` — the trial's, plus the sweep, the trial
  number, the metric, `score` (best or last), the study's value and `value_epoch`, the
  epoch it is from; `space.yaml` — the space file narrowed to that point; and, when the
  trial has them, `schema.json` and, as `checkpoints/last`, the checkpoint of the
  model's weights (`model_checkpoint`: so the folder is also a `tune train --init-from`
  source that starts from the exported model).

A trial's value is its best epoch's under `score: best` (the default with one metric),
its last's under `score: last`: the study holds the value the sweep told and, as the
trial's `value_epoch`, its epoch; everything here reads those. The model is the trial's
`model/` as its objective left it: the tabular objective's is the scored epoch's
weights; a user objective's whatever it saved (see `tuner.trial.TrialContext.scored_by`).
- `trial_model(study, trial_dir, dest)`: the trial's exported model, or the one its
  objective's `export_model` hook makes (`tune best --register` logs it:
  `tuner.tracking.registry`).

The narrowed space file: MLflow- and Optuna-wise the sweep's own file, with `budget.trials`
1 and `concurrency` 1, and every param the trial sampled narrowed to the one value it
took (`{choice: [value]}`, its `when` dropped: it held); params the trial did not sample
(a `when` that did not hold) are left out. The params stay params, not `fixed` keys,
because a space file needs at least one (the published schema says so). Its `name` is
the sweep's: run it under another `--results`, or rename it, to train that point alone.

Optuna is imported inside the functions (the CLI stays cheap); TensorFlow and MLflow never
are: models are the objective's business (its hooks, `tuner.trial`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner import faults
from tuner.atomic import staged_dir
from tuner.errors import ConfigError
from tuner.one_trial import exported_config
from tuner.program.spec import PREFIX as PROGRAM_PREFIX
from tuner.space.yaml_file import dump_yaml
from tuner.study import storage
from tuner.study.ranking import finite, objective_value, top_trials
from tuner.study.records import SweepRecord, TrialRecord, feasible, history_source, own_trials
from tuner.trial import CHECKPOINTS, CONFIG, METRICS, MODEL  # the trial folder's names

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

BEST_DIR = "best"
SPACE = "space.yaml"
SCHEMA = "schema.json"


# ---------------------------------------------------------------- which trials


def load_sweep(results: Path, name: str, url: str | None = None) -> optuna.Study:
    """The study of sweep `name` (a ConfigError, exit 2, when there is none)."""
    import optuna

    from tuner.study.status import find_sweep

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return find_sweep(results, name, url)


def pick_trial(study: optuna.Study, number: int | None = None) -> optuna.trial.FrozenTrial:
    """The best COMPLETE trial, or COMPLETE trial `number`; a ConfigError if none."""
    if number is None:
        best = top_trials(study, 1)
        if not best:
            raise ConfigError(
                f"sweep '{study.study_name}' has no complete trial yet",
                hint="see `tune status " + study.study_name + "`",
            )
        return best[0]
    found = [t for t in study.get_trials(deepcopy=False) if t.number == number]
    if not found:
        raise ConfigError(f"sweep '{study.study_name}' has no trial {number}")
    source = history_source(found[0])
    if source is not None:
        raise ConfigError(
            f"trial {number} of sweep '{study.study_name}' is warm-start history (trial "
            f"{source[1]} of sweep '{source[0]}'), not one of this sweep's trials",
            hint=f"export it from its sweep: tune best {source[0]} --export --trial {source[1]}",
        )
    if found[0].state.name != "COMPLETE" or not finite(objective_value(found[0])):
        raise ConfigError(
            f"trial {number} of sweep '{study.study_name}' is {found[0].state.name}, not COMPLETE"
        )
    return found[0]


def study_spec(study: optuna.Study) -> Any:
    """The sweep's SweepSpec from the space file kept in the study (None if it keeps none)."""
    return SweepRecord.of(study).spec(strict=True)


def trial_config(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The exact trial config the trial received (its `config` user attribute); for a
    study written before that attribute existed, rebuilt from its params and the space."""
    config = TrialRecord.of(trial).config
    if config is not None:
        return config
    spec = study_spec(study)
    if spec is None:
        raise ConfigError(
            f"trial {trial.number} of sweep '{study.study_name}' keeps no trial config",
            hint="the study has neither the trial's `config` attribute nor the space file",
        )
    from tuner.search.distributions import config_from_params

    return config_from_params(spec, trial.params)


def _params(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The trial's sampled params, decoded (a list choice as its list) when the trial
    config has them."""
    return TrialRecord.of(trial).decoded_params()


def _epochs(trial: optuna.trial.FrozenTrial) -> int:
    from tuner.study.records import epoch_values

    steps = trial.intermediate_values or epoch_values(trial)  # several objectives: its own
    return max(steps) if steps else 0


def trial_row(trial: optuna.trial.FrozenTrial, results: Path, name: str) -> dict[str, Any]:
    from tuner.study.ranking import duration_s

    return {
        "number": trial.number,
        "value": objective_value(trial) if finite(objective_value(trial)) else None,
        "value_epoch": TrialRecord.of(trial).value_epoch,
        "params": _params(trial),
        "epochs": _epochs(trial),
        "state": trial.state.name,
        "mlflow_run_id": TrialRecord.of(trial).run_id,
        "trial_dir": str(storage.trial_dir(results, name, trial.number)),
        "duration_s": duration_s(trial),
    }


def front_row(
    trial: optuna.trial.FrozenTrial, results: Path, name: str, record: SweepRecord
) -> dict[str, Any]:
    """A trial of the Pareto front: `trial_row` and every objective's value."""
    row = trial_row(trial, results, name)
    row["values"] = {m.name: v for m, v in zip(record.metrics, trial.values or (), strict=False)}
    return row


def best_table(study: optuna.Study, results: Path, k: int = 1) -> dict[str, Any]:
    """`tune best --json`: the sweep, its metric and goal, and the top k complete trials."""
    record = SweepRecord.of(study)
    trials = own_trials(study.get_trials(deepcopy=False))
    complete = sum(t.state.name == "COMPLETE" for t in trials)
    name = study.study_name
    root = storage.trial_root(study, Path(results))
    table: dict[str, Any] = {
        "name": name,
        "metric": record.metric.name,
        "goal": record.goal,
        "score": record.score,
        "complete": complete,
        "total": len(trials),
        "running": sum(t.state.name == "RUNNING" for t in trials),
        "trials": [trial_row(t, root, name) for t in top_trials(study, k, record.metric)],
    }
    if record.multi:
        from tuner.study.ranking import pareto_trials

        table["metrics"] = [{"name": m.name, "goal": m.goal} for m in record.metrics]
        table["front"] = [front_row(t, root, name, record) for t in pareto_trials(study)]
        table["rule"] = f"the best {record.metric.name} within the constraints (or pass --trial N)"
    if record.constraints:
        table["constraints"] = [c.describe() for c in record.constraints]
        table["infeasible"] = sum(t.state.name == "COMPLETE" and not feasible(t) for t in trials)
    return table


# ---------------------------------------------------------------- the narrowed space


def narrow_space(
    text: str, config: dict[str, Any], trial: optuna.trial.FrozenTrial, sweep: str, metric: str
) -> str:
    """The space file text with every param narrowed to the trial's value (see the
    module text); YAML without the original's comments, keys in the original order."""
    import yaml

    from tuner.space.yaml_file import parse_yaml

    data = parse_yaml(text).data
    narrowed = {}
    for key in data.get("params") or {}:
        if key in trial.params:  # not: a conditional param the trial did not sample
            value = config[key] if key in config else trial.params[key]
            narrowed[key] = {"choice": [value]}  # its `when` held; one value needs none
    data["params"] = narrowed
    data["budget"] = {**(data.get("budget") or {}), "trials": 1}
    if "concurrency" in data:
        data["concurrency"] = 1
    head = (
        f"# sweep {sweep}, trial {trial.number} ({metric}={objective_value(trial)!r}):"
        " its space file\n"
        "# narrowed to that trial's point by `tune best --export`\n"
    )
    return head + yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


# ---------------------------------------------------------------- the model


def has_model(directory: Path) -> bool:
    """Whether a model folder holds a model: whatever the objective wrote there (tuner
    never looks inside; objectives write it whole, through a staged folder)."""
    return directory.is_dir() and any(directory.iterdir())


def trial_model(study: optuna.Study, trial_dir: Path, dest: Path) -> Path:
    """The trial's model: its exported `model/` copied to `dest`, else made there by its
    objective's `export_model` hook (the tabular objective rebuilds it from the checkpoint
    of the epoch its value is from); a clear error otherwise."""
    from tuner.trial import load_objective

    source = trial_dir / MODEL
    if has_model(source):
        shutil.copytree(source, dest)
        return dest
    if not trial_dir.is_dir():
        raise ConfigError(
            "the trial folder is missing",
            where=trial_dir,
            hint="pass the sweep's --results folder",
        )
    record = SweepRecord.of(study)
    ref = record.objective
    try:
        hook = load_objective(ref, folder=record.folder).export_model if ref else None
    except ConfigError as exc:  # not importable here: there is nothing to ask
        raise ConfigError(
            "the trial exported no model (its model/ folder is missing or empty)",
            where=trial_dir,
            hint=f"and its objective cannot be asked for one: {exc.message}",
        ) from None
    if hook is None:
        raise ConfigError(
            "the trial exported no model (its model/ folder is missing or empty)",
            where=trial_dir,
            hint="the program writes nothing there (give it the folder: --model_dir "
            "{trial_dir}/model in its command, or $TUNER_TRIAL_DIR/model)"
            if ref and ref.startswith(PROGRAM_PREFIX)
            else f"objective '{ref}' saves nothing to trial_dir/model and has no "
            "export_model hook to make one from the trial folder",
        )
    log.warning("trial folder %s has no exported model: its objective makes one", trial_dir)
    return hook(trial_dir, dest)


def model_checkpoint(trial_dir: Path, metrics: dict[str, Any]) -> Path | None:
    """The trial's checkpoint of its model's weights: `checkpoints/best` when its
    metrics.json says the model is its best epoch's (`model_checkpoint: best`, the
    tabular objective in a sweep scored by the best epoch), else `checkpoints/last`;
    None when it has not that one."""
    kept = "best" if metrics.get("model_checkpoint") == "best" else "last"
    found = trial_dir / CHECKPOINTS / kept
    return found if found.is_dir() else None


# ---------------------------------------------------------------- export


def next_step(study: optuna.Study, out: Path) -> str:
    """What to do with an export, in one line: `tune train` runs its config again (the
    config names its objective unless it is the built-in one; a module of the user's is
    imported where `tune train` runs, so say where that is)."""
    record = SweepRecord.of(study)
    ref = record.objective or "tabular"
    command = f"tune train {out / CONFIG}"
    if ref == "tabular" or ref.startswith(PROGRAM_PREFIX):
        return f"retrain it: {command}"
    where = f"cd {record.folder} && " if record.folder is not None else ""
    return f"retrain it: {where}{command} (where {ref.partition(':')[0]} imports)"


def _check_out(out: Path) -> None:
    """`out` may be new, empty, or an earlier export: never replace anything else. The
    export is staged beside it and renamed into place: both folders must be writable."""
    from tuner.atomic import writable_folder

    if not out.exists():
        writable_folder(out.parent, f"export to {out}: the folder")
        return
    if not out.is_dir():
        raise ConfigError("--out exists and is not a folder", where=out)
    entries = {p.name for p in out.iterdir()}
    if entries and not ({CONFIG, MODEL} <= entries or {CONFIG, METRICS} <= entries):
        raise ConfigError(
            "--out is a folder that is not an earlier export; refusing to replace it",
            where=out,
            hint="give a new or empty folder",
        )
    writable_folder(out, "export to")
    writable_folder(out.parent, f"export to {out}: the folder")
    if os.path.ismount(out):
        raise ConfigError(
            "--out is a mount point: an export is renamed into place",
            where=out,
            hint="give a folder inside it",
        )


def export_best(
    study: optuna.Study,
    results: str | Path,
    name: str,
    out: str | Path | None = None,
    number: int | None = None,
) -> Path:
    """Write the best (or COMPLETE trial `number`) trial's export; returns its folder."""
    record = SweepRecord.of(study)
    results = Path(results).absolute()
    trial = pick_trial(study, number)
    config = trial_config(study, trial)
    source = storage.trial_dir(storage.trial_root(study, results), name, trial.number)
    out = Path(out).absolute() if out else storage.sweep_dir(results, name) / BEST_DIR
    _check_out(out)
    with staged_dir(out) as tmp:
        dump_yaml(exported_config(record.objective or "tabular", config), tmp / CONFIG)
        trial_model(study, source, tmp / MODEL)
        metrics: dict[str, Any] = {}
        if (source / METRICS).is_file():
            metrics = json.loads((source / METRICS).read_text())
        metrics.update(
            sweep=name,
            number=trial.number,
            metric=record.metric.name,
            goal=record.goal,
            score=record.score,
            value=objective_value(trial),
            value_epoch=TrialRecord.of(trial).value_epoch,
            params=_params(trial),
            mlflow_run_id=TrialRecord.of(trial).run_id,
        )
        if record.multi:  # every objective, as the front shows it
            metrics["values"] = dict(
                zip([m.name for m in record.metrics], trial.values, strict=True)
            )
        (tmp / METRICS).write_text(json.dumps(metrics, indent=2, default=str) + "\n")
        if record.space:
            (tmp / SPACE).write_text(
                narrow_space(record.space, config, trial, name, record.metric.name)
            )
        else:
            log.warning("sweep %s keeps no space file: no %s written", name, SPACE)
        if (source / SCHEMA).is_file():
            shutil.copy2(source / SCHEMA, tmp / SCHEMA)
        kept = model_checkpoint(source, metrics)
        if kept is not None:  # (as `last`: where `tune train --init-from` looks)
            shutil.copytree(kept, tmp / CHECKPOINTS / "last")
        faults.point("export")
    return out


__all__ = [
    "best_table",
    "export_best",
    "has_model",
    "load_sweep",
    "pick_trial",
    "top_trials",
    "trial_model",
]


# ---------------------------------------------------------------- from the summary


def summary_table(results: Path, name: str, k: int) -> dict[str, Any] | None:
    """`best_table` from the sweep's current summary (tuner/study/summary.py), without
    replaying its journal; None when it has none current, or `k` is past what it keeps."""
    from tuner.study import summary

    if k > summary.KEEP_TOP:
        return None
    found = summary.read(results, name)
    return summary.best_of(found, k) if found is not None else None


def keep_summary(study: optuna.Study, results: Path, name: str) -> None:
    """Write the sweep's summary from its study, just read (the next read answers from
    it); a results folder it cannot be written to is left as it is."""
    from tuner.study import summary

    summary.refresh(study, results, name)
