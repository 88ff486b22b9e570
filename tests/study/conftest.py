from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.study.studies import make_study


@pytest.fixture
def study(tmp_path: Path) -> Any:
    return make_study(tmp_path / "results")
