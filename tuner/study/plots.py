"""The sweep's plots, drawn from its study with optuna.visualization (matplotlib): the
optimization history, parallel coordinates, parameter importances and learning curves
(intermediate values), each only when the study holds enough to draw it. A plot that
cannot be drawn is skipped with a logged reason, never an error: the plots are the last
thing a sweep writes and must not fail it. Optuna and matplotlib are imported inside."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner import faults
from tuner.atomic import staged_file
from tuner.study.ranking import finite, objective_value, param_names
from tuner.study.records import SweepRecord, own_study

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

PLOTS = (
    "optimization_history",
    "parallel_coordinate",
    "param_importances",
    "intermediate_values",
    "pareto_front",  # several objectives only
)


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
    whole, study = study, own_study(study)  # a warm start's history is not the sweep's
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE and finite(objective_value(t))]
    record = SweepRecord.of(study)
    metric = record.metric.name
    # several objectives: the single-objective plots show the first (Optuna needs `target`)
    first: dict[str, Any] = {"target": objective_value} if record.multi else {}

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

        # the own trials at their places in the study (see own_study): not the history's
        in_place = own_study(whole, keep_places=True)
        return plot_optimization_history(in_place, target_name=metric, **first)

    def parallel() -> Any:
        need_complete(2)
        names = varying()
        from optuna.visualization.matplotlib import plot_parallel_coordinate

        return plot_parallel_coordinate(study, params=names, target_name=metric, **first)

    def importances() -> Any:
        need_complete(2)
        varying()
        from optuna.visualization.matplotlib import plot_param_importances

        return plot_param_importances(study, target_name=metric, **first)

    def curves() -> Any:
        return _learning_curves(trials, metric)

    def front() -> Any:
        if not record.multi:
            raise _Skip("one objective: no front")
        need_complete(1)
        from optuna.visualization.matplotlib import plot_pareto_front

        names = [m.name for m in record.metrics]
        if len(names) > 3:  # Optuna draws 2 or 3 axes: the first two objectives then
            return plot_pareto_front(study, targets=lambda t: t.values[:2], target_names=names[:2])
        # (infeasible trials are drawn apart where the sampler recorded the constraints)
        return plot_pareto_front(study, target_names=names)

    makers: dict[str, Callable[[], Any]] = {
        "optimization_history": history,
        "parallel_coordinate": parallel,
        "param_importances": importances,
        "intermediate_values": curves,
        "pareto_front": front,
    }
    written: list[Path] = []
    for name in PLOTS:
        faults.point("plot")  # (the resume tests' kill while a sweep's end is written)
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
                with staged_file(path) as tmp:
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

    from tuner.study.records import epoch_values

    def points(t: optuna.trial.FrozenTrial) -> dict[int, float]:
        if t.intermediate_values:
            return dict(t.intermediate_values)
        return {e: v[0] for e, v in epoch_values(t).items()}  # several objectives: the first

    curves = [(t, points(t)) for t in trials]
    curves = [(t, found) for t, found in curves if found]
    if not curves:
        raise _Skip("no trial reported an intermediate value")
    styles: dict[str, dict[str, Any]] = {
        "COMPLETE": {"color": "tab:blue", "linestyle": "-", "alpha": 0.8},
        "PRUNED": {"color": "tab:orange", "linestyle": "--", "alpha": 0.7},
        "FAIL": {"color": "tab:red", "linestyle": ":", "alpha": 0.7},
        "RUNNING": {"color": "tab:green", "linestyle": "-", "alpha": 0.7},
    }
    other: dict[str, Any] = {"color": "tab:gray", "linestyle": "-", "alpha": 0.6}
    figure = Figure(figsize=(8, 5))
    ax = figure.add_subplot()
    states: dict[str, None] = {}
    for t, found in curves:
        steps = sorted(found)
        values = [found[s] for s in steps]
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
