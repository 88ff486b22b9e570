"""The `tune` command: parses arguments, calls the library, maps errors to exit codes.

Only click is imported at module level; each verb imports what it needs when it runs,
so `tune --help` and bad-input errors never pay for TensorFlow, Ray or MLflow.
Exit codes: 0 success, 2 bad input (one line, no traceback), 1 unexpected failure.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from tuner import __version__
from tuner.errors import ConfigError, TunerError

PROG = "tune"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", "-V", prog_name="tuner", message="%(prog)s %(version)s"
)
def cli() -> None:
    """tuner: hyperparameter sweeps for TensorFlow models.

    Ray Tune schedules the trials, Optuna samples and prunes, MLflow records.
    """


@cli.group()
def data() -> None:
    """Convert CSV/LIBSVM files to TFRecord data sets and inspect them."""


def _names(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _label_map(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip():
            raise ConfigError(f"--label-map '{pair}': expected OLD=NEW")
        out[old.strip()] = new.strip()
    return out


@data.command("convert")
@click.argument("src", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Output directory (created; it appears only once complete).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "libsvm"]),
    help="Source format; default: from the extension (.csv, .tsv, .libsvm, .svm).",
)
@click.option(
    "--validation",
    type=click.Path(path_type=Path),
    help="A separate validation/test file, converted with the training file's schema.",
)
@click.option("--split", type=float, help="Hold out this fraction of SRC as the validation split.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --split.")
@click.option("--columns", help="Comma-separated column names, for a CSV without a header line.")
@click.option("--label", help="The label column (default: the last column).")
@click.option("--categorical", help="Comma-separated columns to treat as categorical.")
@click.option("--numeric", help="Comma-separated columns to treat as numeric.")
@click.option(
    "--label-map",
    "label_map",
    multiple=True,
    metavar="OLD=NEW",
    help="Rename a label value before classes are formed (repeatable).",
)
@click.option(
    "--task",
    type=click.Choice(["binary", "multiclass", "regression"]),
    help="Label kind; default: inferred (text, two values or few integers → classes, other "
    "numbers → regression).",
)
@click.option("--shards", type=int, default=1, show_default=True, help="TFRecord files per split.")
@click.option("--compress", is_flag=True, help="GZIP-compress the TFRecord files.")
@click.option("--dimension", type=int, help="LIBSVM: the feature dimension (default: largest id).")
@click.option(
    "--max-dimension",
    type=int,
    help="LIBSVM: refuse feature ids above this (default 16,777,216 = 2**24).",
)
@click.option(
    "--delimiter",
    metavar="CHAR",
    help="CSV: the delimiter (';', '|', tab, ...); default: ',' (tab for .tsv), or the one "
    "detected among , ; tab | when that reads one column.",
)
@click.option(
    "--decimal-comma",
    "decimal_comma",
    is_flag=True,
    help="CSV: numbers are written with a decimal comma (1,5); recorded for `tune predict`.",
)
@click.option(
    "--drop-missing-label",
    "drop_missing_label",
    is_flag=True,
    help="CSV: leave out the rows without a label (in SRC and --validation), counted in the "
    "summary; default: such a row is an error.",
)
@click.option(
    "--ignore",
    multiple=True,
    metavar="COL[,COL]",
    help="CSV: leave these columns out of the data set (repeatable or comma-separated); "
    "`tune predict` then ignores them in its input too.",
)
@click.option(
    "--dates",
    multiple=True,
    metavar="COL[,COL]",
    help="CSV: read these columns of dates as numbers COL.year, COL.month, COL.day_of_week, "
    "COL.day_of_year (and COL.hour for date-times); `tune predict` reads them alike.",
)
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def data_convert(
    src: Path,
    out: Path,
    fmt,
    validation,
    split,
    seed,
    columns,
    label,
    categorical,
    numeric,
    label_map,
    task,
    shards,
    compress,
    dimension,
    max_dimension,
    delimiter,
    decimal_comma,
    drop_missing_label,
    ignore,
    dates,
    force,
) -> None:
    """Convert a CSV or LIBSVM file SRC into a TFRecord data set with a schema.

    \b
    Missing values: '?', empty, NA, N/A, NaN, null and None (after white space is
    stripped) are missing; numeric → NaN, categorical → "" (its own lookup id).
    A validation label with a trailing period ('>50K.') matches the training class
    without it ('>50K'); --label-map renames any other value.
    """
    from tuner.tabular.data.convert import ConvertOptions, convert
    from tuner.tabular.data.csv_source import parse_delimiter
    from tuner.tabular.data.table import describe_label

    options = ConvertOptions(
        format=fmt,
        validation=validation,
        split=split,
        seed=seed,
        columns=_names(columns) or None,
        label=label,
        categorical=_names(categorical),
        numeric=_names(numeric),
        label_map=_label_map(label_map),
        task=task,
        shards=shards,
        compression="GZIP" if compress else None,
        dimension=dimension,
        max_dimension=max_dimension,
        force=force,
        delimiter=parse_delimiter(delimiter) if delimiter is not None else None,
        decimal_comma=decimal_comma,
        drop_missing_label=drop_missing_label,
        ignore=[name for text in ignore for name in _names(text)],
        dates=[name for text in dates for name in _names(text)],
    )
    notes: list[str] = []
    schema = convert(src, out, options, notes=notes.append)
    click.echo(describe_label(schema.label, inferred=task is None))
    kinds: dict[str, int] = {}
    for f in schema.features:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    rows = ", ".join(f"{name} {s.rows:,}" for name, s in schema.splits.items())
    click.echo(
        f"wrote {out}: {rows} rows; {len(schema.features)} features "
        f"({', '.join(f'{n} {k}' for k, n in kinds.items())}); label {schema.label.name} "
        f"({schema.label.kind})"
        + _dialect(schema, src, delimiter)
        + "".join(f"; {n}" for n in notes)
    )


def _dialect(schema, src: Path, given: str | None) -> str:
    """The convert summary's word on a CSV read other than with commas: the delimiter
    (and whether it was detected), decimal commas."""
    from tuner.tabular.data.csv_source import delimiter_name, extension_delimiter

    if schema.csv is None:
        return ""
    words = []
    delimiter = schema.csv.delimiter
    if delimiter != ",":
        detected = given is None and delimiter != extension_delimiter(src)
        words.append(
            f"{delimiter_name(delimiter)}-delimited"
            + (" (detected; --delimiter overrides)" if detected else "")
        )
    if schema.csv.decimal_comma:
        words.append("decimal commas")
    return f"; read as {', '.join(words)}" if words else ""


@data.command("inspect")
@click.argument("path")
@click.option("--head", "-n", type=int, default=3, show_default=True, help="Examples to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def data_inspect(path: str, head: int, as_json: bool) -> None:
    """Show the schema, row counts and first records of PATH.

    PATH is a converted data set, `builtin:NAME`, or any TFRecord file or folder of them
    (without a schema, feature keys and types are inferred from the records).
    """
    from tuner.tabular.data.inspect import inspect, render

    if head < 0:
        raise ConfigError(f"--head {head}: expected 0 or more")
    info = inspect(path, head)
    click.echo(json.dumps(info, indent=2) if as_json else render(info))


@cli.command("init")
@click.argument("dataset", metavar="DATASET")
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(path_type=Path),
    help="The space file to write (default: ./<data set name>.yaml).",
)
@click.option("--name", help="The sweep's name (default: the data set folder's name).")
@click.option(
    "--trials", type=click.IntRange(min=1), default=20, show_default=True, help="budget.trials."
)
@click.option("--force", is_flag=True, help="Overwrite the space file if it exists.")
def init_cmd(dataset: str, out: Path | None, name: str | None, trials: int, force: bool) -> None:
    """Write a first space file for DATASET (a converted data set folder or builtin:NAME),
    chosen from its task, size and columns: batch size and epochs from the row count,
    Adam's learning rate, the network's size, dropout, weight decay, numeric buckets and
    embeddings, each choice explained in a comment. Edit it, then `tune run` it."""
    from tuner.tabular.space_init import init_space

    path, text = init_space(dataset, out, force=force, trials=trials, name=name)
    summary = next(line for line in text.splitlines() if line.startswith("# The data set:"))
    click.echo(f"wrote {path}: {summary[len('# The data set: ') :]}")
    click.echo(f"next: tune run {path}")


def _format_epoch(epoch: int, epochs: int, metrics: dict[str, float]) -> str:
    order = ["loss", "accuracy", "auc", "top_k_accuracy", "rmse", "mae"]
    train = [f"{k} {metrics[k]:.4f}" for k in order if k in metrics]
    val = [f"{k} {metrics['val_' + k]:.4f}" for k in order if f"val_{k}" in metrics]
    speed = f"{metrics.get('epoch_time', 0):.1f}s {metrics.get('examples_per_sec', 0):,.0f} ex/s"
    rates = [
        f"{k.replace('learning_rate', 'lr')} {metrics[k]:.3g}"
        for k in metrics
        if "learning_rate" in k
    ]
    width = len(str(epochs))
    return (
        f"epoch {epoch:>{width}}/{epochs}  {'  '.join(train)}  |  val {'  '.join(val)}  |  "
        f"{speed}  {'  '.join(rates)}"
    )


@cli.command("train")
@click.argument("config_file", metavar="CONFIG.yaml", type=click.Path(path_type=Path))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key, typed by the trial schema (repeatable), "
    "e.g. --set optimizer=adam --set hidden_units=[128,32,8].",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    help="Output folder (default: results/train/<config name>). Running again on the same "
    "folder resumes from its last checkpoint.",
)
@click.option(
    "--from-scratch", is_flag=True, help="Discard the checkpoint in --out and start over."
)
@click.option(
    "--init-from",
    type=click.Path(path_type=Path),
    help="Start from a model's weights: an earlier `tune train --out` folder (online "
    "learning on new data). Not a sweep's history: that is `tune run --warm-start-from`.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Train the one model on N worker processes, data-parallel (each step's global "
    "batch split across them, the gradients summed): the config's `workers` key.",
)
def train(
    config_file: Path, overrides: tuple[str, ...], out, from_scratch, init_from, workers
) -> None:
    """Train one trial from CONFIG.yaml (the trial config schema) and export its model.

    \b
    Writes to --out: checkpoints/{last,best}, tensorboard/, metrics.json, config.yaml
    (the full config the trial ran), and model/ (a SavedModel serving raw features).

    \b
    A config with an `objective:` key (a program's mapping or module:function, as
    `tune best --export` writes for such sweeps) runs that objective once in --out.
    """
    from tuner.one_trial import names_objective, train_file

    if names_objective(config_file):
        if from_scratch or init_from or workers:
            raise ConfigError(
                "--from-scratch, --init-from and --workers are the built-in objective's",
                where=config_file,
                hint="a program or your own objective resumes from its own checkpoints",
            )
        train_file(config_file, overrides=list(overrides), out=out, echo=click.echo)
        return
    from tuner.tabular.model.run import train_from_file

    if workers is not None:
        overrides = (*overrides, f"workers={workers}")
    train_from_file(
        config_file,
        overrides=list(overrides),
        out=out,
        from_scratch=from_scratch,
        init_from=init_from,
        echo=click.echo,
        format_epoch=_format_epoch,
    )


@cli.command("predict")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--out", "-o", type=click.Path(path_type=Path), help="CSV to write (default: stdout)."
)
@click.option(
    "--split",
    default="validation",
    show_default=True,
    help="When DATA is a converted data set: the split to predict.",
)
@click.option(
    "--delimiter",
    metavar="CHAR",
    help="When DATA is a CSV file: its delimiter (default: the one the data set's CSV was "
    "read with, else detected).",
)
@click.option(
    "--decimal-comma",
    "decimal_comma",
    is_flag=True,
    help="When DATA is a CSV file: numbers are written 1,5 (default: as the data set's CSV).",
)
def predict_cmd(model_dir: Path, data: Path, out, split: str, delimiter, decimal_comma) -> None:
    """Predict every row of DATA (a CSV file, a TFRecord file or a converted data set) with
    the model exported by `tune train` into MODEL_DIR; one output row per input row, in order.
    The input is checked against the model's schema before TensorFlow starts.
    """
    from tuner.tabular.data.csv_source import parse_delimiter
    from tuner.tabular.model.predict import predict

    rows = predict(
        model_dir,
        data,
        out,
        split=split,
        delimiter=parse_delimiter(delimiter) if delimiter is not None else None,
        decimal_comma=decimal_comma,
    )
    if out is not None:
        click.echo(f"wrote {out}: {rows:,} predictions", err=True)


def _cluster_options(fn):
    """--address and --trial-storage: the options of `tune run` and `tune resume` that
    matter on a Ray cluster (see the README, "Running on a cluster")."""
    fn = click.option(
        "--trial-storage",
        metavar="DIR",
        type=click.Path(path_type=Path),
        help="Where trial folders go (checkpoints, TensorBoard, models): "
        "DIR/<name>/trials/<n>. On a cluster every node must reach it (a shared "
        "filesystem). Default: the one the sweep used before, else the results folder.",
    )(fn)
    return click.option(
        "--address",
        metavar="HOST:PORT|auto",
        help="Run the trials on this Ray cluster (default: $RAY_ADDRESS, else a local Ray). "
        "With token auth: RAY_AUTH_MODE=token and the cluster's token in the environment.",
    )(fn)


@cli.command("run")
@click.argument("space_file", metavar="SPACE.yaml", type=click.Path(path_type=Path))
@click.option("--trials", type=int, help="Override budget.trials.")
@click.option("--concurrency", type=int, help="Override concurrency (trials at once).")
@click.option(
    "--results",
    type=click.Path(path_type=Path),
    help="The results folder (default: ./results): the study, trials, MLflow store.",
)
@click.option("--storage", "storage_url", help="An Optuna storage URL for the study.")
@click.option(
    "--tracking-uri",
    help="An MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else results/mlflow.db).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@click.option(
    "--fresh",
    is_flag=True,
    help="Start the sweep over under the same name; the old one is archived, not deleted.",
)
@click.option(
    "--warm-start-from",
    "warm_start_from",
    multiple=True,
    metavar="NAME",
    help="Start a new sweep from an earlier sweep's history (repeatable; replaces the space "
    "file's warm_start list): its complete trials that fit this space teach the sampler, "
    "and the best few run first. A sweep's history, not a model's weights (that is "
    "`tune train --init-from`). A resumed sweep never repeats it.",
)
@click.option(
    "--warm-start-storage",
    metavar="URL",
    help="The Optuna storage of the --warm-start-from sweeps (default: where this sweep's "
    "study is: the same --results folder or --storage).",
)
@_cluster_options
def run_cmd(
    space_file: Path,
    trials,
    concurrency,
    results,
    storage_url,
    tracking_uri,
    quiet,
    fresh,
    warm_start_from,
    warm_start_storage,
    address,
    trial_storage,
):
    """Run the sweep described by SPACE.yaml: Ray Tune schedules the trials, Optuna samples
    and prunes them, MLflow records each one under one parent run.

    The space file is checked completely before anything starts. At the end:
    results/<name>/leaderboard.csv and plots/, and how to open the MLflow UI.
    """
    from tuner import api

    outcome = api.run(
        space_file,
        results=results,
        storage=storage_url,
        tracking_uri=tracking_uri,
        trials=trials,
        concurrency=concurrency,
        fresh=fresh,
        address=address,
        trial_storage=trial_storage,
        quiet=quiet,
        warm_start_from=warm_start_from,
        warm_start_storage=warm_start_storage,
    )
    return _report(outcome, results, storage_url, tracking_uri)


@cli.command("resume")
@click.argument("name")
@click.option("--trials", type=int, help="Raise (or set) the trial budget.")
@click.option("--concurrency", type=int, help="Trials at once.")
@click.option("--results", type=click.Path(path_type=Path), help="The results folder.")
@click.option("--storage", "storage_url", help="The study's Optuna storage URL, if not default.")
@click.option("--tracking-uri", help="An MLflow tracking URI.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@_cluster_options
def resume_cmd(
    name: str, trials, concurrency, results, storage_url, tracking_uri, quiet, **cluster
):
    """Resume the sweep NAME from its study alone (the space file is kept in it): trials a
    dead run left unfinished continue from their last checkpoint; the rest of the budget
    runs; nothing finished runs again."""
    from tuner import api

    outcome = api.resume(
        name,
        results=results,
        storage=storage_url,
        tracking_uri=tracking_uri,
        trials=trials,
        concurrency=concurrency,
        quiet=quiet,
        **cluster,
    )
    return _report(outcome, results, storage_url, tracking_uri)


def _report(outcome, results, storage_url, tracking_uri) -> int:
    """What `tune run` prints at the end, and its exit code."""
    from tuner.cli.render import render_mattered
    from tuner.redact import mask_url

    counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(outcome.counts.items()))
    click.echo(
        f"sweep {outcome.name}: {counts or 'no trials'}; {outcome.epochs} epochs trained "
        f"in {outcome.elapsed:.0f}s" + (f" (stopped: {outcome.stopped})" if outcome.stopped else "")
    )
    if outcome.best_number is not None:
        click.echo(f"best: trial {outcome.best_number}, {outcome.metric}={outcome.best_value:.6g}")
    for line in render_mattered(
        outcome.metric, outcome.best_params, outcome.spread, outcome.importances
    ):
        click.echo(line)
    results_flag = f" --results {outcome.results}" if results else ""
    if outcome.front is not None:
        click.echo(f"pareto front: {outcome.front} (tune best {outcome.name}{results_flag})")
    if outcome.leaderboard:
        click.echo(f"leaderboard: {outcome.leaderboard}")
    tracking = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or ""
    server = tracking.startswith(("http://", "https://"))  # a tracking server: its own UI
    if outcome.runs_url:
        ui = "open" if server else f"tune ui{results_flag}, then open"
        click.echo(f"compare the trials: {ui} {outcome.runs_url}")
    if outcome.interrupted:
        flags = results_flag + (f" --storage '{mask_url(storage_url)}'" if storage_url else "")
        flags += f" --tracking-uri '{mask_url(tracking_uri)}'" if tracking_uri else ""
        click.echo(f"to continue: tune resume {outcome.name}{flags}", err=True)
        return outcome.exit_code or 130  # 128 + the signal: 130 Ctrl-C, 143 SIGTERM
    return 0


def _existing_results(option: Path | None, storage_url: str | None = None) -> Path:
    """The results folder a reading verb (status, ls, best, ui) looks in. A file, or a
    --results folder that does not exist (a typo), is one line (exit 2); the default
    ./results missing just holds no sweeps yet, and with --storage the study is
    elsewhere anyway."""
    from tuner.study.storage import results_dir

    folder = results_dir(option)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--results {folder}: not a folder", hint="it is a file")
    if option is not None and storage_url is None and not folder.exists():
        raise ConfigError(
            f"--results {folder}: no such folder", hint="give the folder `tune run` wrote"
        )
    return folder


@cli.command("status")
@click.argument("name", required=False)
@click.option(
    "--results",
    type=click.Path(path_type=Path),
    help="The results folder (default: ./results).",
)
@click.option(
    "--storage", "storage_url", help="The study's Optuna storage URL, if not the default."
)
@click.option("--top", type=int, default=10, show_default=True, help="Leaderboard rows to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status_cmd(name, results, storage_url, top: int, as_json: bool) -> None:
    """Show a running or finished sweep from its study: trials done / running / pruned /
    failed of the budget, the best trial, the time, and the top of the leaderboard.

    NAME may be left out when there is only one sweep.
    """
    from tuner.cli.render import render_status
    from tuner.study.summary import load_status

    if top < 0:
        raise ConfigError(f"--top {top}: expected 0 or more")
    status = load_status(_existing_results(results, storage_url), name, storage_url, top=top)
    click.echo(json.dumps(status, indent=2) if as_json else render_status(status))


@cli.command("ls")
@click.option(
    "--results",
    type=click.Path(path_type=Path),
    help="The results folder (default: ./results).",
)
def ls_cmd(results) -> None:
    """List the sweeps under the results folder: trials, best value, metric, last activity."""
    from tuner.cli.render import render_ls
    from tuner.study.summary import ls_rows

    folder = _existing_results(results)
    rows = ls_rows(folder)
    click.echo(render_ls(rows) if rows else f"no sweeps under {folder}")


@cli.command("ui")
@click.option(
    "--results",
    type=click.Path(path_type=Path),
    help="The results folder (default: ./results): its mlflow.db and mlartifacts/.",
)
@click.option(
    "--tracking-uri",
    help="An MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else results/mlflow.db).",
)
@click.option(
    "--port", type=int, default=5000, show_default=True, help="The port (0: any free port)."
)
def ui_cmd(results, tracking_uri, port: int) -> None:
    """Start the MLflow UI on the sweeps' tracking store, bound to 127.0.0.1.

    Prints the runs page of the most recent sweep (each sweep is an experiment: a parent
    run with one nested run per trial) and serves until Ctrl-C.
    """
    from tuner.tracking.ui import run_ui

    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port}: expected 0 to 65535")
    default_store = not (tracking_uri or os.environ.get("MLFLOW_TRACKING_URI"))
    if results is not None or default_store:
        folder = _existing_results(results)
        if not folder.exists():  # the default ./results: the UI would serve an empty store
            raise ConfigError(
                f"no results folder {folder}",
                hint="run a sweep first, or pass --results DIR or --tracking-uri URI",
            )
    run_ui(results, tracking_uri, port, echo=click.echo)


@cli.command("best")
@click.argument("name")
@click.option("--top", type=int, default=1, show_default=True, help="Show the best K trials.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option(
    "--trial",
    "number",
    type=int,
    help="Export or register COMPLETE trial N (e.g. one of the Pareto front) instead of the best.",
)
@click.option(
    "--export",
    "export",
    is_flag=True,
    help="Write results/<name>/best/: config.yaml (the trial config, for `tune train`), "
    "model/ (its SavedModel), metrics.json and space.yaml (the space narrowed to it).",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    help="Export to this folder instead of results/<name>/best (implies --export).",
)
@click.option(
    "--register",
    "model_name",
    metavar="MODEL_NAME",
    help="Log the best trial's model as an MLflow pyfunc model on its run and register it "
    "as a new version of MODEL_NAME.",
)
@click.option(
    "--results",
    type=click.Path(path_type=Path),
    help="The results folder (default: ./results).",
)
@click.option(
    "--storage", "storage_url", help="The study's Optuna storage URL, if not the default."
)
@click.option(
    "--tracking-uri",
    help="An MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else results/mlflow.db).",
)
def best_cmd(
    name, top, as_json, number, export, out, model_name, results, storage_url, tracking_uri
):
    """Show the best trial of sweep NAME (or the top K) by its metric: value, params,
    epochs, state, MLflow run and trial folder. On a running sweep: the best so far.

    \b
    tune best NAME --export       writes results/NAME/best/ (the trial's model/, config
                                  and metrics); the built-in objective's trial is
                                  retrained by tune train results/NAME/best/config.yaml
    tune best NAME --register M   registers models:/M/<version>; serve it with
                                  mlflow models serve -m models:/M/<version>
    """
    from tuner.study import best, summary

    if top < 1:
        raise ConfigError(f"--top {top}: expected 1 or more")
    folder = _existing_results(results, storage_url)
    if number is not None and not (export or out or model_name):
        raise ConfigError("--trial N picks the trial to export", hint="add --export or --register")
    if not (export or out or model_name or storage_url):
        data = summary.summary_table(folder, name, top)  # (its summary, if current)
        if data is not None:
            _print_best(name, data, [], as_json)
            return
    study = best.load_sweep(folder, name, storage_url)
    if export or out or model_name:
        best.pick_trial(study, number)  # none: fail before printing anything
    data = best.best_table(study, folder, top)
    if storage_url is None:  # the next read answers from the summary
        summary.refresh(study, folder, name)
    if not data["trials"]:
        raise ConfigError(
            f"sweep '{name}' has no complete trial yet", hint=f"see `tune status {name}`"
        )
    messages = []
    if export or out:
        path = best.export_best(study, folder, name, out, number)
        data["export"] = str(path)
        chosen = number if number is not None else data["trials"][0]["number"]
        messages.append(f"exported trial {chosen} to {path}")
        messages.append(best.next_step(study, path))
    if model_name:
        model_dir = Path(data["export"]) / "model" if "export" in data else None
        from tuner.tracking.registry import register_best

        registered = register_best(
            study, folder, model_name, tracking_uri, number=number, model_dir=model_dir
        )
        data["registered"] = {
            "name": registered.name,
            "version": registered.version,
            "model_uri": registered.model_uri,
            "run_id": registered.run_id,
        }
        messages.append(
            f"registered {registered.model_uri} (trial {registered.trial}, run "
            f"{registered.run_id}); serve it: mlflow models serve -m {registered.model_uri}"
        )
    _print_best(name, data, messages, as_json)


def _print_best(name: str, data: dict[str, Any], messages: list[str], as_json: bool) -> None:
    """`tune best`'s output: its table (JSON, or text with `messages` after it)."""
    from tuner.cli.render import render_best

    if not data["trials"]:
        raise ConfigError(
            f"sweep '{name}' has no complete trial yet", hint=f"see `tune status {name}`"
        )
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo("\n".join([render_best(data), *([""] if messages else []), *messages]))


def _error(message: str) -> None:
    from tuner.redact import mask_text

    click.echo(f"{PROG}: error: {mask_text(message)}", err=True)


def _interruption(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C or second signal behind an error, if one is: a signal handler raises
    wherever the process is, and some libraries turn what they catch into their own
    error (matplotlib's C extension, interrupted while it initialises, raises
    ImportError from it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns (and exits with) the exit code."""
    from tuner.timeline import mark

    mark("cli_start")
    args = sys.argv[1:] if argv is None else argv
    try:
        result = cli.main(args=args, prog_name=PROG, standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except TunerError as exc:
        _error(exc.format())
        code = exc.exit_code
    except click.exceptions.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx else PROG
        _error(f"{exc.format_message()} (see '{cmd} --help')".replace("\n", " "))
        code = 2
    except click.exceptions.Abort as exc:  # click's wrapping of a KeyboardInterrupt
        _error("aborted")
        code = getattr(exc.__cause__, "exit_code", 130)  # a second SIGTERM: 143
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except KeyboardInterrupt as exc:
        _error("interrupted")
        code = getattr(exc, "exit_code", 130)  # a second SIGTERM: 143
    except Exception as exc:
        if (interrupt := _interruption(exc)) is not None:
            _error("interrupted")
            code = getattr(interrupt, "exit_code", 130)
        else:
            from tuner.redact import mask_text

            sys.stderr.write(mask_text(traceback.format_exc()))
            _error("unexpected failure (the traceback above is a bug in tuner; please report it)")
            code = 1
    mark("cli_end")
    if argv is None:
        sys.exit(code)
    return code
