"""The emulated mount shows what a LiteFS mount shows (shared/LITEFS.md)."""

import sqlite3

import pytest

from devcluster.mount import Mount


@pytest.fixture
def mount(tmp_path):
    made = Mount(tmp_path / "litefs", "site.sqlite3")
    yield made
    made.path.chmod(0o755)


def test_an_emulated_replica_that_never_synced_shows_litefs_s_never_synced_lag(mount):
    mount.make_replica("lhr-1")
    assert mount.lag_path.read_bytes() == b"+2147483647\n"


@pytest.mark.parametrize("journal_mode", ["WAL", "DELETE"])
def test_a_replica_lists_a_shm_file_beside_its_database_in_either_journal_mode(mount, journal_mode):
    database = sqlite3.connect(mount.db_path, isolation_level=None)
    database.execute(f"PRAGMA journal_mode={journal_mode}")
    database.execute("CREATE TABLE note (text TEXT)")
    database.close()
    mount.make_replica("lhr-1")
    assert "site.sqlite3-shm" in {p.name for p in mount.path.iterdir()}
    assert (mount.path / ".primary").read_bytes() == b"lhr-1\n"
