"""The sweep tests' fixtures: one Ray for every sweep test, a sweep runner in tmp."""

from tests.sweep.conftest import ray_session, sweeper  # noqa: F401
