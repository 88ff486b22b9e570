"""The local Ray a sweep starts for itself: where its session folder goes, and ending the
processes a killed driver's Ray left behind.

Without `--address` a sweep starts its own Ray (`ray.init(address="local")`: never the
cluster `ray start` last left in /tmp/ray/ray_current_cluster) with its temp folder in
the sweep's folder: `<results>/<name>/.ray/local/session_<time>_<pid>/` (logs, sockets,
spilled objects), `.ray/` being this user's alone (Ray makes its temp folder writable by
everyone). Ray's Unix sockets live there too, and a socket's path may not exceed 107
bytes: when the sweep's path is too long for them, `.ray/local` is a link to a short
private folder, `/tmp/tuner-ray-<uid>/<hash of the sweep's folder>/`, where Ray runs.

Ray ties its GCS, raylet and their helpers to the driver (the kernel kills them with it),
but not the raylet's own children: after a SIGKILL of the driver, Ray's dashboard and
runtime-env agents found their raylet gone and hung for a minute or more on the dead GCS
before they exited (two more after every kill). So a sweep's driver starts a watcher
(this module, run as a process) that ends whatever is left of its session when the
driver is gone, however it went; and the next driver of the sweep ends what a dead one
left if the watcher could not (it was killed too): the session its lock names, and any
session under the sweep's Ray folders whose driver is dead. A process is ended only
when it provably belongs to a dead driver's local Ray: a process of this user, one of
Ray's (its command is `ray::…` or runs from Ray's package), that holds a file of that
session open or names it on its command line, and the session's driver (the process
whose pid the session's name ends with, or the pid and start time in the lock) is gone.
Never `ray stop`: that would stop every Ray on the host, other users' included.

Standard library only at the top: the watcher is a small process of its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

RAY_DIR = ".ray"  # <results>/<name>/.ray: Ray Tune's experiment, and
LOCAL = "local"  # <results>/<name>/.ray/local: the local Ray's temp folder (its sessions)
SOCKET_MAX = 107  # bytes in a Unix socket's path (sun_path less its terminating NUL)
# What Ray 2.60 puts after its temp folder in its longest socket path (measured), less
# the driver's pid: /session_2026-12-07_22-07-24_846745_<pid>/sockets/plasma_store
SOCKET_TAIL = len("/session_2026-12-07_22-07-24_846745_/sockets/plasma_store")
SESSION_PREFIX = "session_"


def start_time(pid: int) -> int | None:
    """A process's start time (clock ticks after boot, /proc/PID/stat field 22): with the
    pid it names one process. None when it is gone or a zombie (or there is no /proc)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else int(fields[19])


# ------------------------------------------------------------------ where the session goes


def own_dir(sweep: Path) -> Path:
    """`<sweep>/.ray/local`: where the sweep's local Ray keeps its sessions."""
    return Path(sweep).absolute() / RAY_DIR / LOCAL


def temp_dir(sweep: Path, pid: int | None = None) -> Path:
    """Ray's temp folder for a sweep's local Ray started by process `pid` (this one),
    ready: `<sweep>/.ray/local` when Ray's socket paths fit under it, else a short private
    folder that `<sweep>/.ray/local` links to. `<sweep>/.ray` is this user's alone: Ray
    makes its temp folder writable by everyone (meant for a shared /tmp/ray)."""
    own = own_dir(sweep)
    own.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        own.parent.chmod(0o700)
    digits = len(str(os.getpid() if pid is None else pid))
    if len(os.fsencode(str(own))) + SOCKET_TAIL + digits <= SOCKET_MAX and not own.is_symlink():
        return own
    short = _short_dir(own)
    if own.is_symlink() and os.path.realpath(own) != os.path.realpath(short):
        with contextlib.suppress(OSError):
            own.unlink()  # an older link (the sweep's folder moved): to this one
    if not own.exists() and not own.is_symlink():
        with contextlib.suppress(OSError):
            own.symlink_to(short, target_is_directory=True)
    return short


def _short_dir(own: Path) -> Path:
    """`/tmp/tuner-ray-<uid>/<hash>`, the same for the same sweep folder (so that its next
    driver looks there too), in a folder only this user may use."""
    key = hashlib.sha1(os.fsencode(str(own))).hexdigest()[:12]
    base = Path("/tmp") / f"tuner-ray-{os.getuid()}"
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        info = base.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise PermissionError(f"{base} is not this user's private folder")
    except OSError:
        return Path(tempfile.mkdtemp(prefix="tuner-ray-", dir="/tmp"))
    return base / key


def link_session(sweep: Path, session: Path) -> None:
    """A session kept outside the sweep's folder that `.ray/local` does not lead to (it
    is a folder of earlier sessions: the sweep moved to a longer path) gets a link there
    of its own."""
    own = own_dir(sweep)
    if os.path.realpath(session.parent) == os.path.realpath(own):
        return
    with contextlib.suppress(OSError):
        (own / session.name).symlink_to(session, target_is_directory=True)


def session_dirs(sweep: Path) -> list[Path]:
    """The Ray sessions kept for a sweep: under `.ray/local` (links followed) and in its
    short folder."""
    own = own_dir(sweep)
    found: dict[str, Path] = {}
    for folder in (own, _short_dir(own)):
        with contextlib.suppress(OSError):
            for entry in folder.iterdir():
                if entry.name.startswith(SESSION_PREFIX) and entry.name != "session_latest":
                    real = Path(os.path.realpath(entry))
                    found.setdefault(str(real), real)
    return list(found.values())


# ------------------------------------------------------------------ a dead driver's leftovers


def _driver_pid(session: Path) -> int | None:
    """The pid a session's name ends with: the process that started it (`ray.init`)."""
    tail = session.name.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _ray_package() -> str | None:
    from importlib.util import find_spec

    try:
        spec = find_spec("ray")
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec else []
    return locations[0] if locations else None


def _under(value: str, roots: tuple[str, ...]) -> bool:
    return any(value == root or value.startswith(root + os.sep) for root in roots)


def _names_session(pid: int, args: list[str], roots: tuple[str, ...]) -> bool:
    """Whether a process names the session on its command line or holds one of its
    files open (Ray's agents and workers rename themselves `ray::…`; their logs stay
    open)."""
    if any(_under(arg.split("=", 1)[-1], roots) for arg in args):
        return True
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if _under(os.readlink(f"/proc/{pid}/fd/{fd}"), roots):
                return True
        except OSError:
            continue
    return False


def processes(session: Path) -> dict[int, int]:
    """{pid: start time} of this user's Ray processes that belong to `session`."""
    roots = tuple(dict.fromkeys((str(session), os.path.realpath(session))))
    package = _ray_package()
    me, uid = os.getpid(), os.getuid()
    found: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for name in entries:
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        try:
            if os.stat(f"/proc/{pid}").st_uid != uid:
                continue
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
        text = " ".join(args)
        ray = text.startswith("ray::") or (package is not None and package in text)
        if ray and _names_session(pid, args, roots):
            started = start_time(pid)
            if started is not None:
                found[pid] = started
    return found


def end(session: Path, wait: float = 5.0) -> list[int]:
    """SIGKILL what is left of a dead driver's session; returns the pids ended (gone
    within `wait` seconds). The caller has established that the driver is dead."""
    found = processes(session)
    for pid, started in found.items():
        if start_time(pid) == started:  # still the process found (not a reused pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while any(start_time(p) == s for p, s in found.items()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return sorted(found)


def _dead(pid: int | None, started: int | None = None) -> bool:
    """Whether the process `pid` (the one with that start time, if given) is gone: no
    such process, a zombie, or another process's pid now. No pid: not known dead."""
    if pid is None:
        return False
    now = start_time(pid)
    return now is None or (started is not None and now != started)


def end_leftovers(sweep: Path, held: dict[str, object] | None, host: str) -> list[int]:
    """End what dead drivers of this sweep left of their local Ray: the session its lock
    names (`held`: the dead holder's lock record, on this host) and every session under
    the sweep's Ray folders whose driver is gone. Returns the pids ended."""
    sessions: dict[str, Path] = {}
    if held and held.get("host") == host and held.get("ray_session"):
        started = held.get("started")
        session = Path(str(held["ray_session"]))
        if _dead(int(str(held["pid"])), None if started is None else int(str(started))):
            sessions[os.path.realpath(session)] = session
    for session in session_dirs(sweep):
        if _dead(_driver_pid(session)):
            sessions.setdefault(os.path.realpath(session), session)
    ended: list[int] = []
    for session in sessions.values():
        ended += end(session)
    return ended


# ------------------------------------------------------------------ the watcher


def watch(session: Path) -> subprocess.Popen[bytes] | None:
    """Start the watcher of this process's local Ray session: it ends what is left of the
    session once this process is gone. None where there is no /proc (nothing to read)."""
    started = start_time(os.getpid())
    if started is None:
        return None
    root = str(Path(__file__).resolve().parents[2])  # the folder holding the tuner package
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    try:
        return subprocess.Popen(
            [sys.executable, "-m", __name__, str(os.getpid()), str(started), str(session)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
    except OSError:  # no watcher (no process to spare): the next driver still cleans up
        return None


def _wait_for_exit(pid: int, started: int) -> None:
    """Block until the process `pid` (started at `started`) is gone."""
    try:
        handle = os.pidfd_open(pid)
    except (AttributeError, OSError):
        handle = None
    try:
        if start_time(pid) != started:
            return  # gone already (or the pid is another process's now)
        if handle is not None:
            select.select([handle], [], [])
            return
        while start_time(pid) == started:
            time.sleep(0.5)
    finally:
        if handle is not None:
            os.close(handle)


def main(argv: Iterable[str]) -> int:
    """`python -m tuner.sweep.local_ray DRIVER_PID DRIVER_START SESSION`: wait for the
    driver to end, then end what is left of its session."""
    pid, started, session = list(argv)
    # The driver's own signals (Ctrl-C to the terminal's process group, SIGTERM, a closed
    # terminal) are the driver's to handle: the watcher outlives them until it is gone.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    _wait_for_exit(int(pid), int(started))
    end(Path(session))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
