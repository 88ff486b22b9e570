"""Ray Tune's unpublished parts that tuner relies on (checked on Ray 2.60)."""

from __future__ import annotations

import functools


@functools.cache
def result_keys() -> frozenset[str]:
    """The keys Ray Tune adds to every result a trainable reports (its iteration
    counters, clocks, host and pid, the trial's config and id, `done`), so that what is
    left is what the trial reported. Stands in for a public list, which Ray lacks: its
    own progress reporter hides `ray.tune.result.AUTO_RESULT_KEYS` and
    `DEFAULT_EXPERIMENT_INFO_KEYS` plus `done` the same way. Checked on Ray 2.60."""
    from ray.tune import result

    return frozenset(
        {
            *result.AUTO_RESULT_KEYS,
            *result.DEFAULT_EXPERIMENT_INFO_KEYS,
            result.DONE,
            result.SHOULD_CHECKPOINT,
        }
    )
