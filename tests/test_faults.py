"""The fault-injection hook the resume tests rely on (`tuner.faults.point`):
`TUNER_FAULT=name[:n]` SIGKILLs the process exactly at the n-th pass of `point(name)`
and not before (the 1st without `:n`); another name, an n never reached or no
TUNER_FAULT at all changes nothing; with TUNER_DRIVER_PID it kills that process (the
driver, from a trial's worker) and then itself.

If the hook killed one call early or late, test_resume.py's "SIGKILL at named moments"
would test other moments than it says. Each case runs in a small child process (~30 ms:
it imports only the hook); only the harmless cases run in this process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tuner import faults

ROOT = Path(__file__).resolve().parents[2]

# passes point(argv[1]) five times, printing the pass number just before each
CHILD = """\
import sys
from tuner import faults
for i in range(1, 6):
    print(i, flush=True)
    faults.point(sys.argv[1])
    if len(sys.argv) > 2:
        faults.point(sys.argv[2])  # another point in between, counted apart
print("done", flush=True)
"""


def child(*points: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("TUNER_FAULT", "TUNER_DRIVER_PID")}
    return subprocess.run(
        [sys.executable, "-c", CHILD, *points],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    ("fault", "passes"),
    [("epoch:3", 3), ("epoch", 1), ("epoch:1", 1), ("epoch:5", 5)],
)
def test_the_process_is_killed_exactly_at_the_nth_pass(fault: str, passes: int) -> None:
    done = child("epoch", TUNER_FAULT=fault)

    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout.split() == [str(i) for i in range(1, passes + 1)]


def test_each_point_counts_its_own_passes() -> None:
    done = child("trial_start", "epoch", TUNER_FAULT="epoch:2")

    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout.split() == ["1", "2"]


@pytest.mark.parametrize(
    "env",
    [{}, {"TUNER_FAULT": ""}, {"TUNER_FAULT": "trial_end:1"}, {"TUNER_FAULT": "epoch:6"}],
    ids=["unset", "empty", "another-point", "never-reached"],
)
def test_no_fault_for_this_point_changes_nothing(env: dict[str, str]) -> None:
    done = child("epoch", **env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "2", "3", "4", "5", "done"]


def test_a_named_driver_is_killed_and_then_the_process_itself() -> None:
    driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        done = child("checkpoint", TUNER_FAULT="checkpoint:2", TUNER_DRIVER_PID=str(driver.pid))
        assert driver.wait(timeout=10) == -signal.SIGKILL
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()

    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout.split() == ["1", "2"]


def test_a_point_not_named_costs_no_count_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faults, "_hits", {})
    monkeypatch.delenv("TUNER_FAULT", raising=False)
    for _ in range(1000):
        faults.point("epoch")
    monkeypatch.setenv("TUNER_FAULT", "export:1")
    for _ in range(1000):
        faults.point("epoch")

    assert faults._hits == {}
