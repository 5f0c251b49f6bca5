"""SQLite as it behaves inside an emulated LiteFS mount (local cluster and tests only).

Two things real LiteFS does below SQLite, done here in the connection instead:

- A replica's database refuses writes. LiteFS marks the file 0444; the emulation does the same,
  but root ignores file modes, so a connection to a file without write permission bits is opened
  with `mode=ro`: SQLite then refuses every write, whoever runs the process. It does so with plain
  SQLITE_READONLY (8), where a real replica (shared/LITEFS.md, "Observed") says `disk I/O error`,
  SQLITE_IOERR_WRITE (778), in WAL mode and `attempt to write a readonly database`,
  SQLITE_READONLY_DIRECTORY (1544), with a rollback journal: the connection re-raises it as
  those, below the site's own connection class (litefs.SiteDatabaseConnection), which therefore
  sees what it would see on LiteFS. As on LiteFS, `BEGIN IMMEDIATE` succeeds and the connection
  stays usable after the error. When a failover flips the mode, is_usable() turns false and
  Django reopens the connection the other way at the next request.
- Each committed write transaction advances the TXID in `<db>-pos`, before the commit returns
  to the application, so a `__txid` cookie set right after a write is never behind it.
"""

import contextlib
import os
import sqlite3
import stat
from pathlib import Path

from django.db.backends.sqlite3 import base as sqlite_base

from devcluster.mount import bump_pos
from litesite.litefs import SiteDatabaseConnection


def file_is_read_only(path: Path) -> bool:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    return not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


# (extended code, message) of a replica's refusal, by journal mode; see the module docstring.
REFUSALS = {
    "wal": (sqlite3.SQLITE_IOERR_WRITE, "SQLITE_IOERR_WRITE", "disk I/O error"),
    "rollback": (
        sqlite3.SQLITE_READONLY_DIRECTORY,
        "SQLITE_READONLY_DIRECTORY",
        "attempt to write a readonly database",
    ),
}


def refusal(connection: sqlite3.Connection) -> sqlite3.OperationalError:
    """The error a LiteFS replica's SQLite raises for a write on `connection`'s database."""
    mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    code, name, message = REFUSALS["wal" if mode.lower() == "wal" else "rollback"]
    error = sqlite3.OperationalError(message)
    # What sqlite3 sets on the errors it raises itself (Python 3.11+).
    error.sqlite_errorcode, error.sqlite_errorname = code, name
    return error


@contextlib.contextmanager
def as_a_replica_refuses(connection: sqlite3.Connection):
    try:
        yield
    except sqlite3.OperationalError as exc:
        if getattr(connection, "opened_read_only", False) and (
            exc.sqlite_errorcode == sqlite3.SQLITE_READONLY
        ):
            raise refusal(connection) from None
        raise


class ReplicaRefusals(sqlite3.Connection):
    """A `mode=ro` connection's COMMIT refusing as a LiteFS replica's does."""

    opened_read_only = False

    def commit(self):
        with as_a_replica_refuses(self):
            super().commit()


class EmulatedLiteFSConnection(SiteDatabaseConnection, ReplicaRefusals):
    """The site's connection class over the emulated refusals; remembers how many changes it
    has reported, to bump the TXID once per transaction."""

    db_path: Path
    changes_reported = 0

    def commit(self):
        super().commit()
        self.report_commit()

    def report_commit(self) -> None:
        if self.total_changes != self.changes_reported:
            self.changes_reported = self.total_changes
            bump_pos(self.db_path)


class EmulatedLiteFSCursor(sqlite_base.SQLiteCursorWrapper):
    def execute(self, query, params=None):
        with as_a_replica_refuses(self.connection):
            result = super().execute(query, params)
        if not self.connection.in_transaction:  # an autocommit statement, or COMMIT itself
            self.connection.report_commit()
        return result

    def executemany(self, query, param_list):
        with as_a_replica_refuses(self.connection):
            result = super().executemany(query, param_list)
        if not self.connection.in_transaction:
            self.connection.report_commit()
        return result


class DatabaseWrapper(sqlite_base.DatabaseWrapper):
    opened_read_only = False

    def get_new_connection(self, conn_params):
        path = Path(conn_params["database"])
        self.opened_read_only = file_is_read_only(path)
        params = {**conn_params, "factory": EmulatedLiteFSConnection}
        if self.opened_read_only:
            params["database"] = f"file:{path}?mode=ro"
        conn = super().get_new_connection(params)
        conn.db_path = path
        conn.opened_read_only = self.opened_read_only
        conn.changes_reported = conn.total_changes
        return conn

    def is_usable(self):
        return self.opened_read_only == file_is_read_only(Path(self.settings_dict["NAME"]))

    def create_cursor(self, name=None):
        return self.connection.cursor(factory=EmulatedLiteFSCursor)
