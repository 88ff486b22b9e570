"""Start-up marks for the benches: when each step of a sweep's start (Ray, the tracker,
a worker's TensorFlow import, its data load, the first model's build) happened, in the
driver and in every worker.

Off unless `TUNER_TIMELINE` names a file (bench/race.py sets it; the driver passes it on
to the workers): each mark is one JSON line appended to it. One `write` of one short
line on a file opened for appending is one atomic append on Linux, so the driver and
its workers can share the file without a lock.
"""

from __future__ import annotations

import json
import os
import time

ENV = "TUNER_TIMELINE"


def mark(event: str, **fields: object) -> None:
    path = os.environ.get(ENV)
    if not path:
        return
    line = json.dumps({"event": event, "t": time.time(), "pid": os.getpid(), **fields})
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:
        return  # a bench aid: never a reason for a sweep to fail
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
