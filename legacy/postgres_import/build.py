"""The new SQLite file, built beside the live database and resumable after a kill.

The file gets the site's schema from Django's own migrations, then the rows, table by table, in
id order, in large transactions. Each transaction also records the last id it committed, so a
run killed at any moment resumes after that id with no duplicates. Secondary indexes are
dropped before the load and rebuilt once their table is in, which is far cheaper than
maintaining them under random uuid inserts; their SQL is kept in the file so a resumed run
still rebuilds them.

The build connection runs with synchronous=OFF: a killed process loses nothing committed (the OS
still has the writes), and an OS crash mid-build can only hurt this scratch file, which the
verification would then reject. It starts with a rollback journal, which writes the big table
once; once that table's indexes are built it switches to WAL, so that integrity_check can read
that table (final from then on) while the other tables are written. The live database is never
touched here.
"""

import ctypes
import ctypes.util
import itertools
import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import (
    closing,
    contextmanager,
    nullcontext,
    suppress,
)
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.db.migrations.loader import MigrationLoader

from . import ImportRefused
from .batches import (
    BlobBatch,
    ChunkBatch,
    MultiRowInsert,
    RowBatch,
    columns_with_defaults,
    in_bulk,
    stream_batches,
)
from .progress import Progress
from .source import LegacySource
from .tables import LegacyTable, quote

META = "postgres_import_meta"
PROGRESS = "postgres_import_progress"
SIDE_FILES = ("-wal", "-shm", "-journal")
# 8 KiB pages rather than SQLite's 4 KiB: the post reads' indexes are a level shallower and
# half as many pages, so integrity_check over them, the verification's longest part, reads
# fewer pages. (Under LiteFS the rows are copied into the live database, whose page size stays
# as it was.)
PAGE_SIZE = 8192
# Bumped when a build file's layout changes: a file from another version starts over.
BUILD_FORMAT = 2


def remove_database_file(path: Path) -> None:
    for suffix in ("", *SIDE_FILES):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def fingerprint(*, source: LegacySource, skipped: dict[str, list[str]]) -> str:
    """What a resumed build must share with the run that started it."""
    leaves = sorted(MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes())
    return json.dumps(
        {
            "format": BUILD_FORMAT,
            "source": source.identity,
            "migrations": [list(leaf) for leaf in leaves],
            "skipped": {name: sorted(ids) for name, ids in sorted(skipped.items())},
            "secret": _secret_digest(),
        },
        sort_keys=True,
    )


def _secret_digest() -> str:
    # Session payloads are signed with SECRET_KEY; a resumed run must not mix two keys.
    import hashlib

    return hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest()[:16]


@contextmanager
def default_database_at(path: Path):
    """Point the `default` alias at another file for the length of the block.

    The router migrates the site's apps only on `default`, so the new file is migrated under
    that alias; this process uses no other `default` connection meanwhile (Django's connections
    are per thread, but their settings are shared: HeadStart runs this in a thread while the
    main thread only talks to Postgres).
    """
    connection = connections["default"]
    connection.close()
    saved = connection.settings_dict["NAME"]
    connection.settings_dict["NAME"] = path
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = saved


@dataclass(frozen=True)
class TableProgress:
    """How far the copy of one table has come, as its last committed transaction recorded."""

    last_id: str | None  # the last id copied, in byte order; None before the first batch
    rows: int
    done: bool


class BuildFile:
    def __init__(
        self, path: Path, conn: sqlite3.Connection, *, resumed: bool, adopted: bool = False
    ):
        self.path = path
        self.conn = conn
        # Rows may already be in (a kill's leftover, for the same source and skipped rows).
        self.resumed = resumed
        # The schema was there already (see create()), no rows.
        self.adopted = adopted

    # --- opening --------------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path) -> None:
        """A new build file at `path`: the site's schema and the bookkeeping, no fingerprint yet.

        A file without a fingerprint holds no rows: open() adopts it for the run at hand.
        """
        remove_database_file(path)
        _check_free_space(path.parent)
        with closing(sqlite3.connect(path)) as conn:
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            # Never moving a table's pages is what lets verify.py check a finished table while
            # others are written.
            conn.execute("PRAGMA auto_vacuum = NONE")
            conn.execute("VACUUM")  # an empty file takes both at its first write
        with default_database_at(path):
            call_command("migrate", database="default", interactive=False, verbosity=0)
        conn = _connect(path)
        try:
            _prepare(conn)
        finally:
            conn.close()

    @classmethod
    def open(cls, path: Path, *, fingerprint: str, write: Callable[[str], None]) -> "BuildFile":
        """Resume the build at `path` if it was started for the same source, adopt it if it
        was created but not started, else start over."""
        if path.exists():
            conn = _connect(path)
            stored = _stored_fingerprint(conn)
            if stored == fingerprint:
                return cls(path, conn, resumed=True)
            if stored is None and _prepared(conn):
                _record_fingerprint(conn, fingerprint)
                return cls(path, conn, resumed=False, adopted=True)
            conn.close()
            write(f"Discarding {path.name}: it was started for another source or version.")
        cls.create(path)
        conn = _connect(path)
        _record_fingerprint(conn, fingerprint)
        return cls(path, conn, resumed=False)

    # --- state ----------------------------------------------------------------------------
    def state(self, table: LegacyTable) -> TableProgress:
        last_id, rows, done = self.conn.execute(
            f"SELECT last_id, rows, done FROM {PROGRESS} WHERE name = ?", (table.source,)
        ).fetchone()
        return TableProgress(last_id=last_id, rows=rows, done=bool(done))

    @property
    def complete(self) -> bool:
        row = self.conn.execute(f"SELECT value FROM {META} WHERE key = 'complete'").fetchone()
        return row is not None

    def mark_complete(self) -> None:
        self.conn.execute(f"INSERT OR REPLACE INTO {META} VALUES ('complete', '1')")

    # --- loading --------------------------------------------------------------------------
    def load(
        self,
        table: LegacyTable,
        *,
        source: LegacySource,
        expected: int,
        skipped_ids: list[str],
        progress: Progress,
        batch_rows: int,
        batches: Iterator[Any] | None = None,
        prepared=None,
    ) -> None:
        """Copy `table` from `source`, resuming after the last committed id. `batches`, when
        given, is that table's stream, opened earlier by stream(); `prepared` is what the
        table's preparation made, for its `derive` hook (see tables.py)."""
        state = self.state(table)
        if state.done:
            progress.write(f"{table.label}: already copied ({state.rows:,} rows)")
            return
        columns, extras = columns_with_defaults(table)
        column_list = ", ".join(quote(c) for c in columns)
        conn = self.conn
        with (
            nullcontext(batches)
            if batches is not None
            else self.stream(
                table, source=source, skipped_ids=skipped_ids, batch_rows=batch_rows
            ) as prefetched,
            progress.table(table.label, total=expected, done=state.rows) as counter,
        ):
            if in_bulk(table):
                chunks = iter(prefetched)
                insert = MultiRowInsert(table.db_table, columns)

                def next_batch():
                    return ChunkBatch(chunks, insert=insert, max_rows=batch_rows)

            else:
                placeholders = ["?"] * len(columns)
                if table.blob_field is not None:
                    # The file is written into an empty blob of its size (BlobBatch).
                    blob = columns.index(table.model_field(table.blob_field).column)
                    placeholders[blob] = "zeroblob(?)"
                statement = (
                    f"INSERT INTO {quote(table.db_table)} ({column_list}) "
                    f"VALUES ({', '.join(placeholders)})"
                )
                rows: Iterator[tuple[Any, ...]] = itertools.chain.from_iterable(prefetched)
                if table.derive is not None:
                    rows = table.derive(rows, prepared)
                if extras:
                    rows = (row + extras() for row in rows)

                def next_batch():
                    if table.blob_field is None:
                        return RowBatch(rows, insert=statement, max_rows=batch_rows)
                    return BlobBatch(
                        rows,
                        insert=statement,
                        db_table=table.db_table,
                        column=columns[blob],
                        blob=blob,
                        max_rows=batch_rows,
                    )

            while True:
                batch = next_batch()
                conn.execute("BEGIN")
                try:
                    batch.insert(conn)
                except sqlite3.IntegrityError as error:
                    conn.execute("ROLLBACK")
                    raise ImportRefused(
                        f'SQLite refused a "{table.label}" row after id {batch.last_id!r}: '
                        f"{error}. The source changed during the run, or the site's schema has a "
                        "constraint this command does not check yet."
                    ) from None
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                if batch.count:
                    conn.execute(
                        f"UPDATE {PROGRESS} SET last_id = ?, rows = rows + ? WHERE name = ?",
                        (batch.last_id, batch.count, table.source),
                    )
                if batch.exhausted:
                    conn.execute(f"UPDATE {PROGRESS} SET done = 1 WHERE name = ?", (table.source,))
                conn.execute("COMMIT")
                if batch.count:
                    counter.committed(batch.count)
                if batch.exhausted:
                    break

    def stream(
        self, table: LegacyTable, *, source: LegacySource, skipped_ids: list[str], batch_rows: int
    ):
        """Batches of the rows still to copy (see stream_batches)."""
        return stream_batches(
            table,
            source=source,
            skipped_ids=skipped_ids,
            after_id=self.state(table).last_id,
            batch_rows=batch_rows,
        )

    # --- finishing ------------------------------------------------------------------------
    def rebuild_indexes(self, table: LegacyTable) -> int:
        """Build the indexes of `table` dropped at the start, in one transaction."""
        prefix = _index_key(table, "")
        pending = [
            (key, sql)
            for key, sql in self.conn.execute(
                f"SELECT key, value FROM {META} WHERE key LIKE 'index:%' ORDER BY key"
            )
            if key.startswith(prefix)
        ]
        if not pending:
            return 0
        self.conn.execute("BEGIN")
        for key, sql in pending:
            self.conn.execute(sql)
            self.conn.execute(f"DELETE FROM {META} WHERE key = ?", (key,))
        self.conn.execute("COMMIT")
        return len(pending)

    def allow_reads_during_writes(self) -> None:
        """Switch to WAL: from now on a reader (the integrity check of the tables already
        complete) and this writer no longer wait on each other."""
        self.conn.execute("PRAGMA journal_mode=WAL")

    def finalize(self) -> None:
        """Drop the bookkeeping, switch to WAL as the site runs, flush and close."""
        self.conn.execute("BEGIN")
        self.conn.execute(f"DROP TABLE {META}")
        self.conn.execute(f"DROP TABLE {PROGRESS}")
        self.conn.execute("COMMIT")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()
        with open(self.path, "rb") as handle:
            os.fsync(handle.fileno())

    def release_memory(self) -> None:
        """Hand the build connection's page cache back to the system before verification,
        which needs the memory for its own. The connection stays open for finalize()."""
        self.conn.execute("PRAGMA shrink_memory")
        _trim_heap()

    def close(self) -> None:
        self.conn.close()

    def discard(self) -> None:
        self.conn.close()
        remove_database_file(self.path)


def _trim_heap() -> None:
    """Return freed heap memory to the system (glibc keeps it otherwise); no-op elsewhere."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


def _index_key(table: LegacyTable, index_name: str) -> str:
    return f"index:{table.source}:{index_name}"


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=TRUNCATE")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA mmap_size=0")
    # A small page cache makes CREATE INDEX sort in many small runs, which a helper thread
    # sorts and merges alongside: the post reads' four indexes took 0.8 s so, against 1.35 s
    # with a 32 MB cache and one large in-memory sort. The inserts, in key order, need no more.
    conn.execute("PRAGMA cache_size=-2048")
    conn.execute("PRAGMA threads=2")
    return conn


def _prepare(conn: sqlite3.Connection) -> None:
    """The bookkeeping tables, and the secondary indexes dropped (their SQL kept)."""
    from .tables import LEGACY_TABLES

    conn.execute("BEGIN")
    conn.execute(f"CREATE TABLE {META} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute(
        f"CREATE TABLE {PROGRESS} (name TEXT PRIMARY KEY, last_id TEXT, "
        "rows INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0)"
    )
    for table in LEGACY_TABLES:
        conn.execute(f"INSERT INTO {PROGRESS} (name) VALUES (?)", (table.source,))
        for name, sql in _secondary_indexes(conn, table.db_table):
            conn.execute(f"INSERT INTO {META} VALUES (?, ?)", (_index_key(table, name), sql))
            conn.execute(f"DROP INDEX {quote(name)}")
    conn.execute("COMMIT")


def _prepared(conn: sqlite3.Connection) -> bool:
    """Whether the file was made by BuildFile.create (its bookkeeping is there), whatever
    became of the run that made it: without a fingerprint, no row was ever copied into it."""
    try:
        conn.execute(f"SELECT count(*) FROM {PROGRESS}").fetchone()
    except sqlite3.DatabaseError:
        return False
    return True


def _record_fingerprint(conn: sqlite3.Connection, fingerprint: str) -> None:
    conn.execute(f"INSERT INTO {META} VALUES ('fingerprint', ?)", (fingerprint,))


def _stored_fingerprint(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute(f"SELECT value FROM {META} WHERE key = 'fingerprint'").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


class Room:
    """Whether the work folder has room for the copy: `needed` is LegacySource.room_needed()."""

    def __init__(self, folder: Path, *, needed: int):
        self.folder = folder
        self.needed = needed
        self.free = shutil.disk_usage(folder).free

    def __str__(self) -> str:
        return (
            f"the copy needs about {_megabytes(self.needed)} in {self.folder}; "
            f"{_megabytes(self.free)} free"
        )

    @property
    def problem(self) -> str | None:
        if self.needed <= self.free:
            return None
        return (
            f"the copy needs about {_megabytes(self.needed)} in {self.folder} (the new "
            f"database, and the calls' recordings decoded while it runs) and only "
            f"{_megabytes(self.free)} are free: free some space or choose another --work-dir"
        )


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.0f} MB"


def _check_free_space(folder: Path) -> None:
    free = shutil.disk_usage(folder).free
    if free < 64 * 1024 * 1024:
        raise ImportRefused(
            f"Only {free // (1024 * 1024)} MB are free in {folder}; the new database is built "
            "there. Free some space (or choose --work-dir) and run again."
        )


def _secondary_indexes(conn: sqlite3.Connection, db_table: str) -> list[tuple[str, str]]:
    """Indexes that may be rebuilt later: non-unique ones only, unique ones keep guarding."""
    found = []
    for _, name, unique, origin, _partial in conn.execute(f"PRAGMA index_list({quote(db_table)})"):
        if unique or origin != "c":
            continue
        (sql,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
        ).fetchone()
        found.append((name, sql))
    return found
