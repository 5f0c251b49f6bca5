"""devcluster/backend: a replica's database refuses writes as a real LiteFS replica does.

shared/LITEFS.md ("Observed on a real LiteFS v0.5.14 cluster"): WAL mode gives `disk I/O error`
(extended code 778), a rollback journal `attempt to write a readonly database` (1544);
`BEGIN IMMEDIATE` itself succeeds and the connection stays usable after the error.
"""

import sqlite3

import pytest
from django.db.utils import ConnectionHandler, OperationalError

from devcluster.mount import Mount
from litesite import litefs


def replica_database(tmp_path, blocker, *, journal_mode: str):
    """A database in an emulated replica's mount, opened with the emulated backend (outside
    pytest-django's test databases: its own handler, not `django.db.connections`)."""
    mount = Mount(tmp_path / "litefs", "site.sqlite3")
    mount.make_primary()
    setup = sqlite3.connect(mount.db_path, isolation_level=None)
    setup.execute(f"PRAGMA journal_mode={journal_mode}")
    setup.execute("CREATE TABLE note (text TEXT)")
    setup.close()
    mount.make_replica("lhr-1")
    handler = ConnectionHandler(
        {
            "default": {
                "ENGINE": "devcluster.backend",
                "NAME": str(mount.db_path),
                "OPTIONS": {"transaction_mode": "IMMEDIATE"},
            }
        }
    )
    database = handler["default"]
    with blocker.unblock():
        yield database
        database.close()
    mount.path.chmod(0o755)


@pytest.fixture
def wal_replica(tmp_path, django_db_blocker):
    yield from replica_database(tmp_path, django_db_blocker, journal_mode="WAL")


@pytest.fixture
def rollback_replica(tmp_path, django_db_blocker):
    yield from replica_database(tmp_path, django_db_blocker, journal_mode="DELETE")


def refused_write(database) -> OperationalError:
    with database.cursor() as cursor:
        cursor.execute("BEGIN IMMEDIATE")  # succeeds on a replica, as on LiteFS
        with pytest.raises(OperationalError) as refused:
            cursor.execute("INSERT INTO note VALUES ('hello')")
        cursor.execute("ROLLBACK")
    return refused.value


def test_a_write_on_a_wal_replica_fails_with_sqlites_disk_io_error_778(wal_replica):
    error = refused_write(wal_replica)
    assert str(error) == "disk I/O error"
    assert error.__cause__.sqlite_errorcode == sqlite3.SQLITE_IOERR_WRITE == 778
    assert error.__cause__.sqlite_errorname == "SQLITE_IOERR_WRITE"
    assert litefs.is_readonly_error(error)


def test_a_write_on_a_rollback_journal_replica_fails_with_readonly_1544(rollback_replica):
    error = refused_write(rollback_replica)
    assert str(error) == "attempt to write a readonly database"
    assert error.__cause__.sqlite_errorcode == sqlite3.SQLITE_READONLY_DIRECTORY == 1544
    assert litefs.is_readonly_error(error)


def test_the_connection_stays_usable_after_a_refused_write(wal_replica):
    refused_write(wal_replica)
    with wal_replica.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM note")
        assert cursor.fetchone() == (0,)
    assert wal_replica.is_usable()


def test_other_errors_on_a_replica_are_left_as_sqlite_raised_them(wal_replica):
    with wal_replica.cursor() as cursor, pytest.raises(OperationalError) as error:
        cursor.execute("SELECT * FROM no_such_table")
    assert error.value.__cause__.sqlite_errorcode == sqlite3.SQLITE_ERROR


def test_a_refused_write_is_noted_for_the_middleware_by_the_site_connection_class(wal_replica):
    # The emulated refusal happens below litefs.SiteDatabaseConnection, as LiteFS's does.
    state = litefs.RequestState(node=litefs.Node.from_settings())
    with litefs.request_scope(state):
        error = refused_write(wal_replica)
    assert state.readonly_error is error.__cause__
    assert state.readonly_error.sqlite_errorcode == sqlite3.SQLITE_IOERR_WRITE
