"""What a sweep produced, read from its study: the best trial, the leaderboard, the plots.

Everything here reads the Optuna study (the single source of truth), so it works on a
running sweep, a finished one, and one reached through `--storage URL` from elsewhere.

- `leaderboard(study)`: one row per trial, best first: COMPLETE trials by value (in the
  study's direction), then RUNNING/WAITING and PRUNED trials by their last intermediate
  value, FAIL last; ties by trial number.
- `write_leaderboard(study, path)`: that table as CSV, written atomically.
- `write_plots(study, directory)`: PNGs of the optimization history, parallel
  coordinates, parameter importances and learning curves (intermediate values), each
  only when the study holds enough to draw it; a plot that cannot be drawn is skipped
  with a logged reason, never an error.
- `best_trial(study)`: the best COMPLETE trial, or None.

Optuna, pandas and matplotlib are imported inside the functions (the CLI stays cheap).
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.atomic import umask
from tuner.study.storage import ATTR_METRIC, TRIAL_REASON

if TYPE_CHECKING:
    import optuna
    import pandas

log = logging.getLogger(__name__)


def writable_folder(path: str | Path, what: str) -> Path:
    """Make sure files can be written in folder `path` (created with its parents if
    missing), before anything is: a results folder or export target on a read-only file
    system (which stops root too, unlike permissions) or that is a file is one
    ConfigError naming the option, not a traceback from deep inside a sweep."""
    from tuner.errors import ConfigError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what} {path}: not a folder", hint="it is a file; give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(
            f"{what} {path}: cannot write there: {exc.strerror or exc}",
            hint="give a folder on a writable file system",
        ) from None
    return path


# state → rank in the leaderboard (lower first)
_STATE_RANK = {"COMPLETE": 0, "RUNNING": 1, "WAITING": 2, "PRUNED": 3, "FAIL": 4}

PLOTS = (
    "optimization_history",
    "parallel_coordinate",
    "param_importances",
    "intermediate_values",
)


# ---------------------------------------------------------------- trials


def maximize(study: optuna.Study) -> bool:
    from optuna.study import StudyDirection

    return study.direction == StudyDirection.MAXIMIZE


def metric_name(study: optuna.Study) -> str:
    """The metric the study optimizes (its user attribute), or Optuna's generic name."""
    return str(study.user_attrs.get(ATTR_METRIC) or "value")


def finite(value: Any) -> bool:
    """A real, finite number (not a bool, not NaN): a value that can rank a trial."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def last_value(trial: optuna.trial.FrozenTrial) -> float | None:
    """The intermediate value of the trial's last reported epoch (None if none)."""
    if not trial.intermediate_values:
        return None
    return trial.intermediate_values[max(trial.intermediate_values)]


def best_epoch(trial: optuna.trial.FrozenTrial, higher: bool) -> tuple[int | None, float | None]:
    """(epoch, value) of the trial's best intermediate value; the earliest on a tie."""
    best: tuple[int | None, float | None] = (None, None)
    for step in sorted(trial.intermediate_values):
        value = trial.intermediate_values[step]
        if not finite(value):
            continue
        if best[1] is None or (value > best[1] if higher else value < best[1]):
            best = (step, value)
    return best


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The best COMPLETE trial (lowest number on a tie), or None when there is none."""
    from optuna.trial import TrialState

    higher = maximize(study)
    trials = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if finite(t.value)
    ]
    if not trials:
        return None
    return min(trials, key=lambda t: (-t.value if higher else t.value, t.number))


def sort_key(trial: optuna.trial.FrozenTrial, higher: bool) -> tuple[int, int, float, int]:
    """Leaderboard order: state rank, then the value (COMPLETE) or the last intermediate
    value (others) in the study's direction with missing values last, then number."""
    state = trial.state.name
    score = trial.value if state == "COMPLETE" else last_value(trial)
    missing = not finite(score)
    ordered = 0.0 if missing else (-score if higher else score)
    return (_STATE_RANK.get(state, 5), int(missing), ordered, trial.number)


def ordered_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    higher = maximize(study)
    return sorted(study.get_trials(deepcopy=False), key=lambda t: sort_key(t, higher))


def param_names(trials: Iterable[optuna.trial.FrozenTrial]) -> list[str]:
    """Every param of any trial, in order of first appearance by trial number."""
    names: dict[str, None] = {}
    for t in sorted(trials, key=lambda t: t.number):
        for name in t.params:
            names.setdefault(name, None)
    return list(names)


def duration_s(trial: optuna.trial.FrozenTrial) -> float | None:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


# ---------------------------------------------------------------- leaderboard

COLUMNS = (
    "number",
    "state",
    "value",
    "best_epoch",
    "best_value",
    "epochs",
    "duration_s",
)


def leaderboard(study: optuna.Study) -> pandas.DataFrame:
    """One row per trial, best first (see the module text).

    Columns: number, state, value (the trial's value; a pruned trial's is its last
    intermediate value), best_epoch and best_value (of its intermediate values, epochs
    counted from 1), epochs (how many epochs reported), duration_s, `param_<name>` for
    every param (empty where a conditional param was not sampled), reason."""
    import pandas as pd

    higher = maximize(study)
    trials = ordered_trials(study)
    names = param_names(trials)
    rows = []
    for t in trials:
        epoch, value = best_epoch(t, higher)
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state.name,
            "value": t.value if finite(t.value) else None,
            "best_epoch": epoch,
            "best_value": value,
            "epochs": len(t.intermediate_values),
            "duration_s": duration_s(t),
        }
        for name in names:
            row[f"param_{name}"] = t.params.get(name)
        row["reason"] = t.user_attrs.get(TRIAL_REASON)
        rows.append(row)
    columns = [*COLUMNS, *(f"param_{n}" for n in names), "reason"]
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.astype(
        {
            "number": "int64",
            "value": "float64",
            "best_epoch": "Int64",
            "best_value": "float64",
            "epochs": "int64",
            "duration_s": "float64",
        }
    )
    return frame


@contextmanager
def _atomic(path: Path):
    """Yields a temporary path beside `path`; renamed onto `path` when the block ends
    without an error, removed otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_leaderboard(study: optuna.Study, path: str | Path) -> Path:
    """The leaderboard as CSV at `path` (temporary file + rename: never half written)."""
    path = Path(path)
    frame = leaderboard(study)
    with _atomic(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


# ---------------------------------------------------------------- plots


class _Skip(Exception):
    """A plot the study cannot support yet (the message says why)."""


def write_plots(study: optuna.Study, directory: str | Path) -> list[Path]:
    """Write the plots that make sense for the study as PNGs under `directory`; returns
    the files written. A plot that cannot be drawn (too few trials, no varying param,
    an error inside Optuna or matplotlib) is skipped with a logged reason."""
    import matplotlib

    matplotlib.use("Agg")
    import optuna
    from optuna.trial import TrialState

    directory = Path(directory)
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE and finite(t.value)]
    metric = metric_name(study)

    def need_complete(n: int) -> None:
        if len(complete) < n:
            raise _Skip(f"needs {n} complete trial{'s' if n > 1 else ''}, has {len(complete)}")

    def varying() -> list[str]:
        names = [
            n for n in param_names(complete) if len({repr(t.params.get(n)) for t in complete}) > 1
        ]
        if not names:
            raise _Skip("no param varies across the complete trials")
        return names

    def history() -> Any:
        need_complete(1)
        from optuna.visualization.matplotlib import plot_optimization_history

        return plot_optimization_history(study, target_name=metric)

    def parallel() -> Any:
        need_complete(2)
        names = varying()
        from optuna.visualization.matplotlib import plot_parallel_coordinate

        return plot_parallel_coordinate(study, params=names, target_name=metric)

    def importances() -> Any:
        need_complete(2)
        varying()
        from optuna.visualization.matplotlib import plot_param_importances

        return plot_param_importances(study, target_name=metric)

    def curves() -> Any:
        return _learning_curves(trials, metric)

    makers: dict[str, Callable[[], Any]] = {
        "optimization_history": history,
        "parallel_coordinate": parallel,
        "param_importances": importances,
        "intermediate_values": curves,
    }
    written: list[Path] = []
    for name in PLOTS:
        path = directory / f"{name}.png"
        figure = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                # e.g. "few trials for the importance of `momentum`": noise at a sweep's end
                warnings.simplefilter("ignore", UserWarning)
                drawn = makers[name]()
                figure = _figure_of(drawn)
                figure.tight_layout()
                with _atomic(path) as tmp:
                    figure.savefig(tmp, format="png", dpi=100)
            written.append(path)
        except _Skip as why:
            log.info("plot %s skipped: %s", name, why)
        except Exception as exc:
            log.warning("plot %s skipped: %s: %s", name, type(exc).__name__, exc)
        finally:
            if figure is not None:
                _close(figure)
    return written


def _figure_of(drawn: Any) -> Any:
    """The Figure of what a plotting function returned (Axes, an array of Axes, a Figure)."""
    from matplotlib.figure import Figure

    if isinstance(drawn, Figure):
        return drawn
    if hasattr(drawn, "figure"):
        return drawn.figure
    try:
        return next(iter(drawn.flat)).figure  # numpy array of Axes
    except (AttributeError, StopIteration, TypeError):
        raise TypeError(f"cannot find the figure of {type(drawn).__name__}") from None


def _close(figure: Any) -> None:
    import matplotlib.pyplot as plt

    plt.close(figure)


def _learning_curves(trials: list[optuna.trial.FrozenTrial], metric: str) -> Any:
    """The metric per epoch of every trial that reported one, by final state."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    curves = [t for t in trials if t.intermediate_values]
    if not curves:
        raise _Skip("no trial reported an intermediate value")
    styles = {
        "COMPLETE": {"color": "tab:blue", "linestyle": "-", "alpha": 0.8},
        "PRUNED": {"color": "tab:orange", "linestyle": "--", "alpha": 0.7},
        "FAIL": {"color": "tab:red", "linestyle": ":", "alpha": 0.7},
        "RUNNING": {"color": "tab:green", "linestyle": "-", "alpha": 0.7},
    }
    other = {"color": "tab:gray", "linestyle": "-", "alpha": 0.6}
    figure = Figure(figsize=(8, 5))
    ax = figure.add_subplot()
    states: dict[str, None] = {}
    for t in curves:
        steps = sorted(t.intermediate_values)
        values = [t.intermediate_values[s] for s in steps]
        style = styles.get(t.state.name, other)
        ax.plot(steps, values, marker="." if len(steps) < 30 else None, linewidth=1, **style)
        states.setdefault(t.state.name, None)
    ax.set_title("Learning curves")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    handles = [Line2D([], [], **styles.get(s, other), label=s.lower()) for s in states]
    ax.legend(handles=handles, loc="best")
    return figure
