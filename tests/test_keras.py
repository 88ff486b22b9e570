"""tuner.keras: the `Report` callback of Keras `fit` code. Its logic (names, epochs, the
kept history and its replay, a StopTrial held until `fit` ends) without Keras; then, in
slow tests, real `fit`s: a pruned fit stops, a fit resumed by BackupAndRestore reports
the epochs after its backup and replays the ones before. In a real sweep:
tests/sweep/test_keras_sweep.py."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tuner.keras import HISTORY, EpochReporter, metrics_of
from tuner.trial import StopTrial, TrialContext, checked_report, trial_scope


class Sink:
    """A report function that records what it is sent, and may stop the trial."""

    def __init__(self, stop_at: int | None = None):
        self.sent: list[tuple[int, dict[str, float]]] = []
        self.stop_at = stop_at

    def __call__(self, epoch: int, metrics: dict[str, float]) -> None:
        self.sent.append((epoch, metrics))
        if epoch == self.stop_at:
            raise StopTrial("pruned")


def test_logs_become_metrics_renamed_kept_and_numbers_only() -> None:
    import numpy as np

    logs = {
        "loss": 0.5,
        "val_auc": np.float32(0.75),
        "val_loss": float("nan"),  # undefined: reported, the sweep says so
        "note": "text",
        "flag": True,
        "vector": [1.0, 2.0],
    }
    assert metrics_of(logs) == {
        "loss": 0.5,
        "val_auc": 0.75,
        "val_loss": metrics_of(logs)["val_loss"],
    }
    assert math.isnan(metrics_of(logs)["val_loss"])
    assert metrics_of(logs, rename={"val_auc": "auc"}, keep=["auc"]) == {"auc": 0.75}
    assert metrics_of(None) == {}


def test_epochs_are_keras_epochs_plus_one(tmp_path: Path) -> None:
    sink = Sink()
    reporter = EpochReporter(sink, history=tmp_path / HISTORY)
    reporter.train_begin()
    for index in range(3):
        reporter.epoch_begin(index)
        assert not reporter.epoch_end(index, {"val_auc": 0.5 + index / 10})
    reporter.train_end(3)
    assert [e for e, _ in sink.sent] == [1, 2, 3]
    kept = json.loads((tmp_path / HISTORY).read_text())["epochs"]
    assert [(e["epoch"], e["metrics"]["val_auc"]) for e in kept] == [(1, 0.5), (2, 0.6), (3, 0.7)]


def test_a_stop_is_held_until_fit_ends_then_raised(tmp_path: Path) -> None:
    sink = Sink(stop_at=2)
    reporter = EpochReporter(sink, history=tmp_path / HISTORY)
    reporter.train_begin()
    reporter.epoch_begin(0)
    assert not reporter.epoch_end(0, {"val_auc": 0.5})
    assert reporter.epoch_end(1, {"val_auc": 0.4})  # → model.stop_training
    assert reporter.epoch_end(2, {"val_auc": 0.3})  # (nothing more is reported)
    with pytest.raises(StopTrial, match="pruned"):
        reporter.train_end(5)
    assert [e for e, _ in sink.sent] == [1, 2]


def _first_run(history: Path, epochs: int) -> list[tuple[int, dict[str, float]]]:
    sink = Sink()
    reporter = EpochReporter(sink, history=history)
    reporter.train_begin()
    for index in range(epochs):
        reporter.epoch_begin(index)
        reporter.epoch_end(index, {"val_auc": 0.1 * (index + 1)})
    return sink.sent


def test_a_resumed_fit_replays_the_epochs_of_its_backup(tmp_path: Path) -> None:
    """Run again after its worker died at epoch 3 with a backup of epoch 2 (the report of
    epoch 3 came before the backup): epochs 1-2 replayed with their values, epoch 3 is
    trained again and reported anew, never kept from the first run."""
    history = tmp_path / HISTORY
    first = _first_run(history, 3)
    sink = Sink()
    reporter = EpochReporter(sink, history=history)  # a new run: a new report function
    reporter.train_begin()
    reporter.epoch_begin(2)  # BackupAndRestore restored epoch 2
    assert sink.sent == first[:2]
    reporter.epoch_end(2, {"val_auc": 0.35})
    reporter.train_end(3)
    assert sink.sent == [*first[:2], (3, {"val_auc": 0.35})]
    kept = json.loads(history.read_text())["epochs"]
    assert [e["metrics"]["val_auc"] for e in kept] == [0.1, 0.2, 0.35]


def test_a_fit_resumed_after_its_last_epoch_still_reports_its_values(tmp_path: Path) -> None:
    history = tmp_path / HISTORY
    first = _first_run(history, 2)
    sink = Sink()
    reporter = EpochReporter(checked_report(sink), history=history)
    reporter.train_begin()
    reporter.train_end(2)  # fit ran no epoch: its backup is of the last one
    assert sink.sent == first


def test_a_fit_that_starts_over_forgets_the_kept_epochs(tmp_path: Path) -> None:
    history = tmp_path / HISTORY
    _first_run(history, 2)
    sink = Sink()
    reporter = EpochReporter(sink, history=history)
    reporter.train_begin()
    reporter.epoch_begin(0)  # no backup: from epoch 1 (the study tells a restart)
    reporter.epoch_end(0, {"val_auc": 0.9})
    assert sink.sent == [(1, {"val_auc": 0.9})]
    assert len(json.loads(history.read_text())["epochs"]) == 1


def test_a_second_fit_without_initial_epoch_says_what_to_pass(tmp_path: Path) -> None:
    sink = checked_report(Sink())
    first = EpochReporter(sink)
    first.train_begin()
    for index in range(2):
        first.epoch_begin(index)
        first.epoch_end(index, {"loss": 1.0})
    second = EpochReporter(sink)
    second.train_begin()
    with pytest.raises(ValueError, match="pass initial_epoch=2 to a later fit"):
        second.epoch_begin(0)
    second.train_begin()
    second.epoch_begin(2)  # initial_epoch=2: epochs 3, ...
    second.epoch_end(2, {"loss": 0.5})


def test_a_trial_keeps_its_history_in_its_folder(tmp_path: Path) -> None:
    from tuner.keras import default_history

    assert default_history() is None  # outside a trial: nothing kept
    with trial_scope(TrialContext(0, tmp_path)):
        assert default_history() == tmp_path / HISTORY


class Weights:
    """A model's weights as `save` and `restore` see them: the epoch that trained them."""

    def __init__(self) -> None:
        self.epoch = 0
        self.restored: list[str] = []

    def save(self, path: Path) -> None:
        path.write_text(str(self.epoch))

    def restore(self, path: Path) -> None:
        self.restored.append(path.read_text())


def _fit_epochs(
    history: Path, weights: Weights, values: list[float], start: int = 0, goal: str = "maximize"
) -> EpochReporter:
    """A `fit` from epoch `start + 1` reporting `values` with `restore_best`."""
    from tuner.space.model import Metric

    reporter = EpochReporter(
        Sink(), history=history, best=Metric("val_auc", goal), weights=history.parent / "w"
    )
    reporter.train_begin()
    for index, value in enumerate(values, start):
        reporter.epoch_begin(index)
        weights.epoch = index + 1
        reporter.epoch_end(index, {"val_auc": value}, save=weights.save)
    reporter.train_end(start + len(values), restore=weights.restore)
    return reporter


def test_restore_best_keeps_and_restores_the_best_epochs_weights(tmp_path: Path) -> None:
    weights = Weights()
    _fit_epochs(tmp_path / HISTORY, weights, [0.5, 0.8, 0.7, 0.8])
    assert weights.restored == ["2"]  # the earliest of equal values, as the sweep's
    (tmp_path / "low").mkdir()
    low = Weights()
    _fit_epochs(tmp_path / "low" / HISTORY, low, [0.5, 0.3, 0.4], goal="minimize")
    assert low.restored == ["2"]


def test_restore_best_counts_the_epochs_a_resumed_fit_replays(tmp_path: Path) -> None:
    """Killed after epoch 3 (its backup), the best at epoch 2: the re-run replays 1-3,
    trains 4 (worse), and ends with epoch 2's weights, kept by the first run. A backup
    older than the kept weights' epoch forgets them: that epoch is trained again."""
    history, weights = tmp_path / HISTORY, Weights()
    _fit_epochs(history, weights, [0.5, 0.9, 0.6])
    weights.restored.clear()
    _fit_epochs(history, weights, [0.7], start=3)
    assert weights.restored == ["2"]

    again = Weights()
    _fit_epochs(history, again, [0.55, 0.6], start=1)  # (a backup of epoch 1 only)
    assert again.restored == ["3"]  # epoch 3 of this run: 0.6 beats epoch 1's 0.5


def test_restore_best_without_kept_weights_warns_and_keeps_the_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tuner.space.model import Metric

    weights = Weights()
    reporter = EpochReporter(
        Sink(), history=tmp_path / HISTORY, best=Metric("val_auc", "maximize"), weights=None
    )
    reporter.train_begin()
    reporter.epoch_begin(0)
    reporter.epoch_end(0, {"val_auc": 0.5}, save=weights.save)
    reporter.train_end(1, restore=weights.restore)
    assert weights.restored == []  # (no weights file: scored by its last, or no sweep)
    unscored = EpochReporter(Sink(), history=tmp_path / "h.json", weights=tmp_path / "w")
    unscored.train_begin()
    unscored.epoch_begin(0)
    unscored.epoch_end(0, {"val_auc": 0.5}, save=weights.save)
    unscored.train_end(1, restore=weights.restore)
    assert weights.restored == [] and not (tmp_path / "w").exists()

    kept = EpochReporter(
        Sink(),
        history=tmp_path / "k.json",
        best=Metric("val_auc", "maximize"),
        weights=tmp_path / "gone",
    )
    kept.train_begin()
    kept.epoch_begin(0)
    kept.epoch_end(0, {"val_auc": 0.5})  # (no save function: nothing kept)
    kept.train_end(1, restore=weights.restore)
    assert weights.restored == []
    assert "weights of the best epoch (1) were not kept" in capsys.readouterr().err


def test_importing_the_callback_imports_no_keras() -> None:
    code = (
        "import sys\nfrom tuner.keras import Report\n"
        "print(sorted({'keras', 'tensorflow'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr[-2000:]


# ------------------------------------------------------------ real fits (TensorFlow)


def _fit(trial_dir: Path, report: Any, epochs: int, *extra: Any, restore_best: bool = False) -> Any:
    import keras
    import numpy as np

    from tuner.keras import Report

    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile("adam", "mse", metrics=[keras.metrics.AUC(name="auc")])
    backup = keras.callbacks.BackupAndRestore(trial_dir / "backup", delete_checkpoint=False)
    callback = Report(report, rename={"val_auc": "auc_v"}, restore_best=restore_best)
    assert isinstance(callback, (Report, keras.callbacks.Callback))
    model.fit(
        x[:180],
        y[:180],
        validation_data=(x[180:], y[180:]),
        epochs=epochs,
        verbose=0,
        callbacks=[backup, callback, *extra],
    )
    return model


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_pruned_fit_stops_at_the_end_of_its_epoch(tmp_path: Path) -> None:
    sink = Sink(stop_at=2)
    trained: list[int] = []
    import keras

    class Trace(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            trained.append(epoch + 1)

    with trial_scope(TrialContext(0, tmp_path)), pytest.raises(StopTrial):
        _fit(tmp_path, checked_report(sink), 6, Trace())
        pytest.fail("fit returned")  # (never reached: StopTrial leaves fit)
    assert trained == [1, 2] and [e for e, _ in sink.sent] == [1, 2]
    assert {"loss", "auc", "val_loss", "auc_v"} <= set(sink.sent[0][1])


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_fit_resumed_by_backup_and_restore_goes_on_from_its_epoch(tmp_path: Path) -> None:
    import keras

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if epoch == 1:
                raise KeyboardInterrupt  # (the process dies after epoch 2's backup)

    first = Sink()
    with trial_scope(TrialContext(0, tmp_path)), pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, checked_report(first), 4, Crash())

    class Trace(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            trained.append(epoch + 1)

    again, trained = Sink(), []
    with trial_scope(TrialContext(0, tmp_path, resume_epoch=2)):
        _fit(tmp_path, checked_report(again), 4, Trace())
    assert trained == [3, 4]  # not from epoch 1
    assert [e for e, _ in first.sent] == [1, 2]
    assert again.sent[:2] == first.sent  # replayed: the same values (the study's replay)
    assert [e for e, _ in again.sent] == [1, 2, 3, 4]  # 3 and 4 trained now


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_fit_with_restore_best_ends_with_the_scored_epochs_weights(tmp_path: Path) -> None:
    """The model `fit` leaves (what the objective saves to model/) is the scored epoch's:
    scored by the highest val_loss (an early epoch, as this model learns), its val_loss is
    that epoch's, not the last one's."""
    import numpy as np

    from tuner.keras import BEST_WEIGHTS
    from tuner.space.model import Metric

    sink = Sink()
    scored = TrialContext(0, tmp_path, scored_by=Metric("val_loss", "maximize"))
    with trial_scope(scored):
        model = _fit(tmp_path, checked_report(sink), 12, restore_best=True)
    losses = {e: m["val_loss"] for e, m in sink.sent}
    best = max(losses, key=lambda e: (losses[e], -e))
    assert best < 12 and losses[best] - losses[12] > 1e-3, losses  # (else it tests nothing)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    now = model.evaluate(x[180:], y[180:], verbose=0, return_dict=True)["loss"]
    assert now == pytest.approx(losses[best], rel=1e-5)
    assert (tmp_path / BEST_WEIGHTS).is_file()
    kept = json.loads((tmp_path / HISTORY).read_text())
    assert kept["best_weights"] == best
