"""From an objective's reference to the function and its declarations: `tabular` (the
built-in), `package.module:function` (imported, from the space file's folder too), or a
program (`program:` + its spec). Its own module, above the trial contract and the
program adapter that both build an `Objective`: kept in tuner.trial, the contract and
the program adapter imported each other."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from tuner.errors import ConfigError
from tuner.program.objective import program_objective
from tuner.program.spec import PREFIX
from tuner.trial import BUILTIN_OBJECTIVES, Objective


def load_objective(
    ref: str, where: str | None = None, folder: str | Path | None = None
) -> Objective:
    """'tabular', 'package.module:function' or a program's reference (`program:` + its
    spec, see tuner/program/spec.py) → the function and its declarations. `folder` (the
    space file's) is where a module Python cannot find is looked for."""
    if ref.startswith(PREFIX):
        return program_objective(ref)
    target = BUILTIN_OBJECTIVES.get(ref, ref)
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(
            f"objective '{ref}'",
            where=where,
            hint=f"expected one of {sorted(BUILTIN_OBJECTIVES)} or package.module:function",
        )
    try:
        module = import_module(module_name, folder)
    except ImportError as exc:
        itself = isinstance(exc, ModuleNotFoundError) and _names_module(exc, module_name)
        looked = f" (looked on the import path and in {folder})" if folder and itself else ""
        raise ConfigError(
            f"objective '{ref}': cannot import {module_name}: {exc}{looked}",
            where=where,
            hint="put the module beside the space file, or its folder on PYTHONPATH"
            if itself
            else None,
        ) from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"objective '{ref}': {module_name} has no function '{attr}'", where=where)
    declared = getattr(fn, "tuner_metrics", None)
    if declared is None:
        raise ConfigError(
            f"objective '{ref}' declares no metrics",
            where=where,
            hint="decorate it with @tuner.trial.objective(metrics=[...])",
        )
    if callable(declared):
        fixed = declared

        def names(config: dict[str, Any]) -> frozenset[str]:
            return frozenset(fixed(config))
    else:
        static = frozenset(declared)

        def names(config: dict[str, Any]) -> frozenset[str]:
            return static

    return Objective(
        ref=ref,
        function=fn,
        declared=names,
        config_schema=getattr(fn, "tuner_config_schema", None),
        prepare=getattr(fn, "tuner_prepare", None),
        export_model=getattr(fn, "tuner_export_model", None),
        mlflow_model=getattr(fn, "tuner_mlflow_model", None),
        setup_process=getattr(fn, "tuner_setup_process", None),
        warm_up=getattr(fn, "tuner_warm_up", None),
    )


def import_module(name: str, folder: str | Path | None = None) -> Any:
    """Import module `name`; when Python cannot find it (the module itself, not one it
    imports), from `folder` too, which joins the end of the import path (so it never
    hides an installed module)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        place = str(Path(folder).absolute()) if folder is not None else None
        if place is None or place in sys.path or not Path(place).is_dir():
            raise
        if not _names_module(exc, name):  # one of its own imports is missing
            raise
        sys.path.append(place)
        importlib.invalidate_caches()
        return importlib.import_module(name)


def _names_module(exc: ModuleNotFoundError, name: str) -> bool:
    """Whether the missing module is `name` (or a package above it)."""
    missing = exc.name or ""
    return bool(missing) and (name == missing or name.startswith(missing + "."))
