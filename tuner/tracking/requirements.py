"""The pip requirement a logged MLflow model names for a library it needs: the installed
major version, so the model is served by what it was trained with (its own module: the
registry, the SavedModel hook and the tabular pyfunc model all ask it, and none of them
may import another for it)."""

from __future__ import annotations


def requirement(dist: str) -> str:
    """`dist>=MAJOR.MINOR,<MAJOR+1` for the installed version (plain `dist` if unknown)."""
    from importlib import metadata

    candidates = [dist, f"{dist}-cpu"] if dist == "tensorflow" else [dist]
    for candidate in candidates:
        try:
            version = metadata.version(candidate)
        except metadata.PackageNotFoundError:
            continue
        parts = version.split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            return f"{dist}>={parts[0]}.{parts[1]},<{int(parts[0]) + 1}"
    return dist
