"""A sweep's worker processes warm up as soon as they start: `start` is Ray's
`worker_process_setup_hook` for the sweep's job (see `driver.ensure_ray`), and runs the
objective's `setup_process` and `warm_up` hooks in a background thread when the
environment holds a plan (`TUNER_WARM_UP`, written by `plan`).

In a background thread, because the worker must register with Ray to get its trial; the
trial's own imports and data reads wait on the locks the warm-up holds (Python's import
lock, the reader's cache lock) instead of doing the work twice. Ray starts a trial's
worker only when Tune asks for it (Tune gives trainables their own runtime env, so the
workers `ray.init` starts ahead cannot serve them): the head start is the worker's own
start-up (Ray, Ray Tune's imports), measured in bench/race.py.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

ENV = "TUNER_WARM_UP"  # JSON: {objective, config, cpu, gpu}
_started = threading.Event()  # once per process, however often Ray calls the hook


def plan(
    objective: str, config: dict[str, Any], cpu: float, gpu: float, folder: str | None = None
) -> str:
    from tuner.sweep.trial_runner import CONFIG, CPU, FOLDER, GPU, OBJECTIVE

    return json.dumps({OBJECTIVE: objective, CONFIG: config, CPU: cpu, GPU: gpu, FOLDER: folder})


def start() -> None:
    """Warm this process up in the background, if the environment holds a plan."""
    text = os.environ.get(ENV)
    if text and not _started.is_set():
        _started.set()
        threading.Thread(target=_warm, args=(text,), name="tuner-warm-up", daemon=True).start()


def _warm(text: str) -> None:
    from tuner.objective_loader import load_objective
    from tuner.sweep.trial_runner import CONFIG, FOLDER, OBJECTIVE, set_up_process
    from tuner.timeline import mark

    mark("warm_start")
    try:
        ray_config = json.loads(text)
        objective = load_objective(ray_config[OBJECTIVE], folder=ray_config.get(FOLDER))
        set_up_process(objective, ray_config)
        if objective.warm_up is not None:
            objective.warm_up(dict(ray_config[CONFIG]))
        mark("warm")
    except Exception:  # a head start only: the first trial meets (and reports) the same
        pass
