"""A sweep's worker processes warm up as soon as they start: importing this module (Ray
imports it into every worker process it starts, see `driver.ensure_ray`) runs the
objective's `setup_process` and `warm_up` hooks in a background thread when the
environment holds a plan (`TUNER_WARM_UP`, written by `plan`).

Why at import: a local Ray starts its first workers while `ray.init` is still running,
before the driver has set up Ray Tune and asked for the first trial; Ray's documented
`worker_process_setup_hook` comes with a runtime environment, and workers with one are
started only when a task needs them (their start is then on the first trial's path).
So for a local Ray the plan travels in the environment the workers inherit and Ray's
`preload_python_modules` imports this module; on a cluster (whose workers start on
demand anyway) the same function is the runtime environment's setup hook.
In a background thread, because the worker must register with Ray to get its trial; the
trial's own imports and data reads wait on the locks the warm-up holds (Python's import
lock, the reader's cache lock) instead of doing the work twice.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

ENV = "TUNER_WARM_UP"  # JSON: {objective, config, cpu, gpu}
_started = threading.Event()  # once per process (imported, then called as the hook)


def plan(objective: str, config: dict[str, Any], cpu: float, gpu: float) -> str:
    from tuner.sweep.trial_runner import CONFIG, CPU, GPU, OBJECTIVE

    return json.dumps({OBJECTIVE: objective, CONFIG: config, CPU: cpu, GPU: gpu})


def start() -> None:
    """Warm this process up in the background, if the environment holds a plan."""
    text = os.environ.get(ENV)
    if text and not _started.is_set():
        _started.set()
        threading.Thread(target=_warm, args=(text,), name="tuner-warm-up", daemon=True).start()


def _warm(text: str) -> None:
    from tuner.sweep.trial_runner import CONFIG, OBJECTIVE, set_up_process
    from tuner.timeline import mark
    from tuner.trial import load_objective

    mark("warm_start")
    try:
        ray_config = json.loads(text)
        objective = load_objective(ray_config[OBJECTIVE])
        set_up_process(objective, ray_config)
        if objective.warm_up is not None:
            objective.warm_up(dict(ray_config[CONFIG]))
        mark("warm")
    except Exception:  # a head start only: the first trial meets (and reports) the same
        pass


start()
