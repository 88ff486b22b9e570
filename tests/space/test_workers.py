"""`resources.workers`: a trial on several worker processes, as the space file says it."""

from __future__ import annotations

from pathlib import Path

from tests.space.test_load import HEAD, PARAMS, refused, write
from tuner.space.load import load_spec


def test_workers_reach_every_trial_config_of_an_objective_that_takes_them(tmp_path: Path):
    text = (
        HEAD.replace("objective: tests.space.test_load:toy\ndataset: toy-data\n", "")
        + "dataset: builtin:breast_cancer\nresources: {cpu: 1, workers: 2}\n"
        + "params:\n  learning_rate: {float: [1.0e-4, 1.0e-1], log: true}\n"
    )
    spec = load_spec(write(tmp_path / "s.yaml", text))
    assert spec.resources.workers == 2
    assert spec.base_config()["workers"] == 2


def test_an_objective_without_workers_is_refused_before_anything_runs(tmp_path: Path):
    refused(
        tmp_path,
        HEAD + "resources: {workers: 2}\n" + PARAMS,
        "workers",
    )


def test_workers_given_twice_and_out_of_range_are_refused(tmp_path: Path):
    base = HEAD.replace("objective: tests.space.test_load:toy\ndataset: toy-data\n", "")
    base += "dataset: builtin:breast_cancer\n"
    params = "params:\n  learning_rate: {float: [1.0e-4, 1.0e-1], log: true}\n"
    refused(
        tmp_path,
        base + "resources: {workers: 2}  # <-\nfixed: {workers: 3}\n" + params,
        "key 'resources.workers'",
        "give it once",
    )
    refused(tmp_path, base + "resources: {workers: 0}  # <-\n" + params, "workers")
