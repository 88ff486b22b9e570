"""tuner.study.summary: `tune status`/`best`/`ls` answer from the summary kept beside the
study when it is current, replay the journal when it is missing or stale — and answer
the same either way (no Ray, no TensorFlow: studies built with Optuna in a journal)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.study.studies import make_study
from tuner.study import records, summary
from tuner.study.best import best_table
from tuner.study.status import find_sweep, sweep_status, sweep_summary
from tuner.study.summary import load_status, ls_rows, summary_table


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return tmp_path / "results"


def _truth(results: Path, name: str = "demo") -> dict[str, Any]:
    """What the journal says, replayed."""
    study = find_sweep(results, name)
    return {
        "status": sweep_status(study, 10, concurrency=2, top=summary.KEEP_TOP),
        "ls": sweep_summary(study),
        "best": best_table(study, results, summary.KEEP_TOP),
    }


def _timeless(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k != "elapsed_s"}


def test_a_read_writes_the_summary_and_the_next_answers_from_it_alone(
    results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_study(results)
    assert summary.read(results, "demo") is None  # none yet
    first = load_status(results, "demo", top=3)
    kept = summary.read(results, "demo")
    assert kept is not None
    truth = _truth(results)
    assert _timeless(kept["status"]) == _timeless(truth["status"])
    assert kept["ls"] == truth["ls"] and kept["best"] == truth["best"]

    # the next reads never open the study
    def refused(*args: Any) -> None:
        raise AssertionError("the journal was replayed")

    monkeypatch.setattr("tuner.study.status.find_sweep", refused)
    again = load_status(results, "demo", top=3)
    assert _timeless(again) == _timeless(first) and len(again["top"]) == 3
    assert ls_rows(results) == [truth["ls"]]
    table = summary_table(results, "demo", 2)
    assert table is not None and table["trials"] == truth["best"]["trials"][:2]
    assert summary_table(results, "demo", summary.KEEP_TOP + 1) is None  # past what it keeps


def test_a_journal_that_changed_makes_the_summary_stale(results: Path) -> None:
    study = make_study(results)
    load_status(results, "demo")
    assert summary.read(results, "demo") is not None
    # the sweep lock's heartbeats and release answer nothing: still current
    study.set_user_attr(records.LOCK, {"host": "h", "pid": 1, "heartbeat": 2.0})
    study.set_user_attr(records.LOCK, None)
    assert summary.read(results, "demo") is not None
    study.set_user_attr("touched", 1)  # any other record appended
    assert summary.read(results, "demo") is None
    status = load_status(results, "demo")  # replayed, and kept again
    assert summary.read(results, "demo") is not None
    assert _timeless(status) == _timeless(_truth(results)["status"])


def test_a_journal_cut_and_written_again_makes_the_summary_stale(results: Path) -> None:
    make_study(results)
    load_status(results, "demo")
    journal = results / "demo" / "study.journal"
    data = journal.read_bytes()
    journal.write_bytes(data[:-200] + b"x" * 200)  # as long, other bytes
    assert summary.read(results, "demo") is None


def test_a_torn_or_foreign_summary_is_not_read(results: Path) -> None:
    make_study(results)
    load_status(results, "demo")
    where = summary.path(results, "demo")
    kept = json.loads(where.read_text())
    where.write_text(json.dumps(kept)[:50])
    assert summary.read(results, "demo") is None
    kept["journal"]["path"] = "/elsewhere/study.journal"  # a moved results folder's
    where.write_text(json.dumps(kept))
    assert summary.read(results, "demo") is None


def test_a_sweep_with_running_trials_is_timed_to_now(results: Path) -> None:
    make_study(results)  # (one trial RUNNING)
    kept = summary.build(find_sweep(results, "demo"), results, "demo")
    assert kept is not None
    started = datetime.fromisoformat(kept["status"]["started"])
    later = summary.status_of(kept, 10, now=started.replace(year=started.year + 1))
    assert later["elapsed_s"] > 360 * 86400


def test_an_unwritable_results_folder_is_still_read(
    results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_study(results)

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tuner.atomic.tempfile.mkstemp", full)
    assert load_status(results, "demo")["counts"]["done"] == 3
    assert not summary.path(results, "demo").exists()


def test_best_from_the_cli_answers_from_the_summary(results: Path, cli) -> None:
    make_study(results)
    code, out, err = cli("best", "demo", "--results", results, "--json", "--top", "2")
    assert (code, err) == (0, "")
    replayed = json.loads(out)
    assert summary.read(results, "demo") is not None
    code, out, err = cli("best", "demo", "--results", results, "--json", "--top", "2")
    assert (code, err) == (0, "") and json.loads(out) == replayed
