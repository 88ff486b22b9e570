"""Warm start end to end on the cheap objective (score = x·(1 − 0.5^epoch)): sweep B
starts from sweep A's history — its first trials are A's best configs, it runs exactly
its own budget, and `tune status`/`tune best`, the leaderboard, the plots and MLflow show
only its own trials; resuming or extending B never adds the history again; a missing
source is one line, exit 2, before Ray starts."""

from __future__ import annotations

import csv
import json

import pytest

from tests.sweep.conftest import Sweeper

pytestmark = pytest.mark.slow

SPACE = """\
name: {name}
objective: tests.sweep.cheap:train
metric: {{name: score, goal: maximize}}
budget: {{trials: {trials}, max_epochs: 2}}
concurrency: 1
sampler: {{type: {sampler}, seed: {seed}}}
pruner: {{type: none}}
fixed: {{sleep: 0.0}}
params:
  x: {{float: [{low}, 1.0]}}
{extra}"""


def space(
    name: str,
    *,
    trials: int,
    low: float = 0.0,
    sampler: str = "random",
    seed: int = 1,
    extra: str = "",
) -> str:
    return SPACE.format(name=name, trials=trials, low=low, sampler=sampler, seed=seed, extra=extra)


@pytest.mark.timeout(300)
def test_a_warm_started_sweep_runs_the_best_first_and_reports_only_its_own(
    sweeper: Sweeper, cli, capsys: pytest.CaptureFixture[str]
) -> None:
    from tuner.study import records
    from tuner.study.ranking import top_trials

    a = sweeper.run(space("a", trials=8))
    old = top_trials(a.study, 8)
    fitting = [t for t in old if t.params["x"] >= 0.3]
    assert 2 < len(fitting) < len(old), "the seed must draw x on both sides of 0.3"
    capsys.readouterr()

    # B narrows x to [0.3, 1]: A's trials below 0.3 no longer fit
    path = sweeper.space(
        space("b", trials=4, low=0.3, sampler="tpe", seed=2, extra="warm_start: {from: a, top: 2}"),
        "b.yaml",
    )
    b = sweeper.run(path)

    err = capsys.readouterr().err
    skipped = len(old) - len(fitting)
    line = (
        f"tune: warm start from a: {len(fitting)} trials as history, 2 tried first; "
        f"{skipped} skipped (no longer fit the space: x out of range"
    )
    assert line in err, err
    # (and what its sampler does first: Optuna's 10 random trials scaled to the budget)
    assert "tune: sampler: TPE, the first 3 of 4 trials at random, then modelled" in err
    trials = b.study.get_trials(deepcopy=False)
    history = [t for t in trials if records.is_history(t)]
    own = records.own_trials(trials)
    values = {f"a#{t.number}": t.value for t in fitting}  # A's values, kept
    assert {f"a#{records.history_source(t)[1]}": t.value for t in history} == values  # type: ignore[index]
    # exactly its budget of own trials, the first two A's best two (same params)
    assert len(own) == 4 and sum(b.counts.values()) == 4
    assert all(t.state.name == "COMPLETE" for t in own)
    assert [t.params for t in own[:2]] == [fitting[0].params, fitting[1].params]
    assert [t.user_attrs[records.TRIAL_REPLAY]["number"] for t in own[:2]] == [
        fitting[0].number,
        fitting[1].number,
    ]
    numbers = {t.number for t in own}
    assert b.best_number in numbers
    # its plots, the optimization history too (issue 25: skipped, IndexError)
    assert "optimization_history.png" in {p.name for p in b.plots}

    # tune status / tune best / leaderboard / MLflow: the sweep's own trials only
    code, out, err = cli("status", "b", "--json", "--results", sweeper.results)
    assert code == 0, err
    status = json.loads(out)
    assert status["counts"]["done"] == status["counts"]["total"] == 4
    assert status["counts"]["waiting"] == 0
    assert {row["number"] for row in status["top"]} == numbers
    assert status["best"]["number"] in numbers
    assert status["warm_start"]["from"] == ["a"]
    code, out, err = cli("status", "b", "--results", sweeper.results)
    first = ", ".join(f"#{n}" for n in status["warm_start"]["first"])
    assert f"warm     from a: {status['warm_start']['history']} earlier trials" in out
    assert f"run first: {first}" in out
    code, out, err = cli("best", "b", "--json", "--top", "10", "--results", sweeper.results)
    assert code == 0, err
    best = json.loads(out)
    assert (best["complete"], best["total"]) == (4, 4)
    assert {row["number"] for row in best["trials"]} == numbers
    with (sweeper.results / "b" / "leaderboard.csv").open() as f:
        assert {int(row["number"]) for row in csv.DictReader(f)} == numbers
    _, children = sweeper.runs("b")
    assert set(children) == numbers
    # a history trial is not exportable
    code, out, err = cli(
        "best", "b", "--export", "--trial", str(history[0].number), "--results", sweeper.results
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "is warm-start history (trial" in err

    # extending B (more trials) runs 2 more of its own and adds no history again
    done = records.read_warm_start(b.study)
    again = sweeper.run(path, trials=6)
    assert "warm start" not in capsys.readouterr().err
    trials = again.study.get_trials(deepcopy=False)
    assert len([t for t in trials if records.is_history(t)]) == len(history)
    assert len(records.own_trials(trials)) == 6
    assert records.read_warm_start(again.study) == done


@pytest.mark.timeout(180)
def test_the_flag_warm_starts_from_a_sweep_and_a_missing_one_is_one_line_before_ray(
    sweeper: Sweeper, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuner.study import records
    from tuner.study.best import load_sweep
    from tuner.sweep import driver

    path = sweeper.space(space("c", trials=2), "c.yaml")

    def no_ray(*args: object, **kwargs: object) -> None:
        raise AssertionError("Ray was started")

    with monkeypatch.context() as patch:
        patch.setattr(driver, "ensure_ray", no_ray)
        code, _, err = cli(
            "run", path, "--warm-start-from", "nope", "--quiet", "--results", sweeper.results
        )
    assert code == 2
    assert err.strip().splitlines() == [
        "tune: error: warm start from 'nope': no sweep named 'nope' under "
        f"{sweeper.results} (see `tune ls`, or pass --results/--storage)"
    ]
    assert not (sweeper.results / "c").exists()  # nothing left behind

    sweeper.run(space("d", trials=3))
    code, _, err = cli(
        "run", path, "--warm-start-from", "d", "--quiet", "--results", sweeper.results
    )
    assert code == 0, err
    assert "tune: warm start from d: 3 trials as history, 2 tried first" in err
    study = load_sweep(sweeper.results, "c")
    assert len(records.own_trials(study.get_trials())) == 2
    assert records.read_warm_start(study)["from"] == ["d"]  # type: ignore[index]


def test_train_and_run_help_tell_weights_from_history(cli) -> None:
    # (click wraps the help to the terminal's width, and may break a word at a hyphen:
    # compare without white space)
    def squashed(*args: str) -> str:
        return "".join(cli(*args)[1].split())

    assert "amodel'sweights" in squashed("train", "--help")
    assert "--warm-start-from" in squashed("train", "--help")
    assert "sweep'shistory" in squashed("run", "--help")
    assert "--init-from" in squashed("run", "--help")


@pytest.mark.timeout(180)
def test_fresh_warm_starts_from_the_sweep_it_archives(sweeper: Sweeper, cli) -> None:
    from tuner.study import records
    from tuner.study.best import load_sweep

    path = sweeper.space(space("e", trials=3, extra="warm_start: e\n"), "e.yaml")
    code, _, err = cli("run", path, "--quiet", "--results", sweeper.results)
    assert code == 2 and "warm start from 'e': that is this sweep" in err  # only with --fresh
    sweeper.run(space("e", trials=3))

    code, _, err = cli("run", path, "--fresh", "--quiet", "--results", sweeper.results)

    assert code == 0, err
    archived = err.split("archived as '")[1].split("'")[0]
    assert f"tune: warm start from {archived}: 3 trials as history, 3 tried first" in err
    study = load_sweep(sweeper.results, "e")
    sources = {records.history_source(t) for t in study.get_trials() if records.is_history(t)}
    assert sources == {(archived, n) for n in range(3)}
    assert len(records.own_trials(study.get_trials())) == 3
