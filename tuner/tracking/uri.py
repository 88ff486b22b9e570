"""Where a sweep's MLflow store is, and what kind it is, without importing MLflow (~3 s):
the command line checks a tracking URI before any sweep starts, and the driver decides
from it whether the store may be opened in the background (tuner/sweep/driver.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote, urlencode

from tuner.errors import ConfigError
from tuner.redact import mask_url

DB_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
# tracking URI schemes whose artifact location a server decides (we must not force a path)
SERVER_SCHEMES = ("http", "https", "databricks", "databricks-uc", "uc")


def default_tracking_uri(results: Path) -> str:
    """The embedded default: a SQLite file `<results>/mlflow.db`."""
    return f"sqlite:///{Path(results).absolute() / DB_FILE}"


def default_artifact_root(results: Path) -> Path:
    return Path(results).absolute() / ARTIFACTS_DIR


def resolve_tracking_uri(results: Path, explicit: str | None = None) -> str:
    """`--tracking-uri` if given, else `MLFLOW_TRACKING_URI`, else `<results>/mlflow.db`."""
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(results)


def check_writable_store(uri: str, what: str = "--tracking-uri") -> None:
    """A SQLite tracking store must be writable before a sweep starts: its folder
    (created if missing) and the database file if it exists. Other stores (a server,
    PostgreSQL) answer for themselves when the tracker connects."""
    from tuner.atomic import writable_folder

    if not uri.startswith("sqlite:///"):
        return
    db = Path(uri.removeprefix("sqlite:///"))
    writable_folder(db.parent, f"{what} {mask_url(uri)}: its folder")
    if db.exists():
        try:
            with open(db, "ab"):
                pass
        except OSError as exc:
            raise ConfigError(
                f"{what} {mask_url(uri)}: cannot write the database ({exc.strerror or exc})"
            ) from None


def scheme(uri: str) -> str:
    return uri.split("://", 1)[0].split("+", 1)[0].lower() if "://" in uri else ""


def is_server(tracking_uri: str) -> bool:
    """A tracking server (or Databricks): it decides where artifacts go, answers over
    the network (asked before a sweep writes anything) and has its own UI."""
    return scheme(tracking_uri) in SERVER_SCHEMES or tracking_uri in SERVER_SCHEMES


def manages_artifacts(tracking_uri: str) -> bool:
    """Whether runs logged to this store write artifacts where *we* say (not a server)."""
    return not is_server(tracking_uri)


def runs_url(
    ui_base: str, experiment_id: str | None, metric: str | None = None, goal: str = "maximize"
) -> str:
    """`<ui_base>/#/experiments/<id>/runs`: the training runs (the UI's own default for an
    experiment is its GenAI overview); the UI's root when there is no experiment.

    With the sweep's `metric`, the page opens on the comparison: the runs sorted by it,
    best first, beside their charts, the sidebar in its model-training mode
    (`?orderByKey=metrics.`<metric>`&orderByAsc=...&compareRunsMode=CHART&workflowType=
    machine_learning`, the page's own URL state in MLflow 3.18). Without it the page
    shows one collapsed parent row, no metric column, and the GenAI sidebar."""
    base = ui_base.rstrip("/")
    if experiment_id is None:
        return f"{base}/"
    url = f"{base}/#/experiments/{experiment_id}/runs"
    if not metric:
        return url
    query = {
        "orderByKey": f"metrics.`{metric}`",
        "orderByAsc": "true" if goal == "minimize" else "false",
        "compareRunsMode": "CHART",
        "workflowType": "machine_learning",  # the sidebar's "Model training" (not GenAI)
    }
    return f"{url}?{urlencode(query, quote_via=quote)}"
