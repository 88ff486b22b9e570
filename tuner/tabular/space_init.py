"""`tune init DATASET`: a space file fitted to a converted data set, from its metadata.

What a new user's first sweep gets wrong on a small data set is rarely the search
algorithm: a batch of 64 on a few hundred rows is 5 steps an epoch, and an optimizer
or learning rate that needs thousands of steps never leaves the trivial model (issue
27). So the file is chosen from what the data set's `schema.json` says — the task, the
training rows, the numeric and text columns and their vocabularies — and every choice
is written beside it as a YAML comment, for the user to edit from there:

- batch size from the training rows, so that an epoch is at least ~STEPS_PER_EPOCH
  steps; epochs so that a trial takes at least ~STEPS_PER_TRIAL steps (within bounds);
- Adam over a learning-rate range that trains at those batch sizes, with a cosine
  decay to the last epoch (the trial is scored at its best epoch);
- the network's width and depth, dropout and L2 weight decay (the tabular model's
  `l2`), numeric quantile buckets where there are numbers and rows enough, embedding
  sizes where there are text columns;
- TPE (its random start scaled to the budget) and the median pruner.

The defaults are measured on the real-data corpus (`python bench/corpus.py --space
init`, README "Real data"), not guessed. Only the data set's metadata is read (JSON):
no TensorFlow. A `builtin:NAME` data set is resolved (written once) as everywhere else.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from tuner.errors import ConfigError
from tuner.tabular.data.schema import Schema

# The task's metric, as the tabular objective reports it, and its goal.
METRICS = {
    "binary": ("val_auc", "maximize"),
    "multiclass": ("val_accuracy", "maximize"),
    "regression": ("val_rmse", "minimize"),
}
TRIALS = 20  # the budget the defaults are measured at (README, "Real data")
STEPS_PER_EPOCH = 40  # the batch size leaves at least about this many steps an epoch
STEPS_PER_TRIAL = 1000  # epochs enough for about this many steps a trial …
MIN_EPOCHS, MAX_EPOCHS = 10, 40  # … within these bounds
MIN_BATCH, MAX_BATCH = 16, 512
TINY_ROWS, LARGE_ROWS = 1_000, 10_000  # training rows: tiny < 1,000 ≤ small < 10,000 ≤ large
SPACE_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "space.schema.json"
BUCKETS = (0, 32, 128)  # numeric_buckets choices (duplicate quantiles merge: never more)
ID_SHARE = 0.5  # a text column with distinct values in over half the rows: an identifier?


@dataclass(frozen=True)
class Facts:
    """What the choices depend on, read from a data set's schema."""

    task: str
    classes: int  # 0 for regression
    train_rows: int
    numeric: int  # numeric features
    categorical: int  # text features
    sparse: int  # LIBSVM features
    largest_vocabulary: int
    identifiers: tuple[tuple[str, int], ...]  # (text column, distinct values) look like ids

    @classmethod
    def of(cls, schema: Schema) -> Facts:
        if "train" not in schema.splits:
            raise ConfigError("the data set has no 'train' split", hint="convert it with --split")
        rows = schema.splits["train"].rows
        vocab = {
            f.name: len(f.vocabulary or ()) for f in schema.features if f.kind == "categorical"
        }
        ids = tuple((n, v) for n, v in vocab.items() if rows and v > ID_SHARE * rows and v > 50)
        return cls(
            task=schema.label.kind,
            classes=len(schema.label.classes or ()),
            train_rows=rows,
            numeric=sum(f.kind == "numeric" for f in schema.features),
            categorical=len(vocab),
            sparse=sum(f.kind == "sparse" for f in schema.features),
            largest_vocabulary=max(vocab.values(), default=0),
            identifiers=ids,
        )

    @property
    def size(self) -> str:
        """tiny, small or large (training rows)."""
        if self.train_rows < TINY_ROWS:
            return "tiny"
        return "small" if self.train_rows < LARGE_ROWS else "large"


def batch_size(rows: int) -> int:
    """The largest power of two that leaves STEPS_PER_EPOCH steps an epoch, 16 to 512."""
    target = max(1, rows // STEPS_PER_EPOCH)
    size = 2 ** int(math.log2(target)) if target >= 1 else 1
    return max(MIN_BATCH, min(MAX_BATCH, size))


def epochs(rows: int, batch: int) -> int:
    """Epochs for about STEPS_PER_TRIAL steps a trial, MIN_EPOCHS to MAX_EPOCHS."""
    steps = max(1, math.ceil(rows / batch))
    return max(MIN_EPOCHS, min(MAX_EPOCHS, math.ceil(STEPS_PER_TRIAL / steps)))


def sweep_name(ref: str) -> str:
    """A sweep name from the data set's reference: its folder's (or built-in's) name."""
    base = ref.split(":", 1)[1] if ref.startswith("builtin:") else Path(ref).name or "sweep"
    name = re.sub(r"[^A-Za-z0-9._-]", "-", base).lstrip("._-")[:100]
    return name or "sweep"


def _n(value: int) -> str:
    return f"{value:,}"


def space_text(ref: str, schema: Schema, *, name: str | None = None, trials: int = TRIALS) -> str:
    """The space file (YAML with comments) for the data set `ref` whose schema is `schema`."""
    facts = Facts.of(schema)
    metric, goal = METRICS[facts.task]
    rows = facts.train_rows
    batch = batch_size(rows)
    steps = math.ceil(rows / batch) if rows else 0
    n_epochs = epochs(rows, batch)
    warmup = max(2, n_epochs // 4)
    tiny = facts.size == "tiny"
    what = {
        "binary": "binary classification",
        "multiclass": f"multiclass classification ({facts.classes} classes)",
        "regression": "regression",
    }[facts.task]
    columns = ", ".join(
        f"{n} {kind}"
        for n, kind in (
            (facts.numeric, "numeric"),
            (facts.categorical, "text"),
            (facts.sparse, "sparse"),
        )
        if n
    )
    out = [
        f"# yaml-language-server: $schema={SPACE_SCHEMA}",
        f"# Written by `tune init {ref}`: a first sweep fitted to this data set — edit from",
        "# here (the file format: search_spaces/README.md). Run it with `tune run FILE`.",
        f"# The data set: {what}; {_n(rows)} training rows ({facts.size}); {columns} column(s).",
    ]
    for column, distinct in facts.identifiers:
        out += [
            f"# Note: text column '{column}' has {_n(distinct)} distinct values in {_n(rows)} rows",
            "# (an identifier, or dates?): its embedding learns little from a row or two a value.",
            f"# Consider converting again with --ignore '{column}' (or --dates '{column}').",
        ]
    out += [
        f"name: {sweep_name(ref) if name is None else name}",
        f"dataset: {json.dumps(ref)}",
        f"# {metric}: what the tabular objective reports for {facts.task} on the validation split.",
        f"metric: {{name: {metric}, goal: {goal}}}",
        "# A trial is scored by its best epoch (score: best, the default), whose weights",
        "# `tune best --export` exports: more epochs than needed cost time, not quality.",
        f"# {n_epochs} epochs of {_n(steps)} steps: at least ~{_n(STEPS_PER_TRIAL)} steps a trial "
        f"(within {MIN_EPOCHS}-{MAX_EPOCHS} epochs),",
        "# enough for Adam to leave the trivial model. 20 trials: what the defaults were measured",
        "# at (README, 'Real data'); the time limit only stops a sweep that runs far longer.",
        f"budget: {{trials: {trials}, max_epochs: {n_epochs}, time: 2h}}",
        "# Trials at once: raise it to the cores (or GPUs) the machine has to spare.",
        "concurrency: 2",
        "# TPE with a random start of a third of the trials (scaled to the budget; set",
        "# n_startup_trials to change it), then it models the results.",
        "sampler: {type: tpe, seed: 0}",
        f"# A trial below the median of the others at the same epoch stops, after {warmup} epochs",
        "# (a slow starter is not judged early) and once 5 trials have finished.",
        f"pruner: {{type: median, warmup_epochs: {warmup}, startup_trials: 5}}",
        "fixed:",
        "  model: dnn",
        "  # Adam trains at every batch size here; the other Keras optimizers need tuning of",
        "  # their own (momentum, initial accumulators) and thousands of steps.",
        "  optimizer: adam",
        f"  # {_n(rows)} training rows / {batch} = {_n(steps)} steps an epoch (~{STEPS_PER_EPOCH} "
        f"or more where the rows allow; batch {MIN_BATCH}-{MAX_BATCH}).",
        f"  batch_size: {batch}",
        "  # The learning rate decays along a cosine to the last epoch: large steps first,",
        "  # fine ones at the end.",
        "  lr_schedule: cosine",
        "params:",
        "  # Adam's useful range at these batch sizes (log scale: each decade as likely).",
        "  learning_rate: {float: [1.0e-3, 3.0e-2], log: true}",
    ]
    widths = [16, 32, 64, 128] if tiny else [32, 64, 128, 256]
    out += [
        f"  # Network size: {'narrower for a tiny data set, ' if tiny else ''}one to three "
        "hidden layers.",
        f"  width: {{choice: [{', '.join(map(str, widths))}]}}",
        "  depth: {int: [1, 3]}",
        "  # Regularization: dropout after each hidden layer and an L2 penalty on the weights",
        "  # (weight decay); 0 is among the choices, so the search can leave them out.",
        f"  dropout: {{float: [0.0, {0.5 if tiny else 0.4}]}}",
        "  l2: {choice: [0.0, 1.0e-5, 1.0e-4, 1.0e-3]}",
    ]
    if facts.numeric:
        out += [
            "  # Numbers also cut into quantile buckets (of the training rows), each embedded: a",
            "  # skewed or non-monotone column is learned piece by piece, as gradient boosting's",
            "  # bins do. Many buckets helped even on a few hundred rows (ggplot2/economics, 459",
            "  # rows: RMSE 533 with 8, 413 with 32, 342 with 128); 0 = off.",
            f"  numeric_buckets: {{choice: [{', '.join(map(str, BUCKETS))}]}}",
        ]
    if facts.categorical:
        dims = [4, 8] if facts.largest_vocabulary <= 16 else [4, 8, 16]
        out += [
            f"  # Text columns are embedded (largest vocabulary: {_n(facts.largest_vocabulary)}).",
            f"  embedding_dim: {{choice: [{', '.join(map(str, dims))}]}}",
        ]
    return "\n".join(out) + "\n"


def init_space(
    dataset: str,
    out: str | Path | None = None,
    *,
    force: bool = False,
    trials: int = TRIALS,
    name: str | None = None,
) -> tuple[Path, str]:
    """Write the space file for `dataset` (a converted data set folder or builtin:NAME)
    to `out` (default ./<name>.yaml) atomically; returns (its path, its text).

    Refuses (ConfigError) to overwrite a file without `force`; the text is checked as a
    space file before it is written."""
    from tuner.atomic import write_text_atomic
    from tuner.space.load import parse_spec
    from tuner.tabular.data.builtin import resolve
    from tuner.tabular.data.schema import load_schema

    if trials < 1:
        raise ConfigError(f"--trials {trials}: expected at least 1")
    schema = load_schema(resolve(dataset))
    text = space_text(dataset, schema, name=name, trials=trials)
    path = (
        Path(out)
        if out is not None
        else Path(f"{sweep_name(dataset) if name is None else name}.yaml")
    )
    if path.is_dir():
        raise ConfigError("is a directory", where=path, hint="expected the space file to write")
    if path.exists() and not force:
        raise ConfigError("already exists", where=path, hint="--force to overwrite it")
    parse_spec(text, path, check_objective=False)  # (a bug here, not the user's input)
    write_text_atomic(path, text)
    return path, text
