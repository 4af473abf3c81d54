"""Fixtures of the distributed tests (the helpers are :mod:`tests.helpers.mpi_jobs`)."""

from __future__ import annotations

import pytest

from tests.helpers.mpi_jobs import run_mpi_job


@pytest.fixture
def mpi_job():
    """:func:`~tests.helpers.mpi_jobs.run_mpi_job`: ``job = mpi_job(ranks, argv, **env)``."""
    return run_mpi_job
