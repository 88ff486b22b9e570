"""The study's records: the only code that reads or writes its user attributes.

Optuna keeps free-form `user_attrs` on a study and on each trial. tuner keeps there what
every verb needs from any machine that reaches the storage: on the study the space file
(its text and path), the objective, the metric and its goal, which epoch scores a trial,
the budget, the trial storage, the one-driver lock and what a warm start added; on each
trial the exact config it ran with, its Ray id, MLflow run, node and process, why it
failed or was pruned, its re-runs, and the epoch whose value is its value. Each key is
defined once, here; everything else reads them as `SweepRecord`
/ `TrialRecord` and writes them through the functions below, and the space file kept in
a study is parsed in one place (`SweepRecord.spec`, cached).

A warm start (tuner.study.warm_start) copies earlier sweeps' trials into a new study as
history, for the sampler and the pruner; `is_history` / `own_trials` is the one test
every reader of the sweep's own trials (budget, ranking, status, best, plots) applies.

Optuna and the space file's parser are imported inside the functions: reading a record
stays cheap for the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

    from tuner.space.model import Metric, SweepSpec

# study attributes
SPACE = "space"  # the space file's text
SPACE_PATH = "space_path"
OBJECTIVE = "objective"
METRIC = "metric"
GOAL = "goal"
METRICS = "metrics"  # every objective, [[name, goal], ...] (several: a Pareto front)
CONSTRAINTS = "constraints"  # [{"metric", "max", "min"}, ...]
SCORE = "score"  # which epoch's value is a trial's: "best" or "last" (absent: before either)
MAX_EPOCHS = "max_epochs"
UID = "uid"  # this sweep's identity (a --fresh sweep of the same name gets a new one)
TRIALS = "trials"  # the trial budget (after --trials)
CONCURRENCY = "concurrency"
# the folder holding <name>/trials/<n> (every node's): relative to the results folder
# when inside it (a moved sweep resumes where it is), else absolute
TRIAL_STORAGE = "trial_storage"
LOCK = "run_lock"  # the driver holding the sweep (tuner.study.lock)
WARM_START = "warm_start"  # what the warm start added (once: a resume never repeats it)
MLFLOW_PAGE = "mlflow_page"  # the sweep's MLflow runs page (`tune status` prints it)

# trial attributes
TRIAL_CONFIG = "config"  # the complete trial config the objective received
TRIAL_RAY_ID = "ray_trial_id"
TRIAL_RUN_ID = "mlflow_run_id"
TRIAL_NODE_ID = "node_id"
TRIAL_PID = "pid"
TRIAL_REASON = "reason"  # why a trial failed or was pruned
TRIAL_RETRIES = "retries"  # re-runs after its worker process died
TRIAL_VALUE_EPOCH = "value_epoch"  # the epoch whose value the trial was told (its model's)
TRIAL_EPOCH_VALUES = "values@"  # + epoch: the objectives' vector that epoch (several)
TRIAL_HISTORY = "history_of"  # {"sweep", "number"}: an earlier sweep's trial (warm start)
TRIAL_REPLAY = "replay_of"  # {"sweep", "number"}: an own trial re-running a history trial
# the trial number this one starts over for: a resumed trial whose objective started from
# scratch (reporting other values for epochs already recorded) is failed, and its config
# runs again as a new trial that does not count against the budget
TRIAL_RESTART_OF = "restart_of"


_GOALS = ("maximize", "minimize")


def _whole(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    return value if ok else None


@lru_cache(maxsize=32)
def _parse(text: str, where: str) -> SweepSpec | None:
    from tuner.errors import ConfigError
    from tuner.space.load import parse_spec

    try:
        return parse_spec(text, where, check_objective=False)
    except ConfigError:  # kept by another version of tuner: readers go on without it
        return None


@dataclass(frozen=True)
class SweepRecord:
    """What a sweep's study says about the sweep."""

    name: str
    space: str | None = None
    space_path: str | None = None
    objective: str | None = None
    metric_name: str = "value"
    goal: str = "minimize"
    max_epochs: int | None = None
    uid: str | None = None
    trials: int | None = None  # the budget, when the driver recorded it
    concurrency: int | None = None
    trial_storage: str | None = None
    objectives: tuple[tuple[str, str], ...] = ()  # (name, goal) of each, when several
    constraint_specs: tuple[dict[str, Any], ...] = ()
    score: str = "last"  # which epoch's value is a trial's (a study kept none: "last")
    mlflow_page: str | None = None  # the URL of its runs in the MLflow UI

    @classmethod
    def of(cls, study: optuna.Study) -> SweepRecord:
        from optuna.study import StudyDirection

        attrs = study.user_attrs
        goal = attrs.get(GOAL)
        if goal not in ("maximize", "minimize"):
            goal = "maximize" if study.directions[0] == StudyDirection.MAXIMIZE else "minimize"
        return cls(
            name=study.study_name,
            space=attrs.get(SPACE) or None,
            space_path=attrs.get(SPACE_PATH) or None,
            objective=attrs.get(OBJECTIVE),
            metric_name=str(attrs.get(METRIC) or "value"),
            goal=goal,
            max_epochs=attrs.get(MAX_EPOCHS),
            uid=attrs.get(UID),
            trials=_whole(attrs.get(TRIALS)),
            concurrency=_whole(attrs.get(CONCURRENCY)),
            trial_storage=attrs.get(TRIAL_STORAGE) or None,
            objectives=tuple((str(n), str(g)) for n, g in attrs.get(METRICS) or () if g in _GOALS),
            constraint_specs=tuple(c for c in attrs.get(CONSTRAINTS) or () if isinstance(c, dict)),
            score="best" if attrs.get(SCORE) == "best" else "last",
            mlflow_page=attrs.get(MLFLOW_PAGE) or None,
        )

    @property
    def metric(self) -> Metric:
        from tuner.space.model import Metric

        return Metric(self.metric_name, self.goal)

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """Every objective of the sweep, the first one `metric`."""
        from tuner.space.model import Metric

        return tuple(Metric(n, g) for n, g in self.objectives) or (self.metric,)

    @property
    def multi(self) -> bool:
        return len(self.metrics) > 1

    @property
    def constraints(self) -> tuple[Any, ...]:
        from tuner.space.model import Constraint

        return tuple(
            Constraint(str(c.get("metric")), max=c.get("max"), min=c.get("min"))
            for c in self.constraint_specs
        )

    @property
    def folder(self) -> Path | None:
        """The space file's folder: where the objective's module is looked for when
        Python cannot import it (`tuner.objective_loader.load_objective`)."""
        return Path(self.space_path).absolute().parent if self.space_path else None

    @property
    def where(self) -> str:
        """Where the kept space file came from, for messages about it."""
        return self.space_path or f"<study {self.name}>"

    def spec(self, *, strict: bool = False, check_objective: bool = False) -> SweepSpec | None:
        """The SweepSpec of the space file kept in the study: None if it keeps none, or
        (unless `strict`) one this version cannot read; `check_objective` also checks it
        against its objective (resuming runs it)."""
        if not self.space:
            return None
        if strict or check_objective:
            from tuner.space.load import parse_spec

            return parse_spec(self.space, self.where, check_objective=check_objective)
        return _parse(self.space, self.where)

    def budget(self) -> tuple[int | None, int | None]:
        """(trial budget, concurrency) the sweep ran with: recorded by the driver (after
        --trials/--concurrency), else from the space file; None where unknown."""
        trials, concurrency = self.trials, self.concurrency
        if trials is None or concurrency is None:
            spec = self.spec()
            if spec is not None:
                trials = trials if trials is not None else spec.budget.trials
                concurrency = concurrency if concurrency is not None else spec.concurrency
        return _whole(trials), _whole(concurrency)


def describe(study: optuna.Study, spec: SweepSpec) -> None:
    """Keep in the study what the other verbs (status, best, resume) need of `spec`;
    only what changed is written (each write is a journal record)."""
    import uuid

    attrs = {
        SPACE: spec.source,
        SPACE_PATH: str(spec.path.absolute()) if spec.path else None,  # (any cwd reads it)
        OBJECTIVE: spec.objective,
        METRIC: spec.metric.name,
        GOAL: spec.metric.goal,
        METRICS: [[m.name, m.goal] for m in spec.metrics] if spec.multi else None,
        CONSTRAINTS: [
            {
                k: v
                for k, v in (("metric", c.metric), ("max", c.max), ("min", c.min))
                if v is not None
            }
            for c in spec.constraints
        ]
        or None,
        SCORE: spec.score,
        MAX_EPOCHS: spec.budget.max_epochs,
        TRIALS: spec.budget.trials,
        CONCURRENCY: spec.concurrency,
    }
    if UID not in study.user_attrs:
        attrs[UID] = uuid.uuid4().hex
    for key, value in attrs.items():
        if value is None and key in (METRICS, CONSTRAINTS) and key not in study.user_attrs:
            continue  # a single-objective sweep's study holds what it always did
        if study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)


def write_mlflow_page(study: optuna.Study, url: str) -> None:
    """Keep the sweep's MLflow runs page, which only the driver's tracker knows (its
    experiment id), for `tune status` to print without opening MLflow."""
    if study.user_attrs.get(MLFLOW_PAGE) != url:
        study.set_user_attr(MLFLOW_PAGE, url)


def set_trial_storage(study: optuna.Study, root: str) -> None:
    """Keep the trial storage as `tuner.study.storage.record_trial_storage` writes it."""
    if study.user_attrs.get(TRIAL_STORAGE) != root:
        study.set_user_attr(TRIAL_STORAGE, root)


def read_lock(study: optuna.Study) -> dict[str, Any] | None:
    held = study.user_attrs.get(LOCK)
    return held if isinstance(held, dict) else None


def write_lock(study: optuna.Study, holder: dict[str, Any] | None) -> None:
    study.set_user_attr(LOCK, holder)


@dataclass(frozen=True)
class TrialRecord:
    """What the study says about one trial beyond Optuna's own fields."""

    number: int
    config: dict[str, Any] | None = None
    ray_trial_id: str | None = None
    run_id: str | None = None
    node_id: str | None = None
    pid: int | None = None
    reason: str | None = None
    retries: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    value_epoch: int | None = None  # the epoch whose value it was told (None: not told)

    @classmethod
    def of(cls, trial: optuna.trial.FrozenTrial) -> TrialRecord:
        attrs = trial.user_attrs
        config = attrs.get(TRIAL_CONFIG)
        return cls(
            number=trial.number,
            config=dict(config) if isinstance(config, dict) else None,
            ray_trial_id=attrs.get(TRIAL_RAY_ID),
            run_id=attrs.get(TRIAL_RUN_ID),
            node_id=attrs.get(TRIAL_NODE_ID),
            pid=attrs.get(TRIAL_PID),
            reason=attrs.get(TRIAL_REASON),
            retries=int(attrs.get(TRIAL_RETRIES) or 0),
            params=dict(trial.params),
            value_epoch=_whole(attrs.get(TRIAL_VALUE_EPOCH)),
        )

    def decoded_params(self) -> dict[str, Any]:
        """The sampled params as the objective received them (a list choice as its
        list, from the config), else as Optuna stores them."""
        config = self.config or {}
        return {k: config.get(k, v) for k, v in self.params.items()}


def write_trial(
    trial: optuna.Trial,
    *,
    config: dict[str, Any] | None = None,
    ray_trial_id: str | None = None,
    run_id: str | None = None,
    node_id: str | None = None,
    pid: int | None = None,
    reason: str | None = None,
    retries: int | None = None,
    value_epoch: int | None = None,
) -> None:
    """Record on a live trial what is given (None: left as it is)."""
    for key, value in (
        (TRIAL_CONFIG, config),
        (TRIAL_RAY_ID, ray_trial_id),
        (TRIAL_RUN_ID, run_id),
        (TRIAL_NODE_ID, node_id),
        (TRIAL_PID, pid),
        (TRIAL_REASON, reason),
        (TRIAL_RETRIES, retries),
        (TRIAL_VALUE_EPOCH, value_epoch),
    ):
        if value is not None:
            trial.set_user_attr(key, value)


def recorded_epochs(trial: optuna.trial.FrozenTrial, multi: bool) -> dict[int, tuple[float, ...]]:
    """What the study has of each of a trial's epochs: the objective's value (one), or
    every objective's (several: kept as trial attributes)."""
    if multi:
        return {epoch: tuple(v) for epoch, v in epoch_values(trial).items()}
    return {epoch: (value,) for epoch, value in trial.intermediate_values.items()}


def write_epoch_values(trial: optuna.Trial, epoch: int, values: list[float]) -> None:
    """One epoch's vector of objectives on a multi-objective trial: Optuna keeps no
    intermediate values for those (`Trial.report` raises), and the pareto pruner and a
    resume need them."""
    trial.set_user_attr(f"{TRIAL_EPOCH_VALUES}{epoch}", [float(v) for v in values])


def epoch_values(trial: optuna.trial.FrozenTrial) -> dict[int, list[float]]:
    """The vectors `write_epoch_values` kept, by epoch."""
    found: dict[int, list[float]] = {}
    for key, value in trial.user_attrs.items():
        if key.startswith(TRIAL_EPOCH_VALUES) and isinstance(value, list):
            with_epoch = key[len(TRIAL_EPOCH_VALUES) :]
            if with_epoch.isdigit():
                found[int(with_epoch)] = [float(v) for v in value]
    return dict(sorted(found.items()))


def write_violations(trial: optuna.Trial, violations: dict[str, float]) -> None:
    """Each constraint's violation (≤ 0: it holds) through Optuna's own constraint API,
    before the trial is told: the samplers that handle constraints (TPE, NSGA-II/III,
    GP) read them from the trial, and Optuna's Pareto-front plot draws infeasible trials
    apart."""
    for key, value in violations.items():
        trial.set_constraint(key, float(value))


def feasible(trial: optuna.trial.FrozenTrial) -> bool:
    """Within every constraint (a sweep without constraints: always)."""
    return all(float(v) <= 0 for v in trial.constraints.values())


# ---------------------------------------------------------------- warm-start history


def restart_of(trial: optuna.trial.FrozenTrial | optuna.Trial) -> int | None:
    """The trial a trial starts over for (see TRIAL_RESTART_OF), or None."""
    number = trial.user_attrs.get(TRIAL_RESTART_OF)
    return number if isinstance(number, int) else None


def is_history(trial: optuna.trial.FrozenTrial) -> bool:
    """An earlier sweep's trial that a warm start copied into this study: the sampler and
    the pruner learn from it (they read the study), but it is not this sweep's trial —
    not in its budget, counts, leaderboard, best, plots, nor exportable. The one test
    every reader of the sweep's own trials applies."""
    return TRIAL_HISTORY in trial.user_attrs


def own_trials(trials: Iterable[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """The sweep's own trials among `trials` (history left out), in the given order."""
    return [t for t in trials if not is_history(t)]


def history_source(trial: optuna.trial.FrozenTrial) -> tuple[str, int] | None:
    """(source sweep, its trial number) of a history trial; None for the sweep's own."""
    found = trial.user_attrs.get(TRIAL_HISTORY)
    if not isinstance(found, dict):
        return None
    return str(found.get("sweep")), int(found.get("number", -1))


def carried_attrs(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The attributes a history trial keeps of its source trial: its per-epoch vectors
    (several objectives: what the pareto pruner compares)."""
    return {k: v for k, v in trial.user_attrs.items() if k.startswith(TRIAL_EPOCH_VALUES)}


def history_attr(sweep: str, number: int) -> dict[str, Any]:
    """The trial attributes marking a history trial (`is_history`) and where it is from."""
    return {TRIAL_HISTORY: {"sweep": sweep, "number": number}}


def replay_attr(sweep: str, number: int) -> dict[str, Any]:
    """The attributes of an own trial enqueued to re-run an earlier sweep's trial."""
    return {TRIAL_REPLAY: {"sweep": sweep, "number": number}}


def read_warm_start(study: optuna.Study) -> dict[str, Any] | None:
    """What the sweep's warm start added (sources, history, the trials run first,
    skipped), or None when it had none."""
    found = study.user_attrs.get(WARM_START)
    return found if isinstance(found, dict) else None


def write_warm_start(study: optuna.Study, done: dict[str, Any]) -> None:
    study.set_user_attr(WARM_START, done)


def own_study(study: optuna.Study, *, keep_places: bool = False) -> optuna.Study:
    """`study` as Optuna's readers (its plots, parameter importances) should see it: the
    sweep's own trials only, under their own numbers. The study itself when it holds no
    history; else a view of it whose trial lists leave the history out (the same
    storage, read-only use).

    `keep_places`: the full list (`get_trials()` with no states) keeps a history trial's
    place with an empty WAITING trial of its number, so that a trial's number is still
    its position in the list, as in any study. Optuna's matplotlib optimization history
    finds a trial's value by that position (`values_info.values[num]`, optuna 5.1): on
    a list without the history it read past the end (IndexError) or another trial's
    value. A WAITING trial has no value: no point, and no best, is drawn for it."""

    if not any(map(is_history, study.get_trials(deepcopy=False))):
        return study
    from tuner.compat.optuna import filtered_view

    return filtered_view(study, _with_places if keep_places else _without_history)


def _without_history(
    trials: list[optuna.trial.FrozenTrial], every_state: bool
) -> list[optuna.trial.FrozenTrial]:
    """A trial list without the warm start's history."""
    return own_trials(trials)


def _with_places(
    trials: list[optuna.trial.FrozenTrial], every_state: bool
) -> list[optuna.trial.FrozenTrial]:
    """The full trial list (every state) with an empty trial in each history trial's
    place, so that a trial's number stays its index; a list by state leaves them out."""
    if not every_state:
        return own_trials(trials)
    return [_empty_place(t) if is_history(t) else t for t in trials]


def _empty_place(trial: optuna.trial.FrozenTrial) -> optuna.trial.FrozenTrial:
    """A trial of `trial`'s number with nothing in it: WAITING, no value, no params."""
    import optuna

    from tuner.compat.optuna import trial_id

    return optuna.trial.FrozenTrial(
        number=trial.number,
        state=optuna.trial.TrialState.WAITING,
        value=None,
        datetime_start=None,
        datetime_complete=None,
        params={},
        distributions={},
        user_attrs={},
        system_attrs={},
        intermediate_values={},
        trial_id=trial_id(trial),
    )
