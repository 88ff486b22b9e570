"""Metrics a program reported with `tuner.report` (tuner/reporting.py): the JSON lines
it appends to the trial's report file, read as they come (a line without its newline
yet is read at the next poll)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ReportTail:
    path: Path
    offset: int = 0

    def poll(self) -> list[tuple[int, dict[str, float]]]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        found: list[tuple[int, dict[str, float]]] = []
        for raw in data[:end].splitlines():
            try:
                entry = json.loads(raw)
                epoch = int(entry.pop("epoch"))
                found.append((epoch, {k: float(v) for k, v in entry.items()}))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # (not one of report's lines)
        return found
