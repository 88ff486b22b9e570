"""Joining a Ray cluster (`--address`, $RAY_ADDRESS): fast, and one line when it fails.

Left to itself, `ray.init(address=...)` retries an address where nothing answers for
about twelve minutes (20 tries of 35 s each, measured with Ray 2.60), a cluster that
refuses the driver's token for 20 s, and a host with no node of the cluster for 60 s,
printing Ray's warnings all along, and then raises a ConnectionError that tuner showed
as a traceback ("a bug in tuner"). Here the address is checked before anything of the
sweep is written (its form, then a TCP connection to it within CONNECT_S), Ray's own
retries are bounded, its warnings while it tries are kept from the terminal, and a
failure is one line that says what failed and what to check.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from tuner.errors import ConfigError, ServiceError, TunerError

CONNECT_S = 5.0  # a TCP connection to the cluster's GCS port
GCS_TRIES = "5"  # Ray's tries (about a second each) to get a GCS client (its default: 20)
NODE_WAIT_S = 15  # Ray's wait for a node of the cluster on this host (its default: 60 s)
TOKEN_HINT = (
    "a cluster with token authentication needs RAY_AUTH_MODE=token and its token in this "
    "environment: ~/.ray/auth_token, RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH"
)


def host_port(address: str) -> tuple[str, int] | None:
    """HOST:PORT of a GCS address; None for what Ray resolves itself (`auto`, `local`,
    `ray://…`). A malformed one is a ConfigError."""
    if address in ("auto", "local") or "://" in address:
        return None
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")  # [::1]:6379
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"--address '{address}'",
            hint="expected HOST:PORT (the head's GCS port, `ray start --head --port`) or auto",
        )
    return host, int(port)


def check_reachable(address: str | None) -> None:
    """Before anything of the sweep is written: a cluster address must be well formed and
    something must listen at it (a TCP connection within CONNECT_S)."""
    if not address:
        return
    target = host_port(address)
    if target is None:
        return
    host, port = target
    try:
        with socket.create_connection((host, port), timeout=CONNECT_S):
            pass
    except socket.gaierror:
        raise ServiceError(
            f"cannot reach the Ray cluster at {address}: unknown host '{host}'",
            hint="check --address (or RAY_ADDRESS)",
        ) from None
    except TimeoutError:
        raise ServiceError(
            f"cannot reach the Ray cluster at {address}: no answer within {CONNECT_S:g} s",
            hint="check --address (or RAY_ADDRESS), that the head runs and that its port "
            "is open to this host",
        ) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ServiceError(
            f"cannot reach the Ray cluster at {address}: {reason.lower()}",
            hint="check --address (or RAY_ADDRESS): the head's GCS port "
            "(`ray start --head --port`), and that the head runs",
        ) from None


def join(ray: Any, address: str, options: dict[str, Any]) -> None:
    """`ray.init(address=...)`, bounded, its failure as one line (a TunerError)."""
    check_reachable(address)
    with _bounded_tries(ray), _stderr_kept() as kept:
        try:
            ray.init(address=address, **options)
        except Exception as exc:
            kept.drop()
            raise _failure(address, exc) from None


def _failure(address: str, exc: BaseException) -> TunerError:
    """What failed, from the exception and its causes (Ray wraps the reason)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    text = " ".join(str(e) for e in chain)
    names = " ".join(type(e).__name__ for e in chain)
    where = f"the Ray cluster at {address}"
    if "InvalidAuthToken" in text or "AuthenticationError" in names:
        return ConfigError(f"{where} refused this driver's token", hint=TOKEN_HINT)
    if "No node info found" in text:
        return ServiceError(
            f"{where} has no node on this host: a driver runs on a node of the cluster",
            hint=f"start one here first (`ray start --address {address}`), or run tune "
            "on a node of the cluster",
        )
    if "Could not find any running Ray instance" in text:
        return ServiceError(
            "--address auto: no Ray cluster runs on this host",
            hint="give the head's HOST:PORT, or start the cluster (`ray start`)",
        )
    # the innermost reason: the last line of the innermost text (Ray puts a traceback's
    # text in its RuntimeError), without the exception's module
    lines = [line.strip() for line in str(chain[-1]).splitlines() if line.strip()]
    reason = re.sub(r"^[\w.]+\.(\w+): ", r"\1: ", lines[-1] if lines else type(chain[-1]).__name__)
    return ServiceError(
        f"cannot join {where}: {reason[:300]}",
        hint="check --address (or RAY_ADDRESS), that the cluster runs, and with token "
        "authentication RAY_AUTH_MODE=token and the cluster's token",
    )


@contextlib.contextmanager
def _bounded_tries(ray: Any) -> Iterator[None]:
    """Ray's tries to reach the GCS (RAY_gcs_server_port_wait_time_s, read as ray.init
    connects; an operator's own setting is kept) and its wait for a node of the cluster
    on this host, bounded for this call only."""
    key = "RAY_gcs_server_port_wait_time_s"
    own = key not in os.environ
    if own:
        os.environ[key] = GCS_TRIES
    from tuner.compat.ray import bounded_node_wait

    try:
        with bounded_node_wait(ray, NODE_WAIT_S):
            yield
    finally:
        if own:
            os.environ.pop(key, None)


class _Kept:
    def __init__(self) -> None:
        self.dropped = False

    def drop(self) -> None:
        self.dropped = True


@contextlib.contextmanager
def _stderr_kept() -> Iterator[_Kept]:
    """Ray's C++ core writes a warning line to the process's stderr for every failed try:
    kept aside while ray.init runs, written out after it unless dropped (a failure says
    it in one line of its own)."""
    kept = _Kept()
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (a notebook): nothing to keep
        yield kept
        return
    with tempfile.TemporaryFile() as aside:
        os.dup2(aside.fileno(), 2)
        try:
            yield kept
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if not kept.dropped:
                aside.seek(0)
                text = aside.read()
                if text:
                    with contextlib.suppress(OSError):
                        os.write(2, text)
