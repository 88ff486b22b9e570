"""The driver-side record of a sweep: Ray trial ids ↔ Optuna trial numbers, every event
written once to the study (the source of truth), and the sweep's decisions — what to
ask, whether to prune, how a trial ended (tuner/sweep/verdict.py), why the sweep stops
(tuner/sweep/stop.py). What happened is then announced to the listeners
(tuner/sweep/events.py): MLflow and the live display are two; the bridge knows neither.

Ray calls its scheduler before its searcher for each result, so the scheduler's hook
records the epoch here first (intermediate value in the study, metrics in MLflow), then
asks the Optuna pruner; the searcher only asks and tells. Plain data in, plain data out:
the Ray classes around this stay thin.

A finished trial is told the value of its best epoch (`score: best`, the default with
one metric: of every epoch the study has of it, a resumed trial's earlier ones too) or
its last (`score: last`, several metrics), and that epoch is kept as its `value_epoch`;
the pruner compares each epoch's value as reported either way.
"""

from __future__ import annotations

import contextlib
import errno
import math
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from tuner import faults
from tuner.errors import LockLost
from tuner.search.pareto import ParetoRule, should_prune
from tuner.space.model import SweepSpec
from tuner.study import records, storage
from tuner.study.records import TrialRecord
from tuner.sweep.events import Ended, Listener, Started
from tuner.sweep.stop import Halt, Stop, after
from tuner.sweep.trial_runner import (
    CONFIG,
    CPU,
    EPOCH,
    FOLDER,
    GPU,
    NODE,
    NUMBER,
    OBJECTIVE,
    PID,
    RESUME,
    SCORED_BY,
    TRIAL_DIR,
)
from tuner.sweep.verdict import Ending, Facts, decide
from tuner.timeline import mark

if TYPE_CHECKING:
    import optuna

    from tuner.study.lock import SweepLock


@dataclass
class Running:
    number: int
    trial: optuna.trial.Trial
    config: dict[str, Any]
    last_epoch: int = 0
    last_value: float | None = None  # the first objective's
    last_vector: list[float] | None = None  # every objective's (several objectives)
    value_epoch: int | None = None  # the epoch of last_value (and last_vector)
    last_metrics: dict[str, float] = field(default_factory=dict)  # for the constraints
    # each epoch's metrics this run saw (the constraints read the scored epoch's)
    epoch_metrics: dict[int, dict[str, float]] = field(default_factory=dict)
    pruned: bool = False
    identified: bool = False
    failed: bool = False  # the trial reported its failure (see `failed`)
    reason: str | None = None  # ... in one line
    # what the study already has of each epoch (resume): the objective's value, or every
    # objective's (several); a re-run reporting other values started over (see record)
    known: dict[int, tuple[float, ...]] = field(default_factory=dict)
    restarted: int | None = None  # the epoch at which its objective was seen starting over
    pid: int | None = None  # the worker process running it (from its first report)
    died: str | None = None  # why, when its worker process died under it
    retries: int = 0  # times it was re-run after its worker process died
    dropped: int = 0  # times Ray ended it before it started (not counted as re-runs)
    queued_dropped: bool = False  # queued again after Ray dropped it (not a re-run)


@dataclass
class Counts:
    """What this run did: trials by the state it told, epochs it trained. `asked` is the
    count of the sweep's own trials asked for (any run's: the budget's measure; never a
    warm start's history); `before` the trials earlier runs finished. The rest is
    derived."""

    asked: int = 0
    before: int = 0
    epochs: int = 0
    by_state: dict[str, int] = field(default_factory=dict)

    restarted: int = 0  # trials failed to start over (not the objective's failures)

    @property
    def failed(self) -> int:
        return self.by_state.get("FAIL", 0)

    @property
    def finished(self) -> int:
        """Finished trials in the study, this run's and earlier runs'."""
        return self.before + sum(self.by_state.values())


DROPPED_STARTS = 3  # times a trial Ray drops before it starts is started again


def optuna_trial(study: optuna.Study, frozen: optuna.trial.FrozenTrial) -> optuna.Trial:
    """A live handle on a trial of the study, to write its attributes (a finished one's
    too: Optuna's storages take user attributes at any state)."""
    import optuna

    from tuner.compat.optuna import trial_id

    return optuna.trial.Trial(study, trial_id(frozen))


def _same(recorded: tuple[float, ...], reported: list[float | None]) -> bool:
    """A re-reported epoch is the recorded one: an objective resuming replays its values
    from its checkpoint's history — exactly, or as another route of a program wrote them
    (Keras prints 4 decimals, its TensorBoard files hold float32): equal to 4 decimals."""
    return len(recorded) == len(reported) and all(
        r is not None and math.isclose(a, r, rel_tol=1e-3, abs_tol=1e-4)
        for a, r in zip(recorded, reported, strict=True)
    )


def died_reason(message: str, pid: int | None = None) -> str:
    """One line from Ray's ActorDiedError text: which process died and how Ray saw it
    (e.g. "the worker process died (pid 812, killed or crashed; Ray: SYSTEM_ERROR,
    Worker unexpectedly exits with a connection error code 2. End of file)")."""
    import re

    text = " ".join(message.split())
    found = re.search(r"\bpid: (\d+)", text)
    pid = int(found.group(1)) if found else pid
    kind = re.search(r"Worker exit type: (\w+)", text)
    detail = re.search(r"Worker exit detail: (.*?)(?:\. (?:Some common|There are some)|$)", text)
    how = ", ".join(m.group(1).rstrip(".") for m in (kind, detail) if m)
    return (
        f"the worker process died (pid {pid if pid is not None else '?'}, killed or crashed"
        + (f"; Ray: {how})" if how else ")")
    )[:500]


class Bridge:
    def __init__(
        self,
        spec: SweepSpec,
        study: optuna.Study,
        results: Path,
        *,
        listeners: Iterable[Listener] = (),
        lock: SweepLock | None = None,
    ):
        self.spec = spec
        self.study = study
        self.results = results
        self.trial_root = storage.trial_root(study, results)  # --trial-storage, kept in the study
        # told what happened, in this order (the driver's: MLflow, then the live line)
        self.listeners: list[Listener] = list(listeners)
        self.metric = spec.metric.name
        self.goal = spec.metric  # the one rule for a better value (the first objective)
        self.goals = spec.metrics  # every objective (several: a multi-objective study)
        self.pareto = (
            ParetoRule.of(spec.pruner.options)
            if spec.multi and spec.pruner.type == "pareto"
            else None
        )
        self.running: dict[str, Running] = {}
        self.counts = Counts()
        self.halt: Halt | None = None  # why the sweep is ending early, if it is
        self.lock = lock  # the sweep's SweepLock: checked before asking and telling
        if lock is not None:
            lock.on_lost = self.lose
        self.cpu = spec.resources.cpu  # per trial, as granted
        self.gpu = spec.resources.gpu  # (0 when dropped: no GPU)
        self.started = time.monotonic()
        self._lock = threading.RLock()
        import optuna

        from tuner.study.ranking import best_trial, objective_value

        # The sweep's own trials: a warm start's history is the sampler's to learn from,
        # never part of the budget. Trials it enqueued to run first (WAITING) count when
        # asked, as every trial does.
        trials = records.own_trials(study.get_trials(deepcopy=False))
        waiting = optuna.trial.TrialState.WAITING
        # (a trial starting over for another is in the budget already: see TRIAL_RESTART_OF)
        anew = [t for t in trials if records.restart_of(t) is not None]
        self.counts.asked = sum(t.state != waiting for t in trials) - sum(
            t.state != waiting for t in anew
        )
        self.restarts = sum(t.state == waiting for t in anew)  # enqueued, not yet asked
        self.counts.before = sum(t.state.is_finished() for t in trials)
        # Kept from here on as trials are asked and enqueued, so that no step of a trial
        # lists the study (a per-trial cost that grew with the sweep): the sweep's own
        # trials (the seeded sampler's draw number) and every trial of the study (a
        # trial `study.ask` numbers at or past it is new, not an enqueued one popped).
        self.own = len(trials)
        self.total = len(study.get_trials(deepcopy=False))
        # several metrics: the Pareto front (number, values), kept as trials are told
        # (the front of the front and a new point is the front of all: no trial is read)
        self.front: list[tuple[int, list[float]]] = []
        if spec.multi:
            from tuner.study.ranking import pareto_trials

            self.front = [(t.number, list(t.values)) for t in pareto_trials(study)]
        # the pareto pruner's: every trial's vector at each epoch (epoch → number →
        # vector), as the study has them, kept as epochs are recorded
        self.vectors: dict[int, dict[int, list[float]]] = {}
        if self.pareto is not None:
            for t in study.get_trials(deepcopy=False):
                for epoch, found in records.epoch_values(t).items():
                    self.vectors.setdefault(epoch, {})[t.number] = found
        best = best_trial(study)  # the best so far, earlier runs' included
        self._best: float | None = objective_value(best) if best is not None else None
        # Trials a dead process left RUNNING run again first, under the same number with
        # the same config (the objective resumes from its checkpoint); they were counted
        # toward the budget when first asked.
        # (One without a config lost it to a torn journal record: its config is drawn
        # again in ask, keeping the params the study has.)
        self.stale = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
        self.finished = [t for t in trials if t.state.is_finished()]  # (for `catch_up`)
        self.resumed: list[int] = []
        self.retry: list[Running] = []  # trials whose worker died: run again first
        # trials the current Ray Tune run may still start (None: any); a re-run of one
        # whose worker died is not a new start (see driver._fit)
        self.quota: int | None = None

    @property
    def stopping(self) -> str | None:
        """Why the sweep is ending early, in words (None: it is not)."""
        halt = self.halt
        return halt.why if halt is not None else None

    @property
    def lost(self) -> str | None:
        """Another driver took the sweep over (why): write nothing more."""
        halt = self.halt
        return halt.lost if halt is not None else None

    @property
    def interrupted(self) -> bool:
        """Stopped in a way that leaves unfinished trials RUNNING (see Stop)."""
        halt = self.halt
        return halt is not None and halt.resumable

    def stop(self, kind: Stop, why: str, *, signum: int | None = None) -> bool:
        """End the sweep early, for `why`; the one place the stop state changes (the
        signal handler, the budget stopper, the lock's heartbeat thread and Ray's all
        call it). The first reason stands, except that a resumable stop replaces one that
        is not (Ctrl-C after the time ran out still leaves trials resumable). A second
        signal also hurries the end (no plots). Returns whether the reason changed."""
        return self._halt(kind, why, signum=signum)

    def _halt(
        self,
        kind: Stop,
        why: str,
        *,
        signum: int | None = None,
        error: BaseException | None = None,
        lost: bool = False,
    ) -> bool:
        with self._lock:
            before = self.halt
            self.halt = after(before, kind, why, signum=signum, error=error, lost=lost)
            changed = before is None or (before.kind, before.why) != (kind, why)
            changed = changed and (self.halt.kind, self.halt.why) == (kind, why)
            if changed:
                self._announce("sweep_stopping", self.halt)
            return changed

    def lose(self, why: str) -> None:
        """The sweep's lock is another driver's now: stop, leave everything as it is."""
        self._halt(Stop.LOCK_LOST, why, lost=True)

    def tracking_failed(self, exc: BaseException) -> None:
        """The tracker failed (the MLflow writer died again and again, its store broke):
        stop, leaving the running trials resumable; run_sweep raises it at the end. A
        full disk is the full disk's stop."""
        if storage.disk_full(exc) is not None:
            self.stop_on_full_disk(exc)
            return
        self._halt(Stop.TRACKING, "MLflow could not be written", error=exc)

    def stop_on_full_disk(self, exc: BaseException) -> None:
        """A full disk: stop, leaving the running trials resumable; run_sweep raises it."""
        self._halt(Stop.DISK_FULL, "no space left on the disk", error=exc)

    def _announce(self, event: str, *args: Any) -> None:
        """Tell every listener `event` (a method of tuner.sweep.events.Listener)."""
        for listener in self.listeners:
            getattr(listener, event)(*args)

    @contextlib.contextmanager
    def _fenced(self) -> Iterator[None]:
        """Around each step that writes to the study: a write the journal's fence refused
        (the lock was taken between the check and the write) stops the sweep as lost."""
        try:
            yield
        except LockLost as exc:
            self.lose(str(exc))

    def _holds(self, within: float = 0.0) -> bool:
        if self.lost is None and self.lock is not None and not self.lock.holds(within):
            self.lose(self.lock.lost or "the sweep's lock was lost")
        return self.lost is None

    def __getstate__(self) -> dict[str, Any]:
        # Ray pickles its searcher and scheduler for its own restore, which tuner does not
        # use (resume reopens the study); a bridge travels as an empty shell.
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def catch_up(self) -> int:
        """Hand the trials earlier runs finished to the listeners whose record may lack
        some (MLflow, when its last writes failed: see TrackerListener.catch_up), once,
        before any trial runs. Returns how many they wrote."""
        finished, self.finished = self.finished, []
        names = [m.name for m in self.goals]
        with self._lock:
            return sum(listener.catch_up(finished, names) for listener in self.listeners)

    # --- asking -------------------------------------------------------------
    def budget_left(self) -> int:
        return self.spec.budget.trials - self.counts.asked

    def more(self) -> bool:
        """Whether any trial is still to start: a re-run, a dead driver's, one starting
        over, or the budget's next."""
        return bool(self.retry or self.stale or self.restarts or self.budget_left() > 0)

    def waiting(self) -> bool:
        """Whether a running trial may still need to run again (its worker could die, or
        Ray drop it before it starts): the searcher must not tell Ray it is finished yet."""
        with self._lock:
            return bool(self.running) and not self.stopping

    def ask(self, ray_trial_id: str) -> dict[str, Any] | None:
        """A new Optuna trial and its Ray config, or None when the budget is spent."""
        from tuner.search.distributions import reseed, suggest

        with self._lock, self._fenced():
            spent = self.quota is not None and self.quota <= 0 and not self.retry
            if self.stopping or spent or not self.more():
                return None  # (Ray polls while trials run: no storage read for that)
            if len(self.running) >= self.spec.trials_at_once:
                return None  # the sweep's concurrency (see driver: not Ray's limiter)
            if not self._holds():
                return None
            known: dict[int, tuple[float, ...]] = {}
            retries = dropped = 0
            if self.quota is not None and not self.retry:
                self.quota -= 1
            if self.retry:  # same number, same config: resumes from its checkpoint
                again = self.retry.pop(0)
                trial, config, known = again.trial, again.config, again.known
                retries, dropped = again.retries, again.dropped
            elif self.stale:
                frozen = self.stale.pop(0)
                known = records.recorded_epochs(frozen, self.spec.multi)
                trial = optuna_trial(self.study, frozen)
                recorded = TrialRecord.of(frozen).config
                if recorded is None:  # its record was torn: the recorded params are kept
                    recorded = suggest(trial, self.spec)
                    records.write_trial(trial, config=recorded)
                config = dict(recorded)
                self.resumed.append(frozen.number)
            elif self.restarts or self.budget_left() > 0:
                if self.spec.sampler.seed is not None and not self.restarts:
                    # the draws a resume would repeat (by the sweep's own trials: the
                    # trial number, without a warm start)
                    reseed(self.study.sampler, self.spec.sampler.seed, self.own)
                trial = self.study.ask()  # (a trial starting over is enqueued: asked first)
                if trial.number >= self.total:  # a new trial (not an enqueued one)
                    self.total, self.own = trial.number + 1, self.own + 1
                config = suggest(trial, self.spec)
                if records.restart_of(trial) is not None:
                    self.restarts = max(0, self.restarts - 1)  # in the budget already
                else:
                    self.counts.asked += 1
                records.write_trial(trial, config=config)
            else:
                return None
            number = trial.number
            mark("trial_asked", number=number)
            records.write_trial(trial, ray_trial_id=ray_trial_id)
            self.running[ray_trial_id] = Running(
                number, trial, config, known=known, retries=retries, dropped=dropped
            )
            names = [m.name for m in self.goals]
            started = Started(
                number,
                config,
                dict(trial.params),
                ray_trial_id,
                resumed=number in self.resumed,
                epochs={e: dict(zip(names, v, strict=True)) for e, v in sorted(known.items())},
            )
            self._announce("trial_started", started)
            faults.point("trial_start")
            directory = storage.trial_dir(self.trial_root, self.spec.name, number)
            return {
                NUMBER: number,
                OBJECTIVE: self.spec.objective,
                CONFIG: config,
                TRIAL_DIR: str(directory),
                CPU: self.cpu,
                GPU: self.gpu,
                RESUME: max(known, default=0),
                FOLDER: str(self.spec.folder) if self.spec.folder else None,
                SCORED_BY: self._scored_by(),
            }
        return None  # the fence refused a write: the lock is lost

    # --- results ------------------------------------------------------------
    def failed(self, ray_trial_id: str, reason: str | None) -> None:
        """The trial reported its failure (its objective raised; `reason` its one line):
        `finish` fails it with that reason — unless it is a full disk, not the trial's
        fault: the sweep stops, the trial left resumable."""
        with self._lock:
            entry = self.running.get(ray_trial_id)
            if entry is None:
                return
            entry.failed, entry.reason = True, reason
            if storage.says_disk_full(reason or ""):
                entry.died = reason  # left RUNNING by finish: resumable
                self.stop_on_full_disk(OSError(errno.ENOSPC, reason))

    def record(self, ray_trial_id: str, result: dict[str, Any]) -> bool:
        """Record one reported epoch: the objective's metrics, its `epoch` and tuner's own
        `tuner_*` keys (where it runs: PID, NODE). Ray's keys are the Ray adapter's to drop.
        Returns True when the trial should be pruned."""
        with self._lock, self._fenced():
            entry = self.running.get(ray_trial_id)
            if not self._holds(within=self.lock.heartbeat_s if self.lock else 0.0):
                return False
            if entry is None:
                return False
            self._identify(entry, result)
            epoch = int(result.get(EPOCH, entry.last_epoch + 1))
            metrics = {
                k: float(v)
                for k, v in result.items()
                if k != EPOCH
                and not k.startswith("tuner_")  # (tuner's own: PID, NODE)
                and isinstance(v, int | float)
                and not isinstance(v, bool)
            }
            value = metrics.get(self.metric)
            replayed = epoch in entry.known  # a resumed trial re-reporting its checkpoint
            vector = [metrics.get(m.name) for m in self.goals]
            complete = all(v is not None and math.isfinite(v) for v in vector)
            if replayed and complete and not _same(entry.known[epoch], vector):
                # its objective started over (no checkpoint to continue from): its record
                # is not stitched from two runs — stop it; `finish` starts it over
                entry.restarted = epoch
                return True
            if self.spec.multi:
                if complete:
                    entry.last_vector = cast(list[float], vector)
                    if not replayed:
                        records.write_epoch_values(entry.trial, epoch, entry.last_vector)
                        entry.known[epoch] = tuple(entry.last_vector)
                        if self.pareto is not None:
                            self.vectors.setdefault(epoch, {})[entry.number] = entry.last_vector
                    entry.last_value, entry.value_epoch = value, epoch
            elif value is not None and math.isfinite(value):
                if not replayed:
                    entry.trial.report(value, epoch)
                    entry.known[epoch] = (value,)
                entry.last_value, entry.value_epoch = value, epoch
            entry.last_metrics.update(metrics)
            entry.epoch_metrics[epoch] = metrics
            entry.last_epoch = epoch
            self.counts.epochs += 0 if replayed else 1
            self._announce("epoch_recorded", entry.number, epoch, metrics, value)
            if replayed:
                return False
            faults.point("epoch")
            if self.spec.multi:
                prune = complete and self._dominated(entry, epoch, cast(list[float], vector))
            else:
                prune = value is not None and entry.trial.should_prune()
            if prune:
                entry.pruned = True
                self._announce("trial_pruned", entry.number, epoch)
                return True
            return False
        return False

    def _dominated(self, entry: Running, epoch: int, vector: list[float]) -> bool:
        """The pareto pruner's answer: the other trials' vectors at this epoch, as the
        study has them (finished and running trials, earlier runs' and a warm start's
        included) — kept by the bridge as epochs are recorded, not read from the study
        at each report. Comparing with each of them is the pruner's rule."""
        if self.pareto is None:
            return False
        at = self.vectors.get(epoch, {})
        others = [found for number, found in at.items() if number != entry.number]
        return should_prune(vector, epoch, others, self.goals, self.pareto)

    def _identify(self, entry: Running, result: dict[str, Any]) -> None:
        if entry.identified:
            return
        entry.identified = True
        node, pid = result.get(NODE), result.get(PID)
        entry.pid = pid
        records.write_trial(entry.trial, node_id=node, pid=pid)
        self._announce("trial_placed", entry.number, node, pid)

    def mark_pruned(self, ray_trial_id: str) -> None:
        with self._lock:
            entry = self.running.get(ray_trial_id)
            if entry is not None and not entry.pruned:
                entry.pruned = True
                self._announce("trial_pruned", entry.number, entry.last_epoch)

    def worker_died(self, ray_trial_id: str, error: BaseException | None) -> None:
        """Ray reports a trial's error: when its worker process died (killed, crashed,
        out of memory) rather than the objective failing, say so, so that `finish` can
        re-run it."""
        from ray.exceptions import RayActorError

        with self._lock:
            entry = self.running.get(ray_trial_id)
            if entry is None or not isinstance(error, RayActorError):
                return
            entry.died = died_reason(str(error), entry.pid)

    def dropped(self, ray_trial_id: str, why: str) -> None:
        """Ray ended a trial without telling its searcher (`ray_adapters.TrialWatch` saw
        it: Ray 2.60 does so when it cannot reset a reused worker process for the trial).
        Left as it was, the trial would stay RUNNING for ever and the sweep wait for it;
        instead it runs again under its number, as after a worker's death — a trial that
        never started up to DROPPED_STARTS times without using up budget.max_retries."""
        with self._lock:
            entry = self.running.get(ray_trial_id)
            if entry is None or self.stopping:  # (a stopping sweep's trials: see close)
                return
            entry.died = why
            entry.queued_dropped = not entry.identified and entry.dropped < DROPPED_STARTS
            entry.dropped += entry.queued_dropped
        self.finish(ray_trial_id, error=True)

    # --- telling ------------------------------------------------------------
    def finish(self, ray_trial_id: str, *, error: bool = False) -> None:
        """Tell the study how a trial ended (`error`: Ray ended it with an error): the
        verdict (tuner/sweep/verdict.py) carried out — PRUNED, FAIL (with a reason) or
        COMPLETE told, or the trial run again, started over, or left RUNNING."""
        import optuna

        with self._lock, self._fenced():
            entry = self.running.pop(ray_trial_id, None)
            if entry is None or not self._holds():
                return
            scored = self._scored(entry)
            verdict = decide(
                Facts(
                    errored=error,
                    failed=entry.failed,
                    reason=entry.reason,
                    died=entry.died,
                    dropped_again=entry.queued_dropped,
                    retries=entry.retries,
                    pruned=entry.pruned,
                    restarted=entry.restarted,
                    last_epoch=entry.last_epoch,
                    scored=scored is not None,
                    no_value=self._no_value_reason(entry),
                ),
                self.halt,
                max_epochs=self.spec.budget.max_epochs,
                max_retries=self.spec.budget.max_retries,
            )
            reason = verdict.reason
            if verdict.ending is Ending.RERUN:
                self._rerun(entry, cast(str, reason))
                return
            if verdict.ending is Ending.RESUMABLE:  # the next `tune run` continues it
                self._keep(entry)
                self._announce("trial_finished", Ended(entry.number, "RUNNING", reason=reason))
                return
            if verdict.ending is Ending.START_OVER:
                self.study.enqueue_trial(
                    dict(entry.trial.params), user_attrs={records.TRIAL_RESTART_OF: entry.number}
                )
                self.restarts += 1
                self.counts.restarted += 1
                self.total, self.own = self.total + 1, self.own + 1
            state = optuna.trial.TrialState[
                "FAIL" if verdict.ending is Ending.START_OVER else verdict.ending.value
            ]
            if reason:
                records.write_trial(entry.trial, reason=reason)
            if state != optuna.trial.TrialState.COMPLETE:
                scored = None
            if scored is not None:  # the epoch the trial is told (its model's: see score)
                records.write_trial(entry.trial, value_epoch=scored[0])
            self._keep(entry)
            outside = self._check_constraints(entry, state, scored[0] if scored else None)
            value = scored[1] if scored is not None else None
            told: float | list[float] | None = value
            if self.spec.multi and state == optuna.trial.TrialState.COMPLETE:
                told = entry.last_vector
            self.study.tell(entry.number, told, state=state)
            self._count(state.name)
            kept = None if outside else value  # (an infeasible one's: never the best)
            best = kept is not None and self.goal.better(kept, self._best)
            if best:
                self._best = kept
            front = None
            if self.spec.multi:
                front = self._front(entry.number, state.name, told, outside)
            self._announce(
                "trial_finished",
                Ended(
                    entry.number,
                    state.name,
                    value,  # (an infeasible trial's too: the live line shows it, and why)
                    reason,
                    value_epoch=scored[0] if scored is not None else None,
                    feasible=None if outside is None else not outside,
                    outside=outside or (),
                    best=best,
                    params=dict(entry.trial.params),
                    finished=self.counts.finished,
                    front=front,
                ),
            )
            faults.point("trial_end")

    def _front(
        self, number: int, state: str, told: Any, outside: list[str] | None
    ) -> dict[str, Any]:
        """The Pareto front's summary (ranking.front_summary) with trial `number` told:
        a feasible COMPLETE trial with every objective's value joins the kept front,
        which drops the points it dominates — no trial of the study is read."""
        from tuner.search.pareto import front
        from tuner.study.ranking import finite, summarize_front

        vector = list(told) if isinstance(told, list) else None
        if (
            state == "COMPLETE"
            and not outside
            and vector is not None
            and len(vector) == len(self.goals)
            and all(finite(v) for v in vector)
        ):
            points = [*self.front, (number, vector)]
            kept = set(front(points, self.goals))
            self.front = [p for p in points if p[0] in kept]
        return summarize_front(self.front, self.goals)

    def _scored_by(self) -> dict[str, str] | None:
        """The metric whose best epoch is a trial's value, for the objective (its
        `TrialContext.scored_by`: it keeps that epoch's weights as its model), or None
        when the trial's last epoch scores it."""
        metric = self.spec.scored_by
        return None if metric is None else {"name": metric.name, "goal": metric.goal}

    def _scored(self, entry: Running) -> tuple[int, float] | None:
        """(epoch, value) of the epoch whose value is the trial's, or None if it has none.
        `score: best`: its best epoch of all the study has of it (a resumed trial's earlier
        epochs too), the earliest of equal values, as the objective keeps its best
        checkpoint; NaN epochs never count (they are not recorded). `score: last`, and
        several objectives: the last epoch that reported a value (the whole vector)."""
        if self.spec.scored_by is None:
            if entry.last_value is None or entry.value_epoch is None:
                return None
            if self.spec.multi and entry.last_vector is None:
                return None
            return entry.value_epoch, entry.last_value
        best: tuple[int, float] | None = None
        for epoch in sorted(entry.known):
            value = entry.known[epoch][0]
            if math.isfinite(value) and self.goal.better(value, best[1] if best else None):
                best = (epoch, value)
        return best

    def _no_value_reason(self, entry: Running) -> str:
        """Why a trial that ended has no objective value: it never reported the metric,
        or reported it only as NaN (undefined: an AUC over rows of one class)."""
        undefined = [
            m.name
            for m in self.goals
            if m.name in entry.last_metrics and math.isnan(entry.last_metrics[m.name])
        ]
        if undefined:
            return (
                f"{', '.join(undefined)} was NaN (undefined), so the trial has no value (an "
                "AUC over a validation split of one class is undefined; see the trial's log)"
            )
        return f"it never reported {', '.join(m.name for m in self.goals)}"

    def _check_constraints(self, entry: Running, state: Any, epoch: int | None) -> list[str] | None:
        """Each constraint's violation on the trial (before it is told: the sampler reads
        them from the trial), at the `epoch` whose value is the trial's (the model it
        exports), else (pruned) at its last. Returns the constraints it lies outside
        (none: feasible), or None when none were checked."""
        if not self.spec.constraints or state.name not in ("COMPLETE", "PRUNED"):
            return None
        # (a metric that epoch lacks, or one an earlier run reported: as last seen)
        metrics = {**entry.last_metrics, **entry.epoch_metrics.get(epoch or 0, {})}
        violations = {
            c.describe(): c.violation(metrics.get(c.metric)) for c in self.spec.constraints
        }
        records.write_violations(entry.trial, violations)
        return [name for name, v in violations.items() if v > 0]

    def _keep(self, entry: Running) -> None:
        """What the listeners keep with the trial in the study (the MLflow run id), while
        the trial can still take it: just before it is told."""
        kept: dict[str, Any] = {}
        for listener in self.listeners:
            kept.update(listener.trial_ending(entry.number))
        if kept:
            records.write_trial(entry.trial, **kept)

    def _rerun(self, entry: Running, note: str) -> None:
        """Queue a trial whose worker died for a re-run under the same number and config
        (it resumes from its checkpoint); one Ray dropped before it started (`dropped`)
        is queued again without counting as a re-run (budget.max_retries)."""
        if not entry.queued_dropped:
            entry.retries += 1
            records.write_trial(entry.trial, retries=entry.retries)
        entry.failed, entry.reason, entry.identified = False, None, False
        self.retry.append(entry)
        self._announce("trial_requeued", entry.number, note)

    def close(self) -> None:
        """Settle the trials Ray stopped without reporting their end (the sweep stopped):
        left RUNNING for resume if the user interrupted, else failed as interrupted."""
        with self._lock, self._fenced():
            if self.running or self.retry:
                self.stop(Stop.ENDED, "the sweep ended while they ran")
            for entry in self.retry:  # re-runs never started: failed, or left resumable
                if not entry.queued_dropped:
                    entry.retries -= 1  # counted when queued; this one never ran
                    records.write_trial(entry.trial, retries=entry.retries)
                self.running[f"retry-{entry.number}"] = entry
                self.finish(f"retry-{entry.number}", error=True)
            self.retry.clear()
            for ray_trial_id in list(self.running):
                self.finish(ray_trial_id)

    def _count(self, state: str) -> None:
        self.counts.by_state[state] = self.counts.by_state.get(state, 0) + 1

    def too_many_failures(self) -> bool:
        limit = self.spec.budget.max_failures
        return limit is not None and self.counts.failed - self.counts.restarted >= limit

    def all_done(self) -> bool:
        with self._lock:
            return self.budget_left() <= 0 and not self.running
