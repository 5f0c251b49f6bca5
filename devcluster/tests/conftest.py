"""Fixtures for the emulated cluster's tests: one migrated template per run, and clusters."""

from pathlib import Path

import pytest

from devcluster.harness import Cluster, migrate_template


@pytest.fixture(scope="session")
def cluster_template(tmp_path_factory) -> Path:
    """One migrated database for every emulated cluster of the run (migrating takes seconds)."""
    return migrate_template(tmp_path_factory.mktemp("cluster-template"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, cluster_template):
    """Primary lhr-1 (region lhr) and replica syd-1 (region syd), behind an emulated edge."""
    running = Cluster(tmp_path_factory.mktemp("cluster")).start(template=cluster_template)
    try:
        yield running
    finally:
        running.stop()
