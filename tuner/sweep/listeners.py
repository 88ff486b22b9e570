"""The listeners of a sweep (tuner/sweep/events.py): MLflow (`TrackerListener`, over
the tracker protocol: the writer process or the inline tracker), the live line
(`ProgressListener`) and the summary the reading verbs answer from (`SummaryListener`).
What each event means to MLflow, the screen or the summary lives here; the bridge only
announces."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.study import records, storage
from tuner.study.records import TrialRecord
from tuner.sweep.events import Ended, Listener, Started

if TYPE_CHECKING:
    import optuna

    from tuner.sweep.progress import Progress
    from tuner.tracking.protocol import SweepTracker

VALUE_EPOCH_TAG = "value_epoch"  # the MLflow tag: the epoch whose value is the trial's


class TrackerListener(Listener):
    """The sweep's MLflow record: a parent run, one child run per trial start. Its
    failures are handed to `on_failure` (the bridge stops the sweep, resumable) instead
    of raising inside Ray's callbacks, which ended the sweep and failed its running trials
    for good. MLflow is a cache of the study: a trial left RUNNING is written again when
    `tune resume` runs it. After a failure (not a full disk's: that stop is the disk's)
    nothing more is sent."""

    def __init__(
        self,
        tracker: SweepTracker,
        parent_run_id: str | None,
        on_failure: Callable[[BaseException], None],
    ):
        self.tracker = tracker
        self.parent = parent_run_id  # (None only with unit tests' fake trackers)
        self.on_failure = on_failure
        self.broken: BaseException | None = None
        self.runs: dict[int, str | None] = {}  # trial number → the tracker's run handle

    def _call(self, name: str, *args: Any) -> Any:
        if self.broken is not None:
            return None
        try:
            return getattr(self.tracker, name)(*args)
        except Exception as exc:
            if storage.disk_full(exc) is None:
                self.broken = exc
            self.on_failure(exc)
            return None

    def catch_up(self, finished: Sequence[optuna.trial.FrozenTrial], names: Sequence[str]) -> int:
        """Write to MLflow the finished trials it lacks, or has RUNNING: the study is the
        truth, and MLflow's last writes for them failed (the sweep then stopped,
        resumable) — each one's run with its config, the study's epochs, its state,
        value and reason."""
        if not finished:
            return 0
        statuses = self._call("trial_statuses", self.parent) or {}
        behind = [t for t in finished if statuses.get(t.number, "RUNNING") == "RUNNING"]
        multi = len(names) > 1
        for frozen in behind:
            record = TrialRecord.of(frozen)
            config = record.config or dict(frozen.params)
            run_id = self._call("start_trial", self.parent, frozen.number, config, {})
            if run_id is None:  # (the tracker failed again: the sweep stops)
                return 0
            self._replay(run_id, records.recorded_epochs(frozen, multi), names)
            value = frozen.values[0] if frozen.values else None
            if record.value_epoch is not None:
                self._call("set_tags", run_id, {VALUE_EPOCH_TAG: str(record.value_epoch)})
            self._call("end_trial", run_id, frozen.state.name, value, record.reason)
        return len(behind)

    def _replay(
        self, run_id: str, known: Mapping[int, Sequence[float]], names: Sequence[str]
    ) -> None:
        """The study's record of a trial's epochs, to its MLflow run: the study is the
        truth, MLflow a cache that may have lost the last writes before a kill (the
        tracker skips the epochs the run has)."""
        for epoch, values in sorted(known.items()):
            self._call("log_epoch", run_id, epoch, dict(zip(names, values, strict=True)))

    def trial_started(self, event: Started) -> None:
        run_id = self._call(
            "start_trial",
            self.parent,
            event.number,
            event.config,
            {"ray_trial_id": event.ray_trial_id},
        )
        self.runs[event.number] = run_id
        if run_id is not None and event.resumed:  # what MLflow lacks of its recorded epochs
            for epoch, metrics in sorted(event.epochs.items()):  # (a writer lost them, say)
                self._call("log_epoch", run_id, epoch, dict(metrics))

    def trial_placed(self, number: int, node: str | None, pid: int | None) -> None:
        if run_id := self.runs.get(number):
            self._call("set_tags", run_id, {"ray_node_id": str(node), "pid": str(pid)})

    def epoch_recorded(
        self, number: int, epoch: int, metrics: Mapping[str, float], value: float | None
    ) -> None:
        if run_id := self.runs.get(number):
            self._call("log_epoch", run_id, epoch, metrics)

    def trial_ending(self, number: int) -> Mapping[str, Any]:
        """The trial's MLflow run id in the study, while the trial can still take it (the
        tracker may create the run after the trial started: see tuner/tracking/writer.py)."""
        run_id = self.runs.get(number)
        found = self._call("run_id", run_id) if run_id else None
        return {"run_id": found} if found else {}

    def trial_finished(self, event: Ended) -> None:
        run_id = self.runs.pop(event.number, None)
        if not run_id:
            return
        if event.state == "RUNNING":  # left for the next run
            self._call("end_trial", run_id, "INTERRUPTED", None, f"interrupted: {event.reason}")
            return
        if event.feasible is not None:
            self._call("set_tags", run_id, {"feasible": str(event.feasible).lower()})
        if event.value_epoch is not None:
            self._call("set_tags", run_id, {VALUE_EPOCH_TAG: str(event.value_epoch)})
        value = event.value if event.feasible is not False else None  # never the best
        self._call("end_trial", run_id, event.state, value, event.reason)
        if event.best and value is not None:
            self._call("log_best", self.parent, value, event.finished)


class ProgressListener(Listener):
    """The live line of `tune run` (tuner/sweep/progress.py)."""

    def __init__(self, progress: Progress):
        self.progress = progress

    def trial_started(self, event: Started) -> None:
        self.progress.trial_started(event.number, dict(event.params))

    def epoch_recorded(
        self, number: int, epoch: int, metrics: Mapping[str, float], value: float | None
    ) -> None:
        if value is not None:
            self.progress.epoch(number, epoch, value)

    def trial_requeued(self, number: int, why: str) -> None:
        self.progress.trial_finished(number, "RUNNING", None, why)

    def trial_finished(self, event: Ended) -> None:
        if event.state == "RUNNING":
            self.progress.trial_finished(event.number, "RUNNING", None, event.reason)
            return
        why = f"infeasible: outside {', '.join(event.outside)}" if event.outside else event.reason
        best = None
        if event.best and event.value is not None:
            best = (event.value, event.number, dict(event.params))
        self.progress.trial_finished(
            event.number,
            event.state,
            event.value,
            why,
            best=best,
            front=dict(event.front) if event.front is not None else None,
        )


class SummaryListener(Listener):
    """Keeps the sweep's summary (tuner/study/summary.py) current as trials finish, so
    that `tune status`/`best`/`ls` need not replay the journal. Building it reads every
    trial, so it is throttled: at most once every `every` seconds, and no more than
    `share` of the driver's time (a long sweep's summary costs more to build, and is
    built less often). A sweep's end writes it once more (`flush`). A summary that
    cannot be built or written is only a cache lost: the readers replay the journal."""

    def __init__(
        self,
        study: optuna.Study,
        results: Path,
        name: str,
        *,
        every: float = 10.0,
        share: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.study, self.results, self.name = study, results, name
        self.every, self.share, self.clock = every, share, clock
        self.next_at = clock()  # (the first finished trial writes one)
        self.broken = False

    def trial_finished(self, event: Ended) -> None:
        if self.clock() >= self.next_at:
            self.flush()

    def flush(self) -> None:
        """Build and write the summary now."""
        from tuner.study import summary

        if self.broken:
            return
        began = self.clock()
        try:
            summary.refresh(self.study, self.results, self.name)
        except Exception as exc:  # (a cache: never the sweep's failure)
            self.broken = True
            print(f"tune: the sweep's summary.json is not kept ({exc})", file=sys.stderr)
        spent = self.clock() - began
        self.next_at = self.clock() + max(self.every, spent / self.share)
