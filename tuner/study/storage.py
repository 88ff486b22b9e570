"""Where a sweep's study lives: the single source of truth for its trials.

Default: an Optuna journal file `results/<name>/study.journal` (measured here ~6× faster
than SQLite for the same work, and safe for several writers on one machine);
`--storage URL` takes any Optuna RDB URL (sqlite:///…, postgresql://…) or a
`journal:PATH` / `*.journal` path, so `tune status`, `tune best` and resume work from any
machine that reaches it. Study attributes hold what other verbs need without the space
file: its text, the objective, the metric and its goal.
"""

from __future__ import annotations

import errno
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tuner.errors import ConfigError, DataError, StorageFull
from tuner.redact import mask_text, mask_url

JOURNAL = "study.journal"
RESULTS = Path("results")

T = TypeVar("T")


def results_dir(path: str | Path | None = None) -> Path:
    return Path(path or RESULTS).absolute()


def sweep_dir(results: Path, name: str) -> Path:
    return results / name


def trial_dir(results: Path, name: str, number: int) -> Path:
    return results / name / "trials" / str(number)


def trial_root(study: Any, results: Path) -> Path:
    """The folder a sweep's trial folders live under (`<root>/<name>/trials/<n>`), from
    the trial storage kept in the study (`resolve_trial_storage`)."""
    from tuner.study.records import SweepRecord

    return resolve_trial_storage(SweepRecord.of(study).trial_storage, results, study.study_name)[0]


def resolve_trial_storage(kept: str | None, results: Path, name: str) -> tuple[Path, bool]:
    """(the trial storage a study's record `kept` names, given the results folder the
    sweep is found in now; whether an absolute folder it names was not reachable).

    A trial storage inside the results folder is kept relative to it (`record_trial_storage`),
    so a sweep whose folder was moved or copied resumes where it now is. Earlier versions
    kept it absolute; such a record means the results folder it ran in — this one, moved —
    when that folder holds this sweep's journal too (the folder it was copied from: a
    copy writes nothing back there), or when it is gone and this results folder holds the
    sweep's trial folders. An absolute folder elsewhere (`--trial-storage` on a cluster's
    shared filesystem) is used while it exists; otherwise the results folder."""
    results = Path(results).absolute()
    if not kept:
        return results, False
    path = Path(kept)
    if not path.is_absolute():
        return results / path, False
    if path == results or path.is_relative_to(results):
        return path, False
    if (sweep_dir(path, name) / JOURNAL).is_file():  # the results folder it was copied from
        return results, False
    if path.is_dir():
        return path, False
    moved = (sweep_dir(results, name) / "trials").is_dir()
    return results, not moved


def record_trial_storage(root: Path, results: Path) -> str:
    """How a study keeps its trial storage `root`: relative to the results folder when
    inside it (`.` for the results folder itself), else absolute."""
    root, results = Path(root).absolute(), Path(results).absolute()
    if root == results or root.is_relative_to(results):
        return root.relative_to(results).as_posix()
    return str(root)


def storage_url(results: Path, name: str, url: str | None = None) -> str:
    """The storage URL a sweep uses: `url` if given, else its journal file."""
    if url:
        return url
    return f"journal:{sweep_dir(results, name) / JOURNAL}"


def open_storage(url: str, write: bool = True) -> Any:
    """An Optuna storage for a URL (journal:PATH, PATH.journal, or an RDB URL). A journal
    is repaired first if a crash or a full disk tore it (tuner/study/journal.py); `write=False`
    (the read-only verbs) reads a torn tail it cannot repair as Optuna does, skipping it."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if url.startswith("journal:") or url.endswith(".journal"):
        path = Path(url.removeprefix("journal:")).absolute()
        if write:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():  # a read creates nothing
            raise ConfigError(f"no study journal at {path}", hint="check --storage/--results")
        _repair_journal(path, write)
        from tuner.study.fence import Fence  # the writer lock, checking the sweep's lock

        return JournalStorage(JournalFileBackend(str(path), lock_obj=Fence(str(path))))
    if "://" not in url:
        raise ConfigError(
            f"--storage '{mask_url(url)}'",
            hint="expected an Optuna RDB URL (sqlite:///…, postgresql://…) or journal:PATH",
        )
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return optuna.storages.RDBStorage(url, heartbeat_interval=None)
    except (ImportError, ModuleNotFoundError) as exc:
        raise ConfigError(
            f"--storage '{mask_url(url)}': {mask_text(str(exc))}",
            hint="install the database driver (PostgreSQL: pip install -e '.[cluster]')",
        ) from None
    except (SQLAlchemyError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"--storage '{mask_url(url)}': {mask_text(first)}",
            hint="check the database URL and that the server is up",
        ) from None


def _repair_journal(path: Path, write: bool) -> None:
    from tuner.study import journal

    try:
        done = journal.repair(path)
    except (OSError, StorageFull) as exc:
        if write:
            if isinstance(exc, StorageFull):
                raise
            raise DataError(
                f"the journal is torn and cannot be repaired: {exc.strerror or exc}",
                where=path,
                hint="make it writable and run the command again",
            ) from None
        damage = journal.scan(path.read_bytes())
        if damage is None or damage.tail_only:
            return  # Optuna's reader skips a torn last line
        raise DataError(
            f"line {damage.cuts[0][0]}: a torn record, not repaired here "
            f"({getattr(exc, 'strerror', None) or exc})",
            where=path,
            hint="run the command where the journal is writable, or with free space",
        ) from None
    if done is not None:
        print(f"tune: warning: {done.describe()}", file=sys.stderr)


DISK_FULL = ("No space left on device", "Disk quota exceeded", "database or disk is full")


def says_disk_full(text: str) -> bool:
    """Whether an error's text (a trial's one-line failure reason, say) is a full disk's."""
    return any(words in text for words in DISK_FULL)


def disk_full(exc: BaseException) -> BaseException | None:
    """The error in `exc`'s chain (itself, or one it was raised from or during) that says
    the disk is full: ENOSPC/EDQUOT from the journal or a trial folder, SQLite's "database
    or disk is full" from MLflow's store (SQLAlchemy and MLflow wrap it, Ray wraps
    callbacks'); None if none does."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return current
        if says_disk_full(str(current)):
            return current
        todo += [current.__cause__, current.__context__, getattr(current, "cause", None)]
    return None


def stop_on_full_disk(func: Callable[..., T]) -> Callable[..., T]:
    """A full disk anywhere under `func` ends it with one line (StorageFull), not a
    traceback: the study stays resumable, its torn tail repaired on the next open."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        except StorageFull:
            raise
        except Exception as exc:
            full = disk_full(exc)
            if full is None:
                raise
            first = (str(full).strip().splitlines() or [type(full).__name__])[0][:300]
            raise StorageFull(
                "no space left on the disk holding the sweep (its study, MLflow store "
                f"or trial folders: {mask_text(first)}); it stopped, losing at most the "
                "record being written",
                hint="free some space (or pass --results/--storage elsewhere) and run "
                "`tune resume` to continue",
            ) from None

    return wrapper


def find_study(results: Path, name: str, url: str | None = None) -> Any:
    """Load an existing sweep's study (for status, best, resume); a clear error if none."""
    import optuna

    target = storage_url(results, name, url)
    if url is None and not (sweep_dir(results, name) / JOURNAL).exists():
        raise ConfigError(
            f"no sweep named '{name}' under {results}",
            hint="see `tune ls`, or pass --results/--storage",
        )
    try:
        return optuna.load_study(study_name=name, storage=open_storage(target, write=False))
    except KeyError:
        raise ConfigError(f"no study '{name}' in {mask_url(target)}") from None


def list_sweeps(results: Path) -> list[str]:
    if not results.is_dir():
        return []
    return sorted(p.parent.name for p in results.glob(f"*/{JOURNAL}"))
