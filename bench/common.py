"""What the benches share: the machine's load, and Adult converted once (cached)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_ADULT = ROOT.parent / "shared" / "data" / "adult"
FALLBACK = "builtin:census_synthetic"


def load() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def convert_adult(source: Path) -> tuple[str, float]:
    """Adult converted once into a cache folder keyed by the source files (reused later)."""
    from tuner.tabular.data.convert import ConvertOptions, convert

    files = [source / "adult.data", source / "adult.test"]
    key = hashlib.sha256(
        repr([(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]).encode()
    ).hexdigest()[:12]
    out = Path(tempfile.gettempdir()) / "tuner-bench" / f"adult-{key}"
    if (out / "schema.json").exists():
        return str(out), 0.0
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=".adult-", dir=out.parent))
    convert(files[0], work / "ds", ConvertOptions(validation=files[1], label="ltgt50k"))
    with contextlib.suppress(OSError):  # another run got there first: use theirs
        os.rename(work / "ds", out)
    shutil.rmtree(work, ignore_errors=True)
    return str(out), time.perf_counter() - start


def resolve_data(arg: str | None) -> tuple[str, str, float]:
    """→ (data set reference for a trial config, what it is, seconds spent converting)."""
    if arg is None:
        if (SHARED_ADULT / "adult.data").exists():
            ref, seconds = convert_adult(SHARED_ADULT)
            return ref, f"adult, converted from {SHARED_ADULT}", seconds
        return FALLBACK, f"{FALLBACK} ({SHARED_ADULT} not found: Adult not available)", 0.0
    if arg.startswith("builtin:"):
        return arg, arg, 0.0
    path = Path(arg)
    if (path / "schema.json").exists():
        return str(path.absolute()), f"converted data set {path}", 0.0
    if (path / "adult.data").exists():
        ref, seconds = convert_adult(path)
        return ref, f"adult, converted from {path}", seconds
    sys.exit(f"bench: {arg}: neither a converted data set, an Adult source folder nor builtin:")
