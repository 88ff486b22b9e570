"""MLflow's unpublished parts that tuner relies on. Checked on MLflow 3.18 (pyproject
bounds it below the next major version)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def use_tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's fluent API pointed at `uri` for the block (its global tracking URI).
    `mlflow.tracking._tracking_service.utils._use_tracking_uri` where it exists (it also
    resets the fluent API's cached clients); else the public set_tracking_uri, put back
    after. Checked on MLflow 3.18."""
    import mlflow

    try:
        from mlflow.tracking._tracking_service.utils import _use_tracking_uri
    except ImportError:  # do what it does
        previous = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(uri)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(previous)
        return
    with _use_tracking_uri(uri):
        yield


def store_engine(client: Any) -> Any:
    """The SQLAlchemy engine of an MlflowClient's database store
    (`client._tracking_client.store.engine`), to set SQLite's pragmas on it. Stands in for
    a public accessor, which MLflow lacks; raises AttributeError for another store.
    Checked on MLflow 3.18."""
    return client._tracking_client.store.engine


def forget_artifact_repositories() -> None:
    """Clear MLflow's per-process cache of each run's artifact repository
    (`mlflow.tracking._tracking_service.utils._artifact_repos_cache`), if MLflow is
    loaded and has one: after a results folder moved, a cached one still writes to the
    old folder. Stands in for a public reset, which MLflow lacks. Checked on 3.18."""
    utils = sys.modules.get("mlflow.tracking._tracking_service.utils")
    cache = getattr(utils, "_artifact_repos_cache", None)
    if cache is not None and hasattr(cache, "clear"):
        cache.clear()
