"""Fixtures for the replication tests: an emulated LiteFS mount for this process, and clusters."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from litesite import litefs
from litesite.cluster.harness import Cluster, migrate_template
from litesite.cluster.litefs_api import LiteFSAPI
from litesite.cluster.mount import Mount


@dataclass
class FakeLiteFS:
    """This test process as a node under LiteFS: a mount directory and a LiteFS /info."""

    mount: Mount
    api: LiteFSAPI
    info: dict

    def make_primary(self, *, txid: int = 1) -> None:
        self.mount.make_primary()
        self.mount.write_pos(txid, "0123456789abcdef")
        self.info.update(isPrimary=True, primary={"hostname": ""})
        litefs.info_cache.clear()

    def make_replica(self, primary: str | None = "lhr-1", *, txid: int = 1) -> None:
        """A replica of `primary`; None: a replica that has lost its primary."""
        self.mount.make_replica(primary)
        self.mount.write_pos(txid, "0123456789abcdef")
        self.mount.write_lag(0)
        self.info.update(isPrimary=False, primary={"hostname": ""})
        litefs.info_cache.clear()


@pytest.fixture
def fake_litefs(tmp_path, settings):
    """Point this process's settings at an emulated mount; it starts as replica syd-1 of lhr-1."""
    info = {"id": "syd-1", "isPrimary": False, "candidate": False, "primary": {"hostname": ""}}
    api = LiteFSAPI(lambda: info)
    api.start()
    node = FakeLiteFS(mount=Mount(tmp_path / "litefs", "site.sqlite3"), api=api, info=info)
    settings.LITEFS_DIR = str(node.mount.path)
    settings.LITEFS_DB_NAME = "site.sqlite3"
    settings.LITEFS_API_URL = api.url
    settings.FLY_MACHINE_ID = "syd-1"
    settings.FLY_REGION = "syd"
    node.make_replica("lhr-1")
    yield node
    api.stop()
    node.mount.path.chmod(0o755)
    litefs.info_cache.clear()


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
