"""Two trials in one process: the second reuses the parsed data set and starts from a
cleared Keras session (what a long-lived sweep worker relies on)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_second_trial_reuses_the_data_and_a_cleared_session(tmp_path, monkeypatch):
    from tuner.tabular.data import reader
    from tuner.tabular.model.layers import keras
    from tuner.tabular.model.train import run_trial

    reader.clear_cache()  # the first trial meets a cold reader, whatever ran before
    reads: list[str] = []  # shards read from disk
    read_records = reader.read_records

    def counting_read(path, *args, **kwargs):
        reads.append(path.name)
        return read_records(path, *args, **kwargs)

    monkeypatch.setattr(reader, "read_records", counting_read)
    config = {
        "dataset": "builtin:breast_cancer",
        "epochs": 1,
        "hidden_units": [4],
        "batch_size": 64,
    }
    parses = reader.parse_count

    first = run_trial(config, lambda e, m: None, tmp_path / "first", export=False)
    assert first["status"] == "complete"
    assert len(reads) == 2  # train and validation, each read once
    assert reader.parse_count - parses == 2
    # a name counter of this Keras session; the next trial must start a new session
    assert [keras.backend.get_uid("trial_reuse_probe") for _ in range(2)] == [1, 2]

    second = run_trial(config, lambda e, m: None, tmp_path / "second", export=False)
    assert second["status"] == "complete"
    assert len(reads) == 2, f"the second trial read the data again: {reads}"
    assert reader.parse_count - parses == 2  # each split parsed once in the process
    assert keras.backend.get_uid("trial_reuse_probe") == 1  # clear_session ran in between
    assert second["final"]["loss"] == pytest.approx(first["final"]["loss"], rel=1e-4)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_warm_up_hook_reads_the_data_a_first_trial_then_reuses(tmp_path):
    """What a sweep worker does in the background before its first trial (the objective's
    warm_up hook, with the space's fixed config): the trial finds both splits parsed."""
    from objectives.tabular import warm_up
    from tuner.tabular.data import reader
    from tuner.tabular.model.train import run_trial

    reader.clear_cache()
    parses = reader.parse_count
    warm_up({"dataset": "builtin:breast_cancer", "batch_size": 64, "model": "dnn"})
    assert reader.parse_count - parses == 2  # train and validation
    config = {"dataset": "builtin:breast_cancer", "epochs": 1, "hidden_units": [4]}
    assert run_trial(config, lambda e, m: None, tmp_path / "t", export=False)["status"] == (
        "complete"
    )
    assert reader.parse_count - parses == 2  # nothing parsed again
