"""The new SQLite file, built beside the live database and resumable after a kill.

The file gets the site's schema from Django's own migrations, then the rows, table by table, in
id order, in large transactions. Each transaction also records the last id it committed, so a
run killed at any moment resumes after that id with no duplicates. Secondary indexes are
dropped before the load and rebuilt once at the end, which is far cheaper than maintaining them
under random uuid inserts; their SQL is kept in the file so a resumed run still rebuilds them.

The build connection runs with a rollback journal and synchronous=OFF: a killed process loses
nothing committed (the OS still has the writes), and an OS crash mid-build can only hurt this
scratch file, which the verification would then reject. The live database is never touched here.
"""

import ctypes
import ctypes.util
import json
import os
import queue
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.db.migrations.loader import MigrationLoader

from calls import audio as call_audio

from . import ImportRefused
from .conversions import SessionPayloads, split_data_url
from .progress import Progress
from .source import LegacySource
from .tables import CALLS, SESSIONS, LegacyTable, quote

META = "postgres_import_meta"
PROGRESS = "postgres_import_progress"
SIDE_FILES = ("-wal", "-shm", "-journal")
# Recordings are big: a transaction of calls stops at this many bytes of audio.
CALL_BATCH_BYTES = 32 * 1024 * 1024


def remove_database_file(path: Path) -> None:
    for suffix in ("", *SIDE_FILES):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def fingerprint(*, source: LegacySource, skipped: dict[str, list[str]]) -> str:
    """What a resumed build must share with the run that started it."""
    leaves = sorted(MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes())
    return json.dumps(
        {
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
    that alias; this process uses no other `default` connection meanwhile.
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


class BuildFile:
    def __init__(self, path: Path, conn: sqlite3.Connection, *, resumed: bool):
        self.path = path
        self.conn = conn
        self.resumed = resumed

    # --- opening --------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, *, fingerprint: str, write: Callable[[str], None]) -> "BuildFile":
        """Resume the build at `path` if it was started for the same source, else start over."""
        if path.exists():
            conn = _connect(path)
            if _stored_fingerprint(conn) == fingerprint:
                return cls(path, conn, resumed=True)
            conn.close()
            write(f"Discarding {path.name}: it was started for another source or version.")
        remove_database_file(path)
        _check_free_space(path.parent)
        with default_database_at(path):
            call_command("migrate", database="default", interactive=False, verbosity=0)
        conn = _connect(path)
        build = cls(path, conn, resumed=False)
        build._start(fingerprint)
        return build

    def _start(self, fingerprint: str) -> None:
        from .tables import LEGACY_TABLES

        conn = self.conn
        conn.execute("BEGIN")
        conn.execute(f"CREATE TABLE {META} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute(
            f"CREATE TABLE {PROGRESS} (name TEXT PRIMARY KEY, last_id TEXT, "
            "rows INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0)"
        )
        conn.execute(f"INSERT INTO {META} VALUES ('fingerprint', ?)", (fingerprint,))
        for table in LEGACY_TABLES:
            conn.execute(f"INSERT INTO {PROGRESS} (name) VALUES (?)", (table.source,))
            for name, sql in _secondary_indexes(conn, table.db_table):
                conn.execute(f"INSERT INTO {META} VALUES (?, ?)", (f"index:{name}", sql))
                conn.execute(f"DROP INDEX {quote(name)}")
        conn.execute("COMMIT")

    # --- state ----------------------------------------------------------------------------
    def state(self, table: LegacyTable) -> tuple[str | None, int, bool]:
        last_id, rows, done = self.conn.execute(
            f"SELECT last_id, rows, done FROM {PROGRESS} WHERE name = ?", (table.source,)
        ).fetchone()
        return last_id, rows, bool(done)

    def durations_pending(self) -> bool:
        row = self.conn.execute(f"SELECT value FROM {META} WHERE key = 'durations'").fetchone()
        return row is None

    def probe_call_durations(self, *, notes: list[str]) -> "CallDurations":
        return CallDurations(self.path, notes=notes).start()

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
        rows: Iterator[tuple] | None = None,
    ) -> None:
        """Copy `table` from `source`, resuming after the last committed id. `rows`, when given,
        is that table's stream, opened earlier by stream()."""
        last_id, rows_done, done = self.state(table)
        if done:
            progress.write(f"{table.label}: already copied ({rows_done:,} rows)")
            return
        columns, extras = _columns_with_defaults(table)
        insert = (
            f"INSERT INTO {quote(table.db_table)} ({', '.join(quote(c) for c in columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
        )
        conn = self.conn
        with (
            nullcontext(rows)
            if rows is not None
            else self.stream(table, source=source, skipped_ids=skipped_ids) as prefetched,
            progress.table(table.label, total=expected, done=rows_done) as counter,
        ):
            rows = self._derive(table, prefetched)
            if extras:
                rows = (row + extras() for row in rows)
            weigh = _audio_bytes if table is CALLS else None
            while True:
                batch = _Batch(rows, max_rows=batch_rows, max_bytes=CALL_BATCH_BYTES, weigh=weigh)
                conn.execute("BEGIN")
                try:
                    conn.executemany(insert, batch)
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

    def stream(self, table: LegacyTable, *, source: LegacySource, skipped_ids: list[str]):
        """The rows still to copy, read from Postgres in a second thread (see _prefetched).

        Opened before its turn (on a connection of its own), a table's COPY is sorted and
        under way while the tables before it are copied.
        """
        last_id = self.state(table)[0]

        def open_rows():
            return source.stream(table, after_id=last_id, skipped_ids=skipped_ids)

        if table is CALLS:
            # A recording can be 10 MB (13 MB as base64): read straight from the stream, one
            # row in memory at a time, so memory stays bounded however large they are.
            return open_rows()
        return _prefetched(open_rows, chunk=2_000)

    def _derive(self, table: LegacyTable, rows: Iterator[tuple]):
        if table is SESSIONS:
            return _with_session_payloads(rows, payloads=SessionPayloads())
        if table is CALLS:
            return _with_audio(rows)
        return rows

    # --- finishing ------------------------------------------------------------------------
    def rebuild_indexes(self) -> int:
        pending = self.conn.execute(
            f"SELECT key, value FROM {META} WHERE key LIKE 'index:%' ORDER BY key"
        ).fetchall()
        if not pending:
            return 0
        self.conn.execute("BEGIN")
        for key, sql in pending:
            name = key.removeprefix("index:")
            exists = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
            ).fetchone()
            if not exists:
                self.conn.execute(sql)
        self.conn.execute(f"DELETE FROM {META} WHERE key LIKE 'index:%'")
        self.conn.execute("COMMIT")
        return len(pending)

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


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=TRUNCATE")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA mmap_size=0")
    conn.execute("PRAGMA cache_size=-32768")
    # CREATE INDEX may sort with a helper thread.
    conn.execute("PRAGMA threads=2")
    return conn


def _stored_fingerprint(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute(f"SELECT value FROM {META} WHERE key = 'fingerprint'").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


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


def _columns_with_defaults(table: LegacyTable):
    """Target columns, plus the model's other columns filled with their defaults.

    Fields the old site never had (added by the site since) get their model default, so the
    import keeps working when an app grows a column.
    """
    from django.db import connection

    columns = table.target_columns
    others = [f for f in table.model._meta.concrete_fields if f.column not in columns]
    for field in others:
        if not field.has_default() and not field.null and not field.empty_strings_allowed:
            raise ImportRefused(
                f"The site's {table.model_label} has a required field {field.name!r} the old "
                "site has no data for; give it a default in the model first."
            )
    if not others:
        return columns, None

    def extras() -> tuple:
        return tuple(field.get_db_prep_save(field.get_default(), connection) for field in others)

    return columns + [f.column for f in others], extras


@contextmanager
def _prefetched(open_rows: Callable[[], AbstractContextManager], *, chunk: int, depth: int = 8):
    """Open and read a COPY stream in a second thread, `depth` chunks ahead of the inserts.

    Parsing Postgres's rows and inserting into SQLite then overlap: psycopg and sqlite3 both
    release the GIL while they wait on the server or step the statement. The stream is opened
    and closed in that thread, so its connection is never used by two threads at once.
    """
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            with open_rows() as rows:
                batch = []
                for row in rows:
                    batch.append(row)
                    if len(batch) >= chunk:
                        if not _offer(handoff, batch, stop):
                            return
                        batch = []
                _offer(handoff, batch, stop)
                _offer(handoff, _END, stop)
        except BaseException as error:  # re-raised in the consuming thread
            _offer(handoff, error, stop)

    def consume() -> Iterator[tuple]:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield from item

    producer = threading.Thread(target=produce, name="copy-reader", daemon=True)
    producer.start()
    try:
        yield consume()
    finally:
        stop.set()
        while producer.is_alive():
            with suppress(queue.Empty):
                handoff.get(timeout=0.05)
        producer.join()


_END = object()


def _offer(handoff: queue.Queue, item, stop: threading.Event) -> bool:
    """Put unless the consumer has gone; False when it has."""
    while not stop.is_set():
        try:
            handoff.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _audio_bytes(row: tuple) -> int:
    return len(row[7])


class _Batch:
    """Up to max_rows rows (or max_bytes as weighed) of a shared iterator; keeps the last id."""

    def __init__(self, rows: Iterator[tuple], *, max_rows: int, max_bytes: int, weigh=None):
        self.rows = rows
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.weigh = weigh
        self.count = 0
        self.bytes = 0
        self.last_id = None
        self.exhausted = False

    def __iter__(self):
        return self

    def __next__(self) -> tuple:
        if self.count >= self.max_rows or (self.weigh and self.bytes >= self.max_bytes):
            raise StopIteration
        try:
            row = next(self.rows)
        except StopIteration:
            self.exhausted = True
            raise
        self.count += 1
        self.last_id = row[0]
        if self.weigh:
            self.bytes += self.weigh(row)
        return row


def _with_session_payloads(rows: Iterator[tuple], *, payloads: SessionPayloads):
    for row in rows:
        yield (*row, payloads.encode(row[1]))


def _with_audio(rows: Iterator[tuple]):
    """Decode each data URL into (bytes, MIME type); CallDurations probes the duration later."""
    for row in rows:
        try:
            mime, audio = split_data_url(row[-1])
        except ValueError as error:
            raise ImportRefused(
                f'Call {row[0]}: its "base64" column changed during the run ({error}).'
            ) from None
        yield (*row[:-1], audio, mime, 0.0)


class CallDurations:
    """ffprobe every copied recording for its duration, in the background.

    The recordings are read back from the new file one at a time (memory stays flat however
    many there are) by a worker thread while the post reads load; finish() writes the
    durations in one transaction. A recording ffprobe cannot read keeps 0 and is named in the
    run's notes. A resumed run probes again unless the durations were already written.
    """

    def __init__(self, path: Path, *, notes: list[str]):
        self.path = path
        self.notes = notes
        self.results: dict[str, float] = {}
        self.thread = threading.Thread(target=self._run, name="call-durations", daemon=True)
        self.error: BaseException | None = None
        self.probing = shutil.which(settings.FFPROBE_BINARY) is not None

    def start(self) -> "CallDurations":
        if self.probing:
            self.thread.start()
        else:
            self.notes.append(
                f"ffprobe ({settings.FFPROBE_BINARY}) is not installed: call durations stay 0."
            )
        return self

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=60)
            table, pk = quote(CALLS.db_table), quote(CALLS.pk_column)
            ids = [row[0] for row in conn.execute(f"SELECT {pk} FROM {table} ORDER BY {pk}")]

            def probe(call_id: str) -> tuple[str, float]:
                (audio,) = conn.execute(
                    f"SELECT audio FROM {table} WHERE {pk} = ?", (call_id,)
                ).fetchone()
                try:
                    return call_id, call_audio.probe(bytes(audio)).duration_seconds
                except (call_audio.NotAudio, call_audio.AudioProcessingError):
                    return call_id, 0.0

            # One at a time: each probe holds a whole recording in memory.
            try:
                self.results = dict(map(probe, ids))
            finally:
                conn.close()
        except BaseException as error:  # handed to finish(), on the main thread
            self.error = error

    def finish(self, conn: sqlite3.Connection) -> None:
        if not self.probing:
            return
        self.thread.join()
        if self.error is not None:
            raise self.error
        table, pk = quote(CALLS.db_table), quote(CALLS.pk_column)
        duration = quote(CALLS.model_field("duration_seconds").column)
        conn.execute("BEGIN")
        conn.executemany(
            f"UPDATE {table} SET {duration} = ? WHERE {pk} = ?",
            [(seconds, call_id) for call_id, seconds in self.results.items()],
        )
        conn.execute(f"INSERT OR REPLACE INTO {META} VALUES ('durations', '1')")
        conn.execute("COMMIT")
        unreadable = sorted(call_id for call_id, seconds in self.results.items() if not seconds)
        if unreadable:
            self.notes.append(
                f"ffprobe could not read the duration of {len(unreadable)} call(s), kept as 0: "
                + ", ".join(unreadable[:10])
                + (" …" if len(unreadable) > 10 else "")
            )
