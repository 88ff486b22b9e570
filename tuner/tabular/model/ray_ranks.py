"""The ranks of a distributed trial on several nodes: one Ray actor in each bundle of the
trial's placement group starts its rank's worker process on its own node.

A sweep asks Ray for a placement group of one bundle per worker (tuner/sweep/driver.py,
PACK: one node when the bundles fit there, else spread). When Ray put them all on this
node, the launcher starts the ranks as its own child processes (launch.LocalRanks);
when it spread them, each rank must run where its bundle is. The actor is only a
launcher there: the rank itself is a fresh process (`python -m
tuner.tabular.model.distributed`), since a process whose TensorFlow already ran — a
Ray worker a sweep warmed up — cannot join a collective group. Each actor finds a free
port on its node's address; the ranks then reach each other there. Rank 0's actor
relays its messages through a Ray queue. A rank's process exits with its actor (the
parent-death watch of processes.py), and the launcher kills the actors when the trial
ends, however it ends.
"""

from __future__ import annotations

import contextlib
import json
import queue
from pathlib import Path
from typing import Any

from tuner.tabular.model.processes import end_processes, free_ports, start_rank
from tuner.tabular.model.rank_end import LAUNCHER_LOST


def spread_placement(workers: int) -> Any | None:
    """The placement group of the trial running in this process when its bundles for
    `workers` ranks lie on more than one node; else None (no Ray, not a trial of a
    placement group, or all on one node: the ranks are then local processes)."""
    import sys

    if "ray" not in sys.modules:  # `tune train`: no Ray here
        return None
    import ray

    if not ray.is_initialized():
        return None
    from ray.util import get_current_placement_group, placement_group_table

    group = get_current_placement_group()
    if group is None or len(group.bundle_specs) < workers:
        return None
    nodes = placement_group_table(group).get("bundles_to_node_id") or {}
    return group if len(set(nodes.values())) > 1 else None


class RayRanks:
    """launch.Ranks as one launcher actor per bundle (see the module text)."""

    def __init__(self, spec: dict[str, Any], workers: int, group: Any, logs: Path) -> None:
        import ray
        from ray.util.queue import Queue
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        launcher: Any = ray.remote(_Launcher)
        self.queue = Queue()
        self.actors = [
            launcher.options(
                num_cpus=0,  # (the bundle's CPUs are the rank's)
                max_concurrency=4,  # threads: `stop` runs while `run` waits for the rank
                scheduling_strategy=PlacementGroupSchedulingStrategy(
                    group, placement_group_bundle_index=rank
                ),
            ).remote(rank, str(logs))
            for rank in range(workers)
        ]
        self.ended = False
        where = ray.get([a.address.remote() for a in self.actors])
        self.nodes = [node for node, _ in where]
        (logs / "nodes.json").write_text(json.dumps(self.nodes) + "\n")  # rank → its node
        cluster = [address for _, address in where]
        self.runs = [
            a.run.remote({**spec, "cluster": cluster}, self.queue if rank == 0 else None)
            for rank, a in enumerate(self.actors)
        ]
        self.codes: list[int | None] = [None] * workers

    def next_line(self, timeout: float) -> str | None:
        from ray.util.queue import Empty

        try:
            line: str | None = self.queue.get(timeout=timeout)
            return line
        except Empty:
            raise queue.Empty from None

    def reply(self, word: str) -> None:
        import ray

        with contextlib.suppress(Exception):  # (rank 0 gone: its exit says why)
            ray.get(self.actors[0].reply.remote(word))

    def settle(self, timeout: float) -> None:
        import ray

        ray.wait(self.runs[:1], timeout=timeout)

    def failed(self) -> bool:
        import ray

        done, _ = ray.wait(self.runs, num_returns=len(self.runs), timeout=0)
        for ref in done:
            rank = self.runs.index(ref)
            try:
                self.codes[rank] = ray.get(ref)
            except Exception:  # the actor itself died (its node lost, say): no exit code
                self.codes[rank] = LAUNCHER_LOST
        return any(code not in (None, 0) for code in self.codes)

    def finish(self) -> None:
        import ray

        with contextlib.suppress(Exception):
            self.codes = list(ray.get(self.runs, timeout=60))

    def end(self, grace: float = 5.0) -> None:
        import ray

        if self.ended:
            return
        self.ended = True
        with contextlib.suppress(Exception):
            ray.get([a.stop.remote(grace) for a in self.actors], timeout=grace + 5)
        for actor in self.actors:
            with contextlib.suppress(Exception):
                ray.kill(actor)
        with contextlib.suppress(Exception):
            self.queue.shutdown()

    def exit_codes(self) -> list[int | None]:
        self.failed()
        return list(self.codes)


class _Launcher:
    """In a bundle of the trial's placement group: starts and watches one rank."""

    def __init__(self, rank: int, logs: str) -> None:
        self.rank = rank
        self.logs = Path(logs)
        self.proc: Any = None
        self.answers = -1  # rank 0: where the launcher's answers to its epochs go

    def address(self) -> tuple[str, str]:
        """(this node's id, host:port the rank will listen on)."""
        import ray

        host = ray.util.get_node_ip_address()
        return ray.get_runtime_context().get_node_id(), f"{host}:{free_ports(host, 1)[0]}"

    def run(self, spec: dict[str, Any], messages: Any) -> int:
        """Start the rank, relay rank 0's messages, return its exit code."""
        import os

        self.logs.mkdir(parents=True, exist_ok=True)
        if messages is None:
            self.proc = start_rank(spec, self.rank, self.logs)
            return int(self.proc.wait())
        read_fd, write_fd = os.pipe()
        answers_fd, self.answers = os.pipe()
        try:
            self.proc = start_rank(spec, self.rank, self.logs, write_fd, answers_fd)
        finally:
            os.close(write_fd)
            os.close(answers_fd)
        with os.fdopen(read_fd, "r", encoding="utf-8") as lines:
            for line in lines:
                messages.put(line)
        code = int(self.proc.wait())
        messages.put(None)
        return code

    def reply(self, word: str) -> None:
        import os

        os.write(self.answers, f"{word}\n".encode())

    def stop(self, grace: float) -> None:
        if self.proc is not None:
            end_processes([self.proc], grace)
