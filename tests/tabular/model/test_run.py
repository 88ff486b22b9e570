"""`tune train`'s runner (tuner/tabular/model/run.py): the trial it runs is the one
`tuner.trial.current_trial()` names, as in a sweep, with the epoch an earlier run into
the same folder recorded (its trial number: none)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write


def test_tune_train_runs_its_trial_as_the_current_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuner.tabular.model import launch, run
    from tuner.trial import TrialContext, current_trial

    seen: list[TrialContext | None] = []

    def fake(config: dict[str, Any], report: Any, trial_dir: Path, **_: Any) -> dict[str, Any]:
        seen.append(current_trial())
        return {}

    monkeypatch.setattr(launch, "train_trial", fake)
    config = write(tmp_path / "bc.yaml", "dataset: builtin:breast_cancer\nmodel: dnn\nepochs: 3\n")
    out = tmp_path / "run"
    run.train_from_file(config, out=out, echo=lambda line: None)
    out.mkdir()
    (out / "metrics.json").write_text(json.dumps({"history": [{"epoch": 1}, {"epoch": 2}]}))
    run.train_from_file(config, out=out, echo=lambda line: None)
    run.train_from_file(config, out=out, echo=lambda line: None, from_scratch=True)
    assert seen == [
        TrialContext(None, out, 0),
        TrialContext(None, out, 2),  # resuming: where its record stands
        TrialContext(None, out, 0),
    ]
    assert current_trial() is None
