"""tuner.study.status: `tune status` and `tune ls`, on studies built directly with Optuna
(no Ray, no TensorFlow)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.study.studies import TRIALS, make_study
from tuner.cli.render import fmt_duration, fmt_value, render_ls, render_status
from tuner.study.records import SweepRecord
from tuner.study.status import remaining_estimate, sweep_status, sweep_summary


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return tmp_path / "results"


@pytest.fixture
def study(results: Path) -> Any:
    return make_study(results)


def test_formatting() -> None:
    assert fmt_value(0.98123) == "0.9812"
    assert fmt_value(None) == "-"
    assert fmt_value(1.5e-5) == "1.5e-05"
    assert fmt_value(0) == "0.0000"
    assert [fmt_duration(s) for s in (0, 42.4, 72, 3600 + 180, 90000, None)] == [
        "0s",
        "42s",
        "1m12s",
        "1h03m",
        "1d01h",
        "-",
    ]


def test_remaining_estimate() -> None:
    assert remaining_estimate([10.0, 20.0], 4, 2) == pytest.approx(30.0)
    assert remaining_estimate([10.0], 0, 2) == 0.0
    assert remaining_estimate([], 4, 2) is None  # nothing finished yet
    assert remaining_estimate([10.0], 4, 0) is None  # nothing running, concurrency unknown
    assert remaining_estimate([10.0], None, 2) is None  # no budget


def test_study_budget_from_space_text(study: Any) -> None:
    assert SweepRecord.of(study).budget() == (10, 2)
    study.set_user_attr("trials", 25)  # a --trials override recorded by the driver
    assert SweepRecord.of(study).budget() == (25, 2)


def test_sweep_status(study: Any) -> None:
    status = sweep_status(study, 10, concurrency=2, top=3)
    assert status["counts"] == {
        "done": 3,
        "running": 1,
        "pruned": 2,
        "failed": 1,
        "waiting": 3,
        "total": 7,
    }
    assert status["name"] == "demo" and status["metric"] == "val_auc"
    assert status["goal"] == "maximize" and status["max_epochs"] == 4
    assert status["best"] == {
        "number": 1,
        "value": pytest.approx(0.95),
        "value_epoch": 4,
        "params": {"optimizer": "adam", "learning_rate": 0.003},
        "epochs": 4,
    }
    assert status["score"] == "last"
    assert status["epochs"] == 4 + 4 + 2 + 1 + 1 + 4 + 2
    assert [r["number"] for r in status["top"]] == [1, 5, 0]
    assert status["elapsed_s"] >= 0 and status["remaining_s"] >= 0  # 5 finished of 10 left
    json.dumps(status)  # plain data

    # no budget: no remaining estimate, waiting counts only WAITING trials
    open_ended = sweep_status(study, None)
    assert open_ended["counts"]["waiting"] == 0 and open_ended["remaining_s"] is None


def test_sweep_status_elapsed(study: Any) -> None:
    later = datetime.now() + timedelta(minutes=5)
    status = sweep_status(study, 10, now=later)
    # a trial is running: elapsed runs up to now
    assert status["elapsed_s"] == pytest.approx(300, abs=5)


def test_render_status(study: Any, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")  # (the reason column is cut to the terminal)
    text = render_status(sweep_status(study, 10, top=4))
    lines = text.splitlines()
    assert lines[0] == "sweep demo  ·  val_auc (maximize)  ·  budget 10 trials × 4 epochs"
    assert lines[1] == (
        "trials   3 done · 1 running · 2 pruned · 1 failed · 3 waiting of 10  (18 epochs trained)"
    )
    assert lines[2].startswith("time     ") and "elapsed" in lines[2]
    assert lines[3] == "best     #1 val_auc=0.9500 (epoch 4)  optimizer=adam learning_rate=0.003"
    header = lines[5].split()
    assert header == ["#", "state", "val_auc", "@epoch", "epochs", "optimizer", "learning_rate"]
    assert lines[6].split() == ["1", "COMPLETE", "0.9500", "4", "4", "adam", "0.003"]
    assert lines[9].split() == ["6", "RUNNING", "0.5500", "-", "2", "adam", "0.02"]
    assert lines[-1] == "(4 of 7 trials shown)"
    full = render_status(sweep_status(study, 10)).splitlines()
    assert full[5].split()[-1] == "reason"  # only when a shown row failed
    assert full[-1].split() == ["3", "FAIL", "-", "-", "1", "sgd", "0.1", "0.5", *REASON.split()]
    assert "reason" not in lines[5]


REASON = "ValueError: loss diverged"


def test_failed_rows_show_their_reason_cut_to_the_terminal(study: Any, monkeypatch) -> None:
    """The leaderboard had FAIL reasons, `tune status` did not: the last column, one line
    per row, cut to the terminal's width; --json has it in full."""
    import optuna

    trial = study.ask()
    long = "RuntimeError: " + "very long message " * 30 + "\nsecond line"
    trial.set_user_attr("reason", long)
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    monkeypatch.setenv("COLUMNS", "100")
    status = sweep_status(study, 10)
    text = render_status(status)
    last = text.splitlines()[-1]
    assert last.split()[:2] == [str(trial.number), "FAIL"] and "RuntimeError: very" in last
    assert len(last) <= 100 and last.endswith("…")
    row = next(r for r in status["top"] if r["number"] == trial.number)
    assert row["reason"] == long
    pruned = next(r for r in status["top"] if r["state"] == "PRUNED")
    assert pruned["reason"].startswith("pruned at epoch")


def test_render_status_empty(results: Path) -> None:
    text = render_status(sweep_status(make_study(results, "fresh", []), 10))
    assert "0 done · 0 running · 0 pruned · 0 failed · 10 waiting of 10" in text
    assert "best     - (no complete trial yet)" in text


def test_render_ls(study: Any) -> None:
    row = sweep_summary(study)
    assert (row["complete"], row["pruned"], row["failed"], row["running"]) == (3, 2, 1, 1)
    lines = render_ls([row, {"name": "broken", "error": "ValueError: bad journal"}]).splitlines()
    assert lines[0].split() == ["name", "trials", "c/p/f/r", "best", "metric", "last", "activity"]
    assert lines[1].split()[:6] == ["demo", "3/2/1/1", "0.9500", "#1", "val_auc", "(max)"]
    assert "unreadable: ValueError: bad journal" in lines[2]
    assert render_ls([]) == "no sweeps"


# ---------------------------------------------------------------- the CLI


def test_cli_status(study: Any, results: Path, cli) -> None:
    code, out, err = cli("status", "demo", "--results", results)
    assert (code, err) == (0, "")
    assert out.startswith("sweep demo  ·  val_auc (maximize)  ·  budget 10 trials × 4 epochs\n")
    assert "3 done · 1 running · 2 pruned · 1 failed · 3 waiting of 10" in out
    assert "best     #1 val_auc=0.9500" in out

    # NAME may be left out when there is one sweep; --json gives the dict
    code, out, _ = cli("status", "--results", results, "--json")
    assert code == 0 and json.loads(out)["best"]["number"] == 1

    # the same study through --storage
    url = f"journal:{results / 'demo' / 'study.journal'}"
    code, out, _ = cli("status", "demo", "--storage", url, "--results", results.parent)
    assert code == 0 and "best     #1" in out


def test_cli_status_errors(study: Any, results: Path, cli) -> None:
    code, out, err = cli("status", "nope", "--results", results)
    assert code == 2 and out == ""
    assert err.startswith("tune: error: no sweep named 'nope' under ")
    assert len(err.strip().splitlines()) == 1

    make_study(results, "second", TRIALS[:1])
    code, _, err = cli("status", "--results", results)
    assert code == 2 and "2 sweeps in" in err and "demo, second" in err

    code, _, err = cli("status", "--results", results.parent / "nothing")
    assert code == 2 and err.endswith(
        "nothing: no such folder (give the folder `tune run` wrote)\n"
    )
    (results.parent / "empty").mkdir()
    code, _, err = cli("status", "--results", results.parent / "empty")
    assert code == 2 and "no sweeps in" in err


@pytest.mark.parametrize("verb", [["status"], ["status", "demo"], ["ls"], ["best", "demo"]])
def test_results_that_is_a_file_or_missing_is_one_line(cli, tmp_path: Path, verb) -> None:
    """`tune ls --results FILE` said "no sweeps" and exited 0; a missing --results folder
    (a typo) is an error for every reading verb, as it was for status."""
    afile = tmp_path / "results.txt"
    afile.write_text("")
    code, out, err = cli(*verb, "--results", afile)
    assert (code, out) == (2, "")
    assert err == f"tune: error: --results {afile}: not a folder (it is a file)\n"
    code, out, err = cli(*verb, "--results", tmp_path / "typo")
    assert (code, out) == (2, "") and err.strip().endswith(
        "typo: no such folder (give the folder `tune run` wrote)"
    )


def test_ls_without_results_folder_has_no_sweeps(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default ./results, before the first sweep
    code, out, _ = cli("ls")
    assert code == 0 and out.startswith("no sweeps under ")


def test_cli_ls(study: Any, results: Path, cli) -> None:
    make_study(results, "second", TRIALS[:1])
    code, out, err = cli("ls", "--results", results)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["name", "demo", "second"]
    assert lines[1].split()[1:3] == ["3/2/1/1", "0.9500"]
    assert lines[2].split()[1:3] == ["1/0/0/0", "0.8800"]

    (results.parent / "empty").mkdir()
    code, out, _ = cli("ls", "--results", results.parent / "empty")
    assert code == 0 and out.startswith("no sweeps under ")


# ---------------------------------------------------------------- live progress


def test_an_archived_sweep_opens_by_the_name_tune_run_fresh_prints(
    study: Any, results: Path, cli
) -> None:
    """`tune run --fresh` renames the folder to `<name>.archived-<time>` but the study in
    its journal keeps the old name: status, best and ls still open it."""
    from tuner.space.load import parse_spec
    from tuner.study.records import SPACE
    from tuner.study.storage import storage_url
    from tuner.sweep.driver import archive

    spec = parse_spec(study.user_attrs[SPACE], "space.yaml", check_objective=False)
    archived = archive(spec, results, storage_url(results, "demo"))
    assert archived.startswith("demo.archived-") and not (results / "demo").exists()

    code, out, err = cli("status", archived, "--results", results)
    assert (code, err) == (0, "")
    assert out.startswith(f"sweep {archived}  ·  val_auc") and "3 done" in out
    code, out, err = cli("best", archived, "--results", results, "--json")
    assert (code, err) == (0, "") and json.loads(out)["trials"][0]["number"] == 1
    code, out, _ = cli("ls", "--results", results)
    assert code == 0 and out.splitlines()[1].split()[:2] == [archived, "3/2/1/1"]
