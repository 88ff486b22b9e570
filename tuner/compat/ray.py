"""Ray's unpublished parts that tuner relies on. Checked on Ray 2.60 (pyproject bounds
it below 2.61: Ray changes its insides, and renames its public API, between minor
versions)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any


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


def temp_dir_option(path: str) -> dict[str, str]:
    """`ray.init`'s keyword for the root of its session folder (`_temp_dir`): the
    sweep's own Ray keeps its sessions under the sweep's folder. Stands in for a public
    option, which `ray.init` lacks (RAY_TMPDIR is read too late). Checked on Ray 2.60."""
    return {"_temp_dir": path}


def mask_entrypoint(mask: Callable[[str], str]) -> None:
    """Ray keeps the driver's command line in the cluster's job table (dashboard, `ray
    list jobs`), read from `ray._private.utils.get_entrypoint_name`: wrap it with `mask`
    (once). Nothing to do on a Ray without it. Stands in for a public entry-point
    setting, which Ray lacks. Checked on Ray 2.60."""
    try:
        from ray._private import utils
    except ImportError:  # pragma: no cover - a Ray without it records nothing to mask
        return
    original = getattr(utils, "get_entrypoint_name", None)
    if original is None or getattr(original, "tuner_masked", False):
        return

    def masked() -> str:
        return mask(original())

    masked.tuner_masked = True  # type: ignore[attr-defined]
    utils.get_entrypoint_name = masked


@contextlib.contextmanager
def bounded_node_wait(ray: Any, seconds: float) -> Iterator[None]:
    """Within the block, `ray.init(address=...)` waits at most `seconds` for a node of
    the cluster on this host (`ray._private.services.get_node_to_connect_for_driver`'s
    `timeout_seconds`, else unbounded). Does nothing on a Ray without it. Stands in for a
    public timeout, which `ray.init` lacks. Checked on Ray 2.60."""
    services: Any = getattr(getattr(ray, "_private", None), "services", None)
    find = getattr(services, "get_node_to_connect_for_driver", None)
    if find is not None:

        def bounded(*args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout_seconds", seconds)
            return find(*args, **kwargs)

        services.get_node_to_connect_for_driver = bounded
    try:
        yield
    finally:
        if find is not None:
            services.get_node_to_connect_for_driver = find
