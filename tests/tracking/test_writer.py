"""The MLflow writer process (tuner/tracking/writer.py) with a real SQLite store: what the
driver sends is written, in order, even when the driver is killed; the signals that stop
a sweep do not stop it; its errors come back as the in-process tracker's would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tuner.errors import ConfigError
from tuner.tracking.uri import default_artifact_root, default_tracking_uri

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _remote(results: Path):
    from tuner.tracking.writer import RemoteTracker

    lock = results / "w" / ".mlflow-writer.lock"
    uri = default_tracking_uri(results)
    return RemoteTracker(uri, default_artifact_root(results), lock).ready()


def _client(results: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(default_tracking_uri(results))


def _children(results: Path) -> dict[int, object]:
    client = _client(results)
    experiment = client.get_experiment_by_name("w")
    runs = client.search_runs([experiment.experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return {int(r.data.tags["tuner.trial_number"]): r for r in children}


def test_a_sweep_recorded_through_the_writer_is_complete(tmp_path: Path) -> None:
    tracker = _remote(tmp_path)
    parent = tracker.start_sweep("w", "name: w\n", None, "uid-1", "journal:x", {"budget.trials": 2})
    handles = [tracker.start_trial(parent, n, {"x": 0.1 * n}, {"ray": f"r{n}"}) for n in (0, 1)]
    assert all(h.startswith("pending-run:") for h in handles)  # returned at once
    for epoch in (1, 2, 3):
        for h in handles:
            tracker.log_epoch(h, epoch, {"score": epoch / 10})
    tracker.end_trial(handles[0], "COMPLETE", 0.3)
    tracker.end_trial(handles[1], "PRUNED", None, "pruned after epoch 3")
    tracker.log_best(parent, 0.3, 1)
    ids = [tracker.run_id(h) for h in handles]
    tracker.end_sweep(parent, "FINISHED")
    tracker.close()
    assert tracker.runs_url("http://ui").endswith(f"/#/experiments/{tracker.experiment_id}/runs")

    client, children = _client(tmp_path), _children(tmp_path)
    assert [children[n].info.run_id for n in (0, 1)] == ids
    assert [children[n].info.status for n in (0, 1)] == ["FINISHED", "KILLED"]
    for n in (0, 1):
        history = client.get_metric_history(ids[n], "score")
        assert [m.step for m in history] == [1, 2, 3]
        assert children[n].data.params == {"x": str(0.1 * n)}
    assert children[1].data.tags["reason"] == "pruned after epoch 3"
    assert client.get_run(parent).info.status == "FINISHED"
    assert [m.value for m in client.get_metric_history(parent, "best_value")] == [0.3]


DRIVER = """
import json, os, signal, sys
from pathlib import Path
from tests.tracking.test_writer import _remote
tracker = _remote(Path(sys.argv[1]))
parent = tracker.start_sweep("w", "name: w\\n", None, "uid-1", "journal:x", {})
handle = tracker.start_trial(parent, 0, {"x": 1}, {})
for epoch in range(1, 201):
    tracker.log_epoch(handle, epoch, {"score": epoch})
print(json.dumps({"writer": tracker.pid}), flush=True)
signal.signal(signal.SIGINT, signal.SIG_IGN)
os.killpg(0, signal.SIGINT)  # Ctrl-C reaches the whole job: the writer ignores it
os.kill(os.getpid(), signal.SIGKILL)  # and the driver dies before it flushes anything
"""


def _ended(pid: int) -> bool:
    """Gone, or a zombie its new parent has not reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_killed_driver_loses_nothing_it_sent_and_ctrl_c_does_not_stop_the_writer(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,  # its own process group, as a terminal job
        cwd=ROOT,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    writer = json.loads(done.stdout.splitlines()[-1])["writer"]
    # (run waited for the writer too: it holds the job's stdout until it has written all)
    assert _ended(writer)
    child = _children(tmp_path)[0]
    steps = [m.step for m in _client(tmp_path).get_metric_history(child.info.run_id, "score")]
    assert steps == list(range(1, 201))


def test_a_second_writer_waits_for_the_first_to_finish_writing(tmp_path: Path) -> None:
    import threading

    from tuner.tracking.writer import RemoteTracker

    first = _remote(tmp_path)
    parent = first.start_sweep("w", "name: w\n", None, "uid-1", "journal:x", {})
    lock = tmp_path / "w" / ".mlflow-writer.lock"
    second = RemoteTracker(default_tracking_uri(tmp_path), default_artifact_root(tmp_path), lock)
    second.ready()  # opening the store does not wait ...
    found: list[str] = []
    thread = threading.Thread(
        target=lambda: found.append(second.start_sweep("w", "", None, "uid-1", "journal:x", {}))
    )
    thread.start()
    thread.join(1.5)
    assert thread.is_alive() and not found  # ... its first write does
    first.close()
    thread.join(30)
    assert found == [parent]
    second.close()


def test_a_store_that_cannot_be_opened_is_the_same_one_line_error(tmp_path: Path) -> None:
    from tuner.tracking.writer import RemoteTracker

    remote = RemoteTracker("bogus://x", None, tmp_path / "w.lock")
    with pytest.raises(ConfigError) as caught:
        remote.ready()
    remote.close()
    assert str(caught.value).startswith("tracking URI 'bogus://x': ")
    assert "\n" not in str(caught.value)


def test_a_failed_write_is_raised_at_the_next_call_and_nothing_more_is_written(
    tmp_path: Path,
) -> None:
    from tuner.tracking.writer import TrackingFailed

    tracker = _remote(tmp_path)
    tracker.log_epoch("no-such-run", 1, {"score": 1.0})  # not a run: MLflow refuses it
    tracker.end_trial("no-such-run", "COMPLETE", 1.0)
    with pytest.raises(TrackingFailed, match=r"^MLflow: "):
        tracker.flush()
    with pytest.raises(TrackingFailed):
        tracker.log_epoch("no-such-run", 2, {"score": 1.0})
    tracker.close()
