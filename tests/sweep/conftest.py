"""Sweep test fixtures: one Ray instance for the whole session, and a helper that runs a
sweep from a space file's text in a temporary results folder."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def repo_pythonpath() -> str:
    """PYTHONPATH with the repo root first (the workers import `tests.sweep.cheap`)."""
    return os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))


@pytest.fixture(scope="session")
def ray_session() -> Iterator[Any]:
    """Ray, started once for the in-process sweep tests (2 CPUs), shut down at the end.

    `run_sweep` reuses an initialized Ray, so every sweep test shares this one. Started
    from the repo root with it on PYTHONPATH: `ensure_ray` hands both to the workers."""
    from tuner.sweep.driver import configure_ray_env, ensure_ray

    configure_ray_env()
    import ray

    started_here = not ray.is_initialized()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        mp.delenv("RAY_ADDRESS", raising=False)  # a local instance, never someone's cluster
        mp.setenv("PYTHONPATH", repo_pythonpath())
        ensure_ray(num_cpus=2)
    yield ray
    if started_here:
        ray.shutdown()


@dataclass
class Sweeper:
    """Runs sweeps in-process under `tmp`: space files in `tmp`, results in
    `tmp/results`, the current directory `tmp/cwd` (to check nothing lands there)."""

    tmp: Path
    ray: Any

    @property
    def results(self) -> Path:
        return self.tmp / "results"

    @property
    def cwd(self) -> Path:
        return self.tmp / "cwd"

    def space(self, text: str, name: str = "space.yaml") -> Path:
        path = self.tmp / name
        path.write_text(text)
        return path

    def run(self, space: str | Path, **overrides: Any) -> Any:
        from tuner.space.load import load_spec
        from tuner.sweep.driver import RunOptions, run_sweep

        path = Path(space) if isinstance(space, Path) else self.space(space)
        spec = load_spec(path, **overrides)
        self.output = io.StringIO()
        return run_sweep(spec, RunOptions(results=self.results, stream=self.output))

    def client(self) -> Any:
        from mlflow.tracking import MlflowClient

        from tuner.tracking.runs import default_tracking_uri

        return MlflowClient(tracking_uri=default_tracking_uri(self.results))

    def runs(self, name: str) -> tuple[Any, dict[int, list[Any]]]:
        """(the sweep's parent runs, {trial number: its child runs}) from MLflow."""
        from tuner.tracking.runs import TAG_KIND, TAG_TRIAL_NUMBER

        client = self.client()
        experiment = client.get_experiment_by_name(name)
        assert experiment is not None, f"no MLflow experiment '{name}'"
        runs = client.search_runs([experiment.experiment_id], max_results=1000)
        parents = [r for r in runs if r.data.tags.get(TAG_KIND) == "sweep"]
        children: dict[int, list[Any]] = {}
        for r in runs:
            if r.data.tags.get(TAG_KIND) == "trial":
                children.setdefault(int(r.data.tags[TAG_TRIAL_NUMBER]), []).append(r)
        assert len(parents) + sum(map(len, children.values())) == len(runs)
        return parents, children


@pytest.fixture
def sweeper(ray_session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sweeper:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # the default results/mlflow.db
    monkeypatch.setenv("TUNER_MLFLOW_WRITER", "inline")  # (see tests/conftest.py's `cli`)
    sweeper = Sweeper(tmp_path, ray_session)
    sweeper.cwd.mkdir()
    monkeypatch.chdir(sweeper.cwd)
    return sweeper
