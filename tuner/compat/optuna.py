"""Optuna's unpublished parts that tuner relies on. Checked on Optuna 5.1 (pyproject
bounds it below 5.2: Optuna changes its storages' insides between minor versions).

Light to import: Optuna is imported when a function is called or one of its classes
below is first looked up (`LazyRandomState`, `BaseJournalFileLock`, `LOCK_FILE_SUFFIX`),
so the journal's repair and `tune --help` stay free of it."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution

# How every record JournalFileBackend writes begins (json.dumps of a dict whose first key
# is op_code, with separators=(",", ":")), and the mark of a study user attribute's record
# (JournalOperation.SET_STUDY_USER_ATTR, in optuna.storages.journal._storage). Stand in
# for a public record format, which the journal lacks. Checked on Optuna 5.1.
JOURNAL_RECORD_START = b'{"op_code":'
SET_STUDY_USER_ATTR = 2
SET_STUDY_USER_ATTR_MARK = b'"op_code":%d,' % SET_STUDY_USER_ATTR

# Optuna's private classes and names, looked up on first use (see __getattr__):
_LAZY = {
    # the samplers' seeded random state, reseeded in place by
    # tuner.search.distributions.reseed (Optuna's `reseed_rng()` takes no seed)
    "LazyRandomState": "optuna.samplers._lazy_random_state",
    # the journal's writer-lock base class (the study's fence: the public
    # JournalFileSymlinkLock has no hook) and its symlink's suffix (the torn-tail repair)
    "BaseJournalFileLock": "optuna.storages.journal._file",
    "LOCK_FILE_SUFFIX": "optuna.storages.journal._file",
}


def __getattr__(name: str) -> Any:
    """Optuna's private names above, imported when first asked for. Checked on 5.1."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)


def trial_id(trial: optuna.trial.FrozenTrial | optuna.Trial) -> int:
    """The storage's id of a trial, to get a live `optuna.Trial` on a FrozenTrial
    (`optuna.trial.Trial(study, trial_id)`) or build a FrozenTrial in its place. Stands in
    for a public id, which FrozenTrial lacks (its `_trial_id`). Checked on Optuna 5.1."""
    return int(trial._trial_id)


def storage_of(study: optuna.Study) -> optuna.storages.BaseStorage:
    """The storage a study was opened on (`study._storage`), to open the same study again
    or delete it. Stands in for a public accessor, which Study lacks. Checked on 5.1."""
    return study._storage


def study_id(study: optuna.Study) -> int:
    """The storage's id of a study (`study._study_id`). Checked on Optuna 5.1."""
    return int(study._study_id)


def journal_writer_lock(storage: Any) -> Any | None:
    """The writer lock a JournalStorage's file backend takes around each append (its
    `_backend._lock`: the one passed as `lock_obj`), or None for another storage. Stands
    in for a public writer hook, which the journal lacks. Checked on Optuna 5.1."""
    backend = getattr(storage, "_backend", None)
    return getattr(backend, "_lock", None)


def contains(distribution: BaseDistribution, internal: float) -> bool:
    """Whether a value in Optuna's internal form lies in a distribution, on its step
    (`BaseDistribution._contains`). Stands in for a public check, which distributions
    lack. Checked on Optuna 5.1."""
    return bool(distribution._contains(internal))


Trials = list["optuna.trial.FrozenTrial"]


@functools.cache
def _filtered_class(transform: Callable[[Trials, bool], Trials]) -> type[optuna.Study]:
    import optuna

    class Filtered(optuna.Study):
        def _get_trials(
            self, deepcopy: bool = True, states: Any = None, use_cache: bool = False
        ) -> Trials:
            return transform(super()._get_trials(deepcopy, states, use_cache), states is None)

    return Filtered


def filtered_view(study: optuna.Study, transform: Callable[[Trials, bool], Trials]) -> optuna.Study:
    """A view of `study` whose every trial list (`get_trials`, `trials`, the lists its
    sampler and pruner read, cached or not) passes through `transform(trials, every
    state asked)`. A subclass overriding `Study._get_trials`, the one method all of them
    go through, swapped onto a shallow copy. Stands in for a public trial filter, which
    Optuna lacks. Checked on Optuna 5.1."""
    view = copy.copy(study)
    view.__class__ = _filtered_class(transform)
    return view
