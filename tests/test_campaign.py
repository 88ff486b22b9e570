"""bench/campaign.py does not rot: its cases load, every category has some, and a few of
its cheapest cases (a broken space file, a bad CSV; real `tune` processes) pass."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def campaign() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("campaign", BENCH / "campaign.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["campaign"] = module  # (its dataclasses look their module up)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_the_case_list_loads_with_every_category(campaign: ModuleType) -> None:
    names = [(c.category, c.name) for c in campaign.CASES]
    assert len(names) == len(set(names)) >= 60
    assert {c for c, _ in names} == set(campaign.CATEGORIES)
    # faults and consistency share one chain: asking for either runs both
    chained = campaign.selected({"consistency"})
    assert {c.category for c, _ in chained} == {"faults", "consistency"}
    assert {c.category for c, shown in chained if shown} == {"consistency"}


@pytest.mark.timeout(60)
def test_its_cheapest_cases_pass(campaign: ModuleType, tmp_path: Path) -> None:
    names = ["yaml syntax error", "unknown sampler", "choice listed twice", "empty file"]
    report = campaign.run_cases({"space", "data"}, tmp_path, names)
    ran = sorted((r["category"], r["name"]) for r in report["cases"])
    assert ran == sorted([*(("space", n) for n in names), ("data", "empty file")]), ran
    assert report["not_ok"] == [], report["not_ok"]
    assert report["counts"] == {"space": {"ok": 4, "total": 4}, "data": {"ok": 1, "total": 1}}
