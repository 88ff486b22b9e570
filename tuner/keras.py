"""Keras `fit` code as an objective: `Report`, a callback that reports each epoch's logs
to the objective's `report(epoch, metrics)` and stops `fit` cleanly when the trial is
pruned or the sweep ends.

    import keras
    import tuner
    from tuner.keras import Report

    @tuner.objective(metrics=["val_auc", "val_loss"])
    def train(config, report, trial_dir):
        model = ...  # built and compiled, with metrics=[keras.metrics.AUC(name="auc")]
        model.fit(
            x, y, validation_data=(vx, vy), epochs=config["epochs"],
            callbacks=[
                keras.callbacks.BackupAndRestore(trial_dir / "backup", delete_checkpoint=False),
                Report(report),  # after BackupAndRestore (see below)
            ],
        )
        model.export(trial_dir / "model")  # what `tune best --export/--register` take

Names: Keras's own (`loss`, `auc`, `val_loss`, `val_auc`, ...), or as `rename` maps
them (`Report(report, rename={"val_auc": "auc"})`), only those in `keep` when given;
every number is reported (a NaN too: the sweep says a metric was undefined), anything
else (a string, a list) is left out. Epochs are Keras's, counted from 1: a `fit`
resumed by `BackupAndRestore` (or given `initial_epoch`) reports the epochs after it.
A second `fit` in the same trial passes `initial_epoch=` the epochs done so far.

Stopping: when `report` raises `tuner.trial.StopTrial` (pruned, or the sweep is ending),
the callback sets `model.stop_training` (the epoch ends, every callback's
`on_train_end` runs up to this one) and raises the StopTrial from `on_train_end`, out of
`fit` and the objective, for the trial runner; code after `fit` does not run.

Resume: a trial runs again in the same `trial_dir` after its worker died or its sweep
was interrupted. `BackupAndRestore` in the trial folder continues `fit` from its last
epoch instead of epoch 1. Put it before `Report` in the list, so each epoch is backed up
before it is reported, and keep its backup (`delete_checkpoint=False`) so that a trial
stopped by the ending of its sweep continues when the sweep resumes. `Report` keeps the
epochs it reported in the trial folder (`HISTORY`) and, when `fit` resumes after epoch
k, reports epochs 1..k again with the same values: the study takes them as a replay (a
re-run with other values would be a restart, run again as a new trial), and a trial
whose `fit` had finished still has its values.

The best epoch's weights: a sweep scores a trial by its best epoch (`score: best`, the
default with one metric), and `tune best --export/--register` take the model the trial
saved. `Report(report, restore_best=True)` keeps the weights of the best epoch so far by
the sweep's metric (`TrialContext.scored_by`) in the trial folder (`BEST_WEIGHTS`) and
sets them on the model when `fit` ends, so that the model saved after `fit` is the one
the trial's value was measured on — also after a resume (the epochs replayed count; put
`BackupAndRestore` first, as above). It does nothing where the trial is scored by its
last epoch (`score: last`, several metrics) or outside a sweep. A pruned or stopped
trial's `fit` raises before code after it runs, as without it.

Nothing here imports Keras until a `Report` is made: a module that imports it (and
`import tuner`) stays light.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import sys
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuner.space.model import Metric

HISTORY = "keras_report.json"  # in the trial folder: the epochs Report reported
BEST_WEIGHTS = "best.weights.h5"  # in the trial folder: the best epoch's (restore_best)

Reporter = Callable[[int, dict[str, float]], None]
# the last epoch reported through each report function (one per trial run), across the
# Report callbacks of one trial: a resumed fit replays only what this run has not sent
_sent: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def _number(value: Any) -> float | None:
    """A log value as a float, or None for what is not a number."""
    if isinstance(value, bool | str | bytes):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def metrics_of(
    logs: Mapping[str, Any] | None,
    rename: Mapping[str, str] | None = None,
    keep: Iterable[str] | None = None,
) -> dict[str, float]:
    """An epoch's Keras logs → the metrics to report: renamed, kept, numbers only."""
    rename = rename or {}
    kept = frozenset(keep) if keep is not None else None
    out: dict[str, float] = {}
    for key, value in (logs or {}).items():
        name = rename.get(key, key)
        number = _number(value)
        if number is not None and (kept is None or name in kept):
            out[name] = number
    return out


class EpochReporter:
    """What the `Report` callback does, without Keras: numbering, the kept history and
    its replay, a StopTrial held until `fit` ends, and which epoch's weights to keep and
    restore (`best`: the metric scoring the trial; `weights`: where they are kept)."""

    def __init__(
        self,
        report: Reporter,
        rename: Mapping[str, str] | None = None,
        keep: Iterable[str] | None = None,
        history: str | Path | None = None,
        best: Metric | None = None,
        weights: str | Path | None = None,
    ):
        self.report = report
        self.rename = dict(rename or {})
        self.keep = frozenset(keep) if keep is not None else None
        self.history = Path(history) if history is not None else None
        self.stopped: BaseException | None = None
        self.began = False
        self.metric = best
        self.weights = Path(weights) if weights is not None and best is not None else None
        self.best: tuple[int, float] | None = None  # the best epoch so far, and its value
        self.saved: int | None = None  # the epoch whose weights `weights` holds

    # --- the kept history ----------------------------------------------------
    def _load(self) -> dict[str, Any]:
        if self.history is None or not self.history.is_file():
            return {}
        try:
            found = json.loads(self.history.read_text())
        except (OSError, ValueError):
            return {}  # unreadable: nothing to replay (a re-run reports anew)
        return found if isinstance(found, dict) else {}

    def _read(self) -> list[dict[str, Any]]:
        entries = self._load().get("epochs")
        if not isinstance(entries, list):
            return []
        return [e for e in entries if isinstance(e, dict) and isinstance(e.get("epoch"), int)]

    def _write(self, entries: list[dict[str, Any]]) -> None:
        if self.history is None:
            return
        from tuner.atomic import write_text_atomic

        kept: dict[str, Any] = {"epochs": entries}
        if self.saved is not None:
            kept["best_weights"] = self.saved  # the epoch the weights file holds
        write_text_atomic(self.history, json.dumps(kept) + "\n")

    def _consider(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        """Whether `epoch` is the best so far by the scoring metric (strictly: the
        earliest of equal values stays, as the sweep's best epoch)."""
        if self.metric is None:
            return False
        value = metrics.get(self.metric.name)
        if value is None or not math.isfinite(value):
            return False
        if not self.metric.better(value, self.best[1] if self.best else None):
            return False
        self.best = (epoch, value)
        return True

    def _send(self, epoch: int, metrics: dict[str, float]) -> None:
        from tuner.trial import StopTrial

        try:
            self.report(epoch, metrics)
        except StopTrial as exc:
            self.stopped = self.stopped or exc
        finally:
            _remember(self.report, epoch)

    # --- the callback's moments ---------------------------------------------
    def train_begin(self) -> None:
        self.stopped, self.began = None, False

    def epoch_begin(self, index: int) -> None:
        """The first epoch of this `fit` (0-based, as Keras counts): replay what the
        history holds up to it, forget what lies beyond (retrained now)."""
        if self.began:
            return
        self.began = True
        self._replay(index)

    def _replay(self, start: int) -> None:
        sent = _sent.get(self.report, 0)
        if start < sent:
            raise ValueError(
                f"tuner.keras.Report: this fit starts at epoch {start + 1}, but epoch {sent} "
                f"was reported already: pass initial_epoch={sent} to a later fit"
            )
        entries = self._read()
        kept = [e for e in entries if e["epoch"] <= start]
        self.best = None
        for entry in kept:  # (every kept epoch is a candidate, re-sent or not)
            self._consider(entry["epoch"], dict(entry.get("metrics") or {}))
        saved = self._load().get("best_weights")
        self.saved = saved if isinstance(saved, int) and saved <= start else None
        if len(kept) != len(entries):
            self._write(kept)
        for entry in kept:
            if entry["epoch"] > sent and self.stopped is None:
                self._send(entry["epoch"], dict(entry.get("metrics") or {}))

    def epoch_end(
        self,
        index: int,
        logs: Mapping[str, Any] | None,
        save: Callable[[Path], None] | None = None,
    ) -> bool:
        """Report epoch `index + 1`; True when the trial must stop (set stop_training).
        `save(path)` writes the model's weights there: called, before the epoch is kept
        and reported, when it is the best so far."""
        if self.stopped is not None:
            return True
        epoch = index + 1
        metrics = metrics_of(logs, self.rename, self.keep)
        if self._consider(epoch, metrics) and save is not None and self.weights is not None:
            save(self.weights)
            self.saved = epoch
        if self.history is not None:
            entries = [e for e in self._read() if e["epoch"] < epoch]
            self._write([*entries, {"epoch": epoch, "metrics": metrics}])
        self._send(epoch, metrics)
        return self.stopped is not None

    def train_end(self, epochs: int | None, restore: Callable[[Path], None] | None = None) -> None:
        """`fit` ended: one that ran no epoch (resumed after its last) replays its
        history; `restore(path)` sets the best epoch's weights kept there (when kept:
        else a warning says the model stays the last epoch's); a StopTrial is raised
        now, out of `fit`."""
        if not self.began:
            self.began = True
            self._replay(epochs if epochs is not None else 0)
        if restore is not None and self.best is not None and self.weights is not None:
            if self.saved == self.best[0] and self.weights.is_file():
                restore(self.weights)
            else:
                print(
                    f"tune: warning: the weights of the best epoch ({self.best[0]}) were not "
                    f"kept in {self.weights}: the model is the last epoch's",
                    file=sys.stderr,
                )
        if self.stopped is not None:
            stopped, self.stopped = self.stopped, None
            raise stopped


def _remember(report: Reporter, epoch: int) -> None:
    with contextlib.suppress(TypeError):  # not weak-referenceable: nothing to remember
        _sent[report] = max(epoch, _sent.get(report, 0))


def default_history() -> Path | None:
    """The history file of the trial the caller runs in (None outside a trial)."""
    from tuner.trial import current_trial

    trial = current_trial()
    return trial.trial_dir / HISTORY if trial is not None else None


class Report:
    """Reports each epoch's logs to the objective's `report` (see `tuner.keras`):
    `Report(report, *, rename=None, keep=None, history=None, restore_best=False)`.

    `report`: the objective's report function; `rename`: Keras log name → the name the
    space file uses; `keep`: only these names (after renaming); `history`: where the
    reported epochs are kept for a resumed fit (default: the trial folder's `HISTORY`,
    inside a trial; none outside one); `restore_best`: the model ends `fit` with the
    weights of the epoch the sweep scores the trial by (see the module text). Making
    one imports Keras and returns a `keras.callbacks.Callback` (that is also a
    `Report`); importing this module does not."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Report:
            return _keras_report()(*args, **kwargs)
        return super().__new__(cls)


@functools.cache
def _keras_report() -> type:
    import keras

    class KerasReport(Report, keras.callbacks.Callback):
        __doc__ = Report.__doc__

        def __init__(
            self,
            report: Reporter,
            *,
            rename: Mapping[str, str] | None = None,
            keep: Iterable[str] | None = None,
            history: str | Path | None = None,
            restore_best: bool = False,
        ):
            from tuner.trial import current_trial

            keras.callbacks.Callback.__init__(self)
            where = history if history is not None else default_history()
            trial = current_trial() if restore_best else None
            metric = trial.scored_by if trial is not None else None
            weights = trial.trial_dir / BEST_WEIGHTS if trial is not None else None
            self.reporter = EpochReporter(report, rename, keep, where, metric, weights)

        def _save(self, path: Path) -> None:
            staged = path.with_name(f".{path.name}")  # (Keras wants the .weights.h5 end)
            self.model.save_weights(str(staged))
            os.replace(staged, path)

        def _restore(self, path: Path) -> None:
            self.model.load_weights(str(path))

        def on_train_begin(self, logs: Any = None) -> None:
            self.reporter.train_begin()

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.reporter.epoch_begin(epoch)
            if self.reporter.stopped is not None:
                self.model.stop_training = True

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if self.reporter.epoch_end(epoch, logs, save=self._save):
                self.model.stop_training = True

        def on_train_end(self, logs: Any = None) -> None:
            epochs = self.params.get("epochs") if self.params else None
            self.reporter.train_end(epochs, restore=self._restore)

    KerasReport.__module__ = __name__
    return KerasReport
