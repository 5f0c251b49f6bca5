"""Putting the verified file in place of the live database, all at once or not at all.

Standalone, the new file replaces the old one by rename (os.replace, atomic on one filesystem).
Before that the old database is checkpointed and its -wal/-shm removed: a stale WAL beside the
new file would be replayed into it. If the -wal survives our own checkpoint and close, another
process still has the database open, and the swap is refused rather than pulled from under it.

Under LiteFS the database lives in a FUSE mount that has no rename (its root directory
implements create and remove, not rename) and treats every new file name as a new replicated
database. There the rows are copied into the live database instead, through ATTACH, in one
IMMEDIATE transaction: LiteFS ships it to the replicas as one transaction, and readers see the
old data or the new, never a mix. (`litefs import` would also replace the file, but needs the
LiteFS binary and API; the transaction works through SQLite alone.)
"""

import os
import sqlite3
from pathlib import Path

from django.apps import apps
from django.db import connections

from . import ImportRefused
from .build import META, PROGRESS, SIDE_FILES, remove_database_file

BOOKKEEPING_TABLES = (META, PROGRESS)

SITE_APPS = ("accounts", "blog", "calls")


def site_tables() -> list[str]:
    return sorted(
        {
            model._meta.db_table
            for label in SITE_APPS
            for model in apps.get_app_config(label).get_models()
            if model._meta.managed and not model._meta.proxy
        }
    )


def site_data(path: Path) -> dict[str, int]:
    """Rows per site table in the database at `path` (empty when it has none or no file)."""
    if not path.exists():
        return {}
    # Not mode=ro: a read-only connection cannot open a WAL database whose -shm is gone.
    conn = sqlite3.connect(path, timeout=30)
    try:
        return _site_rows(conn, "main")
    finally:
        conn.close()


def _site_rows(conn: sqlite3.Connection, schema: str) -> dict[str, int]:
    present = {
        name
        for (name,) in conn.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'")
    }
    counts = {}
    for table in site_tables():
        if table in present:
            (rows,) = conn.execute(f'SELECT count(*) FROM {schema}."{table}"').fetchone()
            if rows:
                counts[table] = rows
    return counts


def describe_site_data(counts: dict[str, int]) -> str:
    return ", ".join(f"{rows:,} rows in {table}" for table, rows in counts.items())


def refuse_site_data(path: Path, counts: dict[str, int]) -> None:
    if counts:
        raise ImportRefused(
            f"The target database {path} already holds site data ({describe_site_data(counts)}). "
            "Rerun with --replace to replace all of it with the Postgres data, or point "
            "DATABASE_URL at a new file."
        )


def prepare_rename(*, target: Path, replace: bool) -> None:
    """Everything that may refuse the rename, checked before the new file is finalized."""
    connections.close_all()
    if target.exists():
        _checkpoint_and_release(target)
        if not replace:
            refuse_site_data(target, site_data(target))


def replace_by_rename(*, build: Path, target: Path) -> None:
    for suffix in SIDE_FILES:
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(build, target)
    _fsync_directory(target.parent)


def _checkpoint_and_release(target: Path) -> None:
    conn = sqlite3.connect(target, timeout=30)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    # SQLite deletes the WAL when the last connection closes; if it is still here, someone
    # else has the database open.
    if Path(f"{target}-wal").exists():
        raise ImportRefused(
            f"Another process has {target} open (its -wal file survives a checkpoint). "
            "Stop the web server (and any shell on that database), then run the command again: "
            "it keeps the verified copy, checks it once more and swaps it in."
        )


def _fsync_directory(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_into_live(*, build: Path, target: Path, replace: bool) -> None:
    """Replace every table's rows in the live database with the new file's, in one transaction."""
    connections.close_all()
    conn = sqlite3.connect(target, isolation_level=None, timeout=30)
    try:
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("ATTACH DATABASE ? AS migrated", (str(build),))
        conn.execute("BEGIN IMMEDIATE")
        try:
            _check_same_schema(conn, target)
            if not replace:
                refuse_site_data(target, _site_rows(conn, "main"))
            for table in _tables(conn, "migrated"):
                columns = ", ".join(f'"{c}"' for c in _columns(conn, "migrated", table))
                conn.execute(f'DELETE FROM main."{table}"')
                conn.execute(
                    f'INSERT INTO main."{table}" ({columns}) '
                    f'SELECT {columns} FROM migrated."{table}"'
                )
            if _has_table(conn, "migrated", "sqlite_sequence"):
                conn.execute("DELETE FROM main.sqlite_sequence")
                conn.execute(
                    "INSERT INTO main.sqlite_sequence SELECT * FROM migrated.sqlite_sequence"
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.OperationalError as error:
        if "readonly" in str(error) or "disk I/O" in str(error):
            raise ImportRefused(
                f"{target} is read-only here ({error}): this machine is not the LiteFS primary. "
                "Run the command in a console on the primary."
            ) from None
        raise
    finally:
        conn.close()
    remove_database_file(build)


def _tables(conn: sqlite3.Connection, schema: str) -> list[str]:
    """The tables to copy: not SQLite's own, not the build's bookkeeping."""
    return [
        name
        for (name,) in conn.execute(
            f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        if name not in BOOKKEEPING_TABLES
    ]


def _has_table(conn: sqlite3.Connection, schema: str, name: str) -> bool:
    return (
        conn.execute(
            f"SELECT 1 FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        is not None
    )


def _columns(conn: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f'PRAGMA {schema}.table_info("{table}")')]


def _check_same_schema(conn: sqlite3.Connection, target: Path) -> None:
    """The live database must be migrated exactly as far as the new file."""
    if not _has_table(conn, "main", "django_migrations"):
        raise ImportRefused(
            f"{target} has no schema yet: run `python manage.py migrate` on the primary first."
        )
    applied = "SELECT app, name FROM {}.django_migrations"
    live = set(conn.execute(applied.format("main")).fetchall())
    built = set(conn.execute(applied.format("migrated")).fetchall())
    differing = []
    for table in _tables(conn, "migrated"):
        have = _has_table(conn, "main", table) and set(_columns(conn, "main", table))
        if have != set(_columns(conn, "migrated", table)):
            differing.append(table)
    if live != built or differing:
        raise ImportRefused(
            f"{target} is not migrated to this release's schema"
            + (f" (tables differ: {', '.join(differing)})" if differing else "")
            + ": run `python manage.py migrate` on the primary, then run this command again."
        )
