"""What a sweep asks of its MLflow tracker: `Tracker` (in the driver's process) and
`RemoteTracker` (a writer process, the default) both answer it, so the bridge and the
driver do not care which one records the sweep."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol


class SweepTracker(Protocol):
    tracking_uri: str

    def start_sweep(
        self,
        name: str,
        space_text: str,
        space_path: str | Path | None,
        study_name: str,
        storage_url: str,
        params: Mapping[str, Any],
    ) -> str: ...

    def end_sweep(
        self, parent_run_id: str, status: str = ..., artifacts: Iterable[Path] = ...
    ) -> None: ...

    def start_trial(
        self,
        parent_run_id: str,
        number: int,
        params: Mapping[str, Any],
        tags: Mapping[str, Any] | None = ...,
    ) -> str: ...

    def log_epoch(self, run_id: str, epoch: int, metrics: Mapping[str, Any]) -> None: ...

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None: ...

    def end_trial(
        self, run_id: str, state: str, value: float | None = ..., reason: str | None = ...
    ) -> None: ...

    def log_best(self, parent_run_id: str, value: float, step: int) -> None: ...

    def run_id(self, handle: str) -> str: ...

    def trial_statuses(self, parent_run_id: str) -> dict[int, str]: ...

    def runs_url(self, ui_base: str) -> str: ...

    def close(self, discard: bool = ...) -> None: ...
