"""A results folder moved or copied elsewhere: its MLflow store's artifact locations follow.

MLflow keeps every artifact location absolute: an experiment's `artifact_location` (tuner
creates each one as `<results>/mlartifacts/<name>`; MLflow makes even a relative one
absolute), and each run's `artifact_uri`, logged model's and model version's location
under it, copied from it when they were created. MLflow 3.18 has no way to change them
(no API updates an experiment's artifact location; the server's `--artifacts-destination`
serves only `mlflow-artifacts:` locations), so a moved results folder's store would send
every new artifact — the resumed sweep's leaderboard and plots, a registered model — back
to the old folder (or fail there: a full disk, a folder gone), and `tune ui` would look
for the artifacts there.

So the store in a results folder is made to say where it now is, before anything opens
it with MLflow (a sweep, `tune ui`, `tune best --register`): when the store is the
results folder's own `mlflow.db`, an experiment whose location is `<X>/mlartifacts/<e>`
in another folder X is taken as moved when the results folder holds `mlartifacts/<e>`
(the copy brought it along) or X's is gone; its locations — the experiment's, its runs',
its logged models' and model versions' under it — are rewritten to
`<results>/mlartifacts/<e>`, in one SQLite transaction. A store given elsewhere
(`--tracking-uri`, a server) is not touched: it is not part of the results folder.
The alternatives considered: relative locations (MLflow resolves them against the current
directory when the experiment is created, and every reader would have to run from the
results folder), or a custom artifact scheme (a plugin every MLflow process, the UI's
included, would have to load; a plain `mlflow ui` could not read the artifacts).

This writes MLflow's tables directly (their names and columns are those of MLflow 2 and
3: `experiments.artifact_location`, `runs.artifact_uri`, `logged_models.artifact_location`,
`model_versions.source` / `storage_location`); a table or column that is not there is
skipped. Only the standard library: it runs before MLflow is imported.
"""

from __future__ import annotations

import contextlib
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from tuner.errors import ServiceError
from tuner.tracking.uri import ARTIFACTS_DIR, DB_FILE

# (table, column, the experiment id column or None): every location under an experiment's
_LOCATIONS = (
    ("runs", "artifact_uri", "experiment_id"),
    ("logged_models", "artifact_location", "experiment_id"),
    ("model_versions", "source", None),
    ("model_versions", "storage_location", None),
)


@dataclass(frozen=True)
class Moved:
    """One experiment's artifact location rewritten."""

    experiment: int | str  # (its id as the table holds it)
    old: str
    new: str


def follow_move(tracking_uri: str, results: Path) -> list[Moved]:
    """Rewrite the artifact locations of the results folder's own store that point into
    the folder it was moved or copied from (see the module text); returns what moved. A
    store that cannot be written is a ServiceError (one line; a full disk's says so)."""
    db = _own_store(tracking_uri, Path(results).absolute())
    if db is None:
        return []
    root = db.parent / ARTIFACTS_DIR
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=60)) as connection:
            moves = _moves(connection, root)
            if moves:
                with connection:  # one transaction: all of it or nothing
                    columns = _columns(connection)
                    for move in moves:
                        _rewrite(connection, columns, move)
    except sqlite3.Error as exc:
        raise ServiceError(
            f"cannot point MLflow's artifact locations at the moved results folder ({exc})",
            where=db,
        ) from exc
    if moves:
        _forget_cached_locations()
    return moves


def _forget_cached_locations() -> None:
    """MLflow caches each run's artifact repository (by run id, for the process): one
    cached before the move (MLflow used in this process already) would still write to the
    old folder."""
    from tuner.compat.mlflow import forget_artifact_repositories

    forget_artifact_repositories()


def _moves(connection: sqlite3.Connection, root: Path) -> list[Moved]:
    """The experiments to move; none from a file that is not (yet) an MLflow store (an
    empty one a crash left, say: MLflow creates its tables, or says what is wrong)."""
    try:
        rows = connection.execute(
            "SELECT experiment_id, artifact_location FROM experiments"
        ).fetchall()
    except sqlite3.DatabaseError:
        return []
    return [m for exp_id, location in rows if (m := _move(exp_id, location, root))]


def _own_store(tracking_uri: str, results: Path) -> Path | None:
    """The SQLite file of `tracking_uri` when it is `results/mlflow.db` and exists."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    db = Path(tracking_uri.removeprefix("sqlite:///")).absolute()
    if db != results / DB_FILE or not db.is_file():
        return None
    return db


def _move(experiment: int | str, location: str | None, root: Path) -> Moved | None:
    """The experiment's new location when it is in another folder's `mlartifacts/` and
    that experiment has moved here (see the module text), else None."""
    path = _local_path(location)
    if path is None or path.parent.name != ARTIFACTS_DIR or path.parent == root:
        return None
    target = root / path.name
    if not (target.is_dir() or not path.exists()):
        return None  # both there: another store's artifacts, deliberately elsewhere
    assert location is not None
    new = target.as_uri() if location.startswith("file:") else str(target)
    return Moved(experiment, location, new)


def _local_path(location: str | None) -> Path | None:
    """The absolute local path of a `file:` URI or a plain absolute path; None for any
    other location (an object store, a server's `mlflow-artifacts:`)."""
    if not location:
        return None
    if location.startswith("file:"):
        parts = urllib.parse.urlparse(location)
        if parts.netloc not in ("", "localhost"):
            return None
        path = Path(urllib.parse.unquote(parts.path))
    elif "://" in location or ":" in location.split("/", 1)[0]:
        return None
    else:
        path = Path(location)
    return path if path.is_absolute() else None


def _columns(connection: sqlite3.Connection) -> set[tuple[str, str]]:
    found = set()
    for table in {t for t, _, _ in _LOCATIONS} | {"experiments"}:
        for row in connection.execute(f"PRAGMA table_info({table})"):
            found.add((table, row[1]))
    return found


def _rewrite(connection: sqlite3.Connection, columns: set[tuple[str, str]], move: Moved) -> None:
    """The experiment's location, and every location under it (`old` itself or
    `old/…`), from `old` to `new`."""
    connection.execute(
        "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
        (move.new, move.experiment),
    )
    for table, column, experiment_column in _LOCATIONS:
        if (table, column) not in columns:
            continue
        where = f"({column} = :old OR substr({column}, 1, :n) = :prefix)"
        if experiment_column is not None and (table, experiment_column) in columns:
            where += f" AND {experiment_column} = :experiment"
        connection.execute(
            f"UPDATE {table} SET {column} = :new || substr({column}, :n) WHERE {where}",
            {
                "old": move.old,
                "new": move.new,
                "prefix": move.old + "/",
                "n": len(move.old) + 1,
                "experiment": move.experiment,
            },
        )


def describe(moves: list[Moved]) -> str:
    """One line saying what `follow_move` did."""
    before = sorted({str(_local_path(m.old).parent) for m in moves})  # type: ignore[union-attr]
    after = _local_path(moves[0].new).parent  # type: ignore[union-attr]
    return (
        f"the results folder was moved: MLflow's artifact locations of {len(moves)} "
        f"experiment{'s' if len(moves) != 1 else ''} now point to {after} "
        f"(were {', '.join(before)})"
    )
