"""The MLflow page a sweep prints, as a person's browser shows it: headless Chromium on
the real MLflow UI server. Skipped where Chromium is not installed (`apt-get install
chromium`; ../shared/tools/shot installs it too)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed"),
]
AUC = {0: 0.71, 1: 0.93, 2: 0.82, 3: 0.64}  # trial number → its val_auc


def chromium(url: str, profile: Path, *what: str) -> subprocess.CompletedProcess:
    """Chromium, headless, given 20 s of virtual time for the page's scripts to load the
    runs (the UI fetches them after its first render)."""
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1600,1000",
            "--virtual-time-budget=20000",
            *what,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=150,
    )


def test_the_printed_url_shows_the_trials_sorted_by_the_metric(tmp_path, monkeypatch):
    from tuner.tracking.runs import Tracker, default_artifact_root, default_tracking_uri
    from tuner.tracking.ui import free_port, serve_ui, stop_ui, wait_ready

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    results = tmp_path / "results"
    uri = default_tracking_uri(results)
    tracker = Tracker(uri, default_artifact_root(results), flush_seconds=0)
    params = {"metric": "val_auc", "goal": "maximize", "params": "learning_rate"}
    parent = tracker.start_sweep("page", "name: page\n", None, "page", "journal:x", params)
    best = 0.0
    for number, auc in AUC.items():
        run = tracker.start_trial(parent, number, {"learning_rate": 0.001 * (number + 1)})
        for epoch in (1, 2, 3):
            tracker.log_epoch(run, epoch, {"val_auc": auc - 0.05 * (3 - epoch)})
        tracker.end_trial(run, "COMPLETE", auc)
        if auc > best:
            best = auc
            tracker.log_best(parent, auc, number + 1)
    tracker.end_sweep(parent)
    tracker.close()

    port = free_port()
    log = tmp_path / "ui.log"
    server = serve_ui(uri, port=port, artifact_root=default_artifact_root(results), log=log)
    try:
        wait_ready(f"http://127.0.0.1:{port}/health", 120, server, log)
        url = tracker.runs_url(f"http://127.0.0.1:{port}")
        assert "orderByKey=metrics.%60val_auc%60&orderByAsc=false" in url
        dom = chromium(url, tmp_path / "profile", "--dump-dom").stdout
        # a screenshot beside it, for a person to look at (pytest's tmp_path keeps it)
        chromium(url, tmp_path / "profile2", f"--screenshot={tmp_path / 'runs.png'}")
    finally:
        stop_ui(server)
    text = re.sub(r"<[^>]+>", " ", dom)
    shown = [int(n) for n in re.findall(r"\btrial-(\d+)\b", text)]
    order = list(dict.fromkeys(shown))  # each trial's first appearance on the page
    best_first = sorted(AUC, key=lambda n: -AUC[n])
    assert order == best_first, f"trials shown in the order {order}; expected {best_first}"
    assert "val_auc" in text  # the metric's column (and its chart)
    assert (tmp_path / "runs.png").stat().st_size > 10_000
