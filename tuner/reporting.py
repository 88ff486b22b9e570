"""`tuner.report`: what a training program run by a sweep calls to report an epoch's
metrics exactly (instead of printing them or writing TensorBoard files):

    from tuner import report
    report(epoch, val_auc=0.912, val_loss=0.31)

It imports nothing but the standard library (no TensorFlow, Ray, Optuna or MLflow),
and outside a sweep (no TUNER_REPORT_FILE) it prints the same as a line the sweep's
output rule reads (`epoch=3 val_auc=0.912 val_loss=0.31`), so the program runs alone
as it did. Inside a trial each call appends one JSON line to the file the trial's
runner reads as the program runs; a pruned trial's program is stopped by a signal
(it need not ask).
"""

from __future__ import annotations

import json
import math
import os

ENV = "TUNER_REPORT_FILE"


def report(epoch: int, /, **metrics: float) -> None:
    """One epoch's metrics, epochs counted from 1."""
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise ValueError(f"report: epoch {epoch!r}: epochs are whole numbers from 1")
    values = {}
    for name, value in metrics.items():
        try:
            values[name] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"report: {name}={value!r} is not a number") from None
    path = os.environ.get(ENV)
    if not path:
        pairs = " ".join(f"{k}={v!r}" for k, v in values.items())
        print(f"epoch={epoch} {pairs}", flush=True)
        return
    line = json.dumps(
        {"epoch": epoch, **{k: v if math.isfinite(v) else str(v) for k, v in values.items()}}
    )
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
