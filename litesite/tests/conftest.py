"""Fixtures for the replication tests: this process as a node under an emulated LiteFS mount."""

from dataclasses import dataclass

import pytest

from devcluster.litefs_api import LiteFSAPI
from devcluster.mount import Mount
from litesite import litefs


@dataclass
class FakeLiteFS:
    """This test process as a node under LiteFS: a mount directory and a LiteFS /info."""

    mount: Mount
    api: LiteFSAPI
    info: dict

    def make_primary(self, *, txid: int = 1) -> None:
        self.mount.make_primary()
        self.mount.write_pos(txid, "0123456789abcdef")
        self.info.update(isPrimary=True, primary={"hostname": "syd-1"})
        litefs.info_cache.clear()

    def make_replica(self, primary: str | None = "lhr-1", *, txid: int = 1) -> None:
        """A replica of `primary`; None: a replica that has lost its primary."""
        self.mount.make_replica(primary)
        self.mount.write_pos(txid, "0123456789abcdef")
        self.mount.write_lag(0)
        self.info.update(isPrimary=False, primary={"hostname": primary or ""})
        litefs.info_cache.clear()


@pytest.fixture
def fake_litefs(tmp_path, settings):
    """Point this process's settings at an emulated mount; it starts as replica syd-1 of lhr-1."""
    info = {"isPrimary": False, "candidate": False, "path": str(tmp_path / "litefs-data")}
    api = LiteFSAPI(lambda: info, hostname="syd-1")
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
