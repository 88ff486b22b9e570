"""The package's layering: everything outside `tuner.tabular` is free of TensorFlow, so
the sweep engine, the study's readers and the command line run where TensorFlow is not
installed or would cost seconds to import (`tune status`, `tune best` without
`--export`); those checks run in a fresh interpreter (this session has TensorFlow
loaded). And the layer order (LAYERS): no module imports one of a layer above its own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.study.studies import make_study

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "keras")


def _python(code: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.timeout(180)
def test_no_module_outside_the_tensorflow_package_imports_tensorflow() -> None:
    out = _python(
        f"""
import importlib, pkgutil, sys
import tuner
heavy = {HEAVY!r}
for info in pkgutil.walk_packages(tuner.__path__, "tuner."):
    if info.name == "tuner.tabular" or info.name.startswith("tuner.tabular."):
        continue
    importlib.import_module(info.name)
    loaded = [m for m in heavy if m in sys.modules]
    if loaded:
        print("LOADED", info.name, loaded)
        break
print("modules checked")
"""
    )
    assert "modules checked" in out and "LOADED" not in out, out


@pytest.mark.timeout(180)
def test_tune_status_and_best_do_not_import_tensorflow(tmp_path: Path) -> None:
    results = tmp_path / "results"
    make_study(results)
    out = _python(
        f"""
import sys
from tuner.cli.app import main
for args in (["status", "demo"], ["best", "demo"], ["ls"]):
    try:
        main([*args, "--results", {str(results)!r}])
    except SystemExit as exc:
        assert not exc.code, (args, exc.code)
print("HEAVY", [m for m in {HEAVY!r} if m in sys.modules])
"""
    )
    assert "HEAVY []" in out, out


def test_only_the_command_line_reaches_into_the_tensorflow_package() -> None:
    """The core asks the objective (tuner.trial's hooks) for everything about models and
    worker set-up; only `tune data`/`train`/`predict`, which are the tabular objective's
    own commands, import tuner.tabular."""

    offenders = []
    for path in sorted((ROOT / "tuner").rglob("*.py")):
        part = path.relative_to(ROOT / "tuner").parts[0]
        if part in ("tabular", "cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("tuner.tabular")]
    assert not offenders, offenders


# The layers of the package, lowest first: a module may import its own layer and those
# below it, never one above (a function-local import too). The floor is what every layer
# may use (errors, files, text for people, the kill points, other libraries' private
# parts behind tuner.compat); the space file's model sits under the trial contract and
# its adapters (a Python function, a program, the space file that names them); the study
# (the sweep's truth) over them; MLflow's record over the study; the built-in objective
# (TensorFlow); the sweep engine; the library's face; the command line on top.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "floor",
        (
            "tuner.errors",
            "tuner.atomic",
            "tuner.redact",
            "tuner.timeline",
            "tuner.faults",
            "tuner.text",
            "tuner.reporting",
            "tuner.gpu",
            "tuner.compat",
        ),
    ),
    ("space model", ("tuner.space.model", "tuner.space.yaml_file", "tuner.space.schema")),
    (
        "trial contract",
        (
            "tuner.trial",
            "tuner.keras",
            "tuner.program",
            "tuner.objective_loader",
            "tuner.one_trial",
            "tuner.space",
        ),
    ),
    ("search", ("tuner.search",)),
    ("study", ("tuner.study",)),
    ("tracking", ("tuner.tracking",)),
    ("objective", ("tuner.tabular",)),
    ("sweep", ("tuner.sweep",)),
    ("api", ("tuner.api",)),
    ("command line", ("tuner.cli", "tuner.__main__", "tuner")),
]


def _layer(module: str) -> int:
    """The layer of a module: the longest prefix of LAYERS that names it (or a package
    above it)."""
    found = [
        (len(prefix), index)
        for index, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    assert found, f"{module} is in no layer of tests/test_layering.py: give it one"
    return max(found)[1]


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of each tuner module `path` imports, anywhere in it (a function's
    body and an `if TYPE_CHECKING:` block too): `from tuner import faults` names
    tuner.faults."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "tuner":
                found += [(node.lineno, f"tuner.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name == "tuner" or name.startswith("tuner.")]


def test_no_module_imports_a_layer_above_its_own() -> None:
    """The layer order above, checked on every import statement of the package."""
    offenders = []
    for path in sorted((ROOT / "tuner").rglob("*.py")):
        module = _module_of(path)
        mine = _layer(module)
        for line, name in _imports(path):
            theirs = _layer(name)
            if theirs > mine:
                offenders.append(
                    f"{path.relative_to(ROOT)}:{line}: {module} ({LAYERS[mine][0]}) imports "
                    f"{name} ({LAYERS[theirs][0]})"
                )
    assert not offenders, "imports up the layers:\n" + "\n".join(offenders)


def test_the_layer_order_is_a_total_order_of_the_package() -> None:
    """Every module of the package has its layer: a new top-level module or package
    is placed in LAYERS before it lands."""
    for path in sorted((ROOT / "tuner").rglob("*.py")):
        _layer(_module_of(path))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_of_tuner() -> dict[str, set[str]]:
    """Each module of tuner → the modules of tuner it imports, at module level or inside
    a function alike (a function-local import hides a circle from Python, not from
    whoever reads the code)."""
    paths = {_module_name(p): p for p in sorted((ROOT / "tuner").rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package `level` steps up
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, *([base] if base else [])])
                targets = [base, *(f"{base}.{a.name}" for a in node.names)]
            else:
                continue
            found.update(t for t in targets if t in paths and t != name)
        graph[name] = found
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import circle through each strongly connected group of modules (Tarjan's
    algorithm, then a shortest path back to its first module), e.g. [a, b, c, a]."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    circles = []
    for group in groups:
        start, members = group[0], set(group)
        paths = {start: [start]}
        queue = [start]
        while queue:  # breadth first: the shortest way round
            v = queue.pop(0)
            for w in sorted(graph[v] & members):
                if w == start:
                    queue = []
                    circles.append([*paths[v], start])
                    break
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    queue.append(w)
    return circles


def test_the_cycle_finder_names_a_circle_hidden_in_a_function() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_in_the_package() -> None:
    """No module of tuner imports itself back, through any chain of imports, function-local
    ones included."""
    circles = _cycles(_imports_of_tuner())
    assert not circles, "import circle: " + "; ".join(" → ".join(c) for c in circles)
