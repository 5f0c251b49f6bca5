"""From Postgres's stream to SQLite's inserts: batches read ahead in a second thread, and
the transactions build.py commits them in.
"""

import itertools
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from functools import partial

from . import ImportRefused
from .source import LegacySource
from .tables import LegacyTable, quote

# Blobs (the calls' recordings) are big: a transaction of them stops at this many bytes.
BLOB_BATCH_BYTES = 32 * 1024 * 1024
# Rows per round trip to Postgres.
FETCH_ROWS = 5_000
# A file goes into its blob this many bytes at a time.
BLOB_SLICE = 1024 * 1024


def columns_with_defaults(table: LegacyTable):
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


def stream_batches(
    table: LegacyTable,
    *,
    source: LegacySource,
    skipped_ids: list[str],
    after_id: str | None,
    batch_rows: int,
    skipped_users: list[str] | None = None,
) -> AbstractContextManager[Iterator]:
    """`table`'s rows after `after_id`, in batches ready for load(): chunks (see in_bulk) or
    lists of tuples. Most tables are read in a second thread (see _prefetched), so Postgres
    sorts and sends while SQLite inserts; `batch_rows` is load()'s transaction size. See
    LegacySource.stream for `skipped_users`."""

    def open_batches():
        return source.stream(
            table,
            after_id=after_id,
            skipped_ids=skipped_ids,
            batch_rows=FETCH_ROWS,
            skipped_users=skipped_users,
        )

    if in_bulk(table):
        return _prefetched(open_batches, prepare=partial(_chunks, per_transaction=batch_rows))
    return _prefetched(open_batches)


def in_bulk(table: LegacyTable) -> bool:
    """Whether `table`'s rows go into SQLite many to a statement: those copied as they come,
    with nothing computed per row in Python (the large ones).

    An INSERT of ROWS_PER_INSERT rows binds its parameters in one call and steps in C without
    the GIL, while the reading thread prepares the next chunk; executemany() takes the GIL back
    for every row, and the two threads then mostly take turns (README's bench table has the
    figures, against row by row and json_each).
    """
    return not table.derived_fields and columns_with_defaults(table)[1] is None


ROWS_PER_INSERT = 500
# SQLite's limit on a statement's parameters (SQLITE_MAX_VARIABLE_NUMBER, since 3.32).
MAX_PARAMETERS = 32_766


def _chunks(batches: Iterator[list[tuple]], *, per_transaction: int):
    """(parameter lists of ROWS_PER_INSERT rows or fewer, row count, last id) for each batch,
    re-cut so that no chunk straddles a transaction of `per_transaction` rows."""
    room = per_transaction
    for batch in batches:
        per_insert = max(1, min(ROWS_PER_INSERT, MAX_PARAMETERS // len(batch[0]))) if batch else 1
        while batch:
            take = min(room, len(batch))
            chunk, batch = batch[:take], batch[take:]
            statements = [
                list(itertools.chain.from_iterable(chunk[start : start + per_insert]))
                for start in range(0, take, per_insert)
            ]
            yield statements, take, chunk[-1][0]
            room = room - take or per_transaction


class MultiRowInsert:
    """INSERT … VALUES (…), (…), … for any number of rows, its SQL made once per count."""

    def __init__(self, db_table: str, columns: list[str]):
        self.head = (
            f"INSERT INTO {quote(db_table)} ({', '.join(quote(c) for c in columns)}) VALUES "
        )
        self.row = "(" + ", ".join("?" * len(columns)) + ")"
        self.width = len(columns)
        self.sql: dict[int, str] = {}

    def run(self, conn: sqlite3.Connection, params: list) -> None:
        rows = len(params) // self.width
        sql = self.sql.get(rows)
        if sql is None:
            sql = self.sql[rows] = self.head + ", ".join([self.row] * rows)
        conn.execute(sql, params)


@contextmanager
def _prefetched(
    open_batches: Callable[[], AbstractContextManager], *, prepare=None, depth: int = 3
):
    """Open and read a stream in a second thread, `depth` batches ahead of the inserts;
    `prepare`, given the stream's batches, yields what goes over instead.

    Fetching from Postgres and inserting into SQLite then overlap: psycopg and sqlite3 both
    release the GIL while they wait on the server or step the statement. The stream is opened
    and closed in that thread, so its connection is never used by two threads at once.
    """
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            with open_batches() as batches:
                for batch in prepare(batches) if prepare else batches:
                    if not _offer(handoff, batch, stop):
                        return
                _offer(handoff, _END, stop)
        except BaseException as error:  # re-raised in the consuming thread
            _offer(handoff, error, stop)

    def consume() -> Iterator[list[tuple]]:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

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


class Batch:
    """One transaction's worth of a table: up to max_rows rows, counted, with the last id copied
    and whether the source ran out."""

    def __init__(self, *, insert, max_rows: int):
        self.statement = insert
        self.max_rows = max_rows
        self.count = 0
        self.last_id: str | None = None
        self.exhausted = False


class RowBatch(Batch):
    """Up to max_rows rows of a shared iterator."""

    def __init__(self, rows: Iterator[tuple], *, insert: str, max_rows: int):
        super().__init__(insert=insert, max_rows=max_rows)
        self.rows = rows

    def insert(self, conn: sqlite3.Connection) -> None:
        conn.executemany(self.statement, self)

    def __iter__(self):
        return self

    def full(self) -> bool:
        return self.count >= self.max_rows

    def __next__(self) -> tuple:
        if self.full():
            raise StopIteration
        try:
            row = next(self.rows)
        except StopIteration:
            self.exhausted = True
            raise
        self.count += 1
        self.last_id = row[0]
        return row


class BlobBatch(RowBatch):
    """Rows with a blob (a table's blob_field: the calls' recordings), inserted one at a time
    with an empty blob the size of their file, which is then filled from the file a slice at a
    time (see recordings.py): a recording is never whole in memory. The row holds the file (its
    .path and .size) at index `blob`. A batch also ends at BLOB_BATCH_BYTES of blobs."""

    def __init__(
        self, rows: Iterator[tuple], *, insert: str, db_table: str, column: str, blob: int, **kw
    ):
        super().__init__(rows, insert=insert, **kw)
        self.db_table = db_table
        self.column = column
        self.blob = blob
        self.bytes = 0

    def full(self) -> bool:
        return super().full() or self.bytes >= BLOB_BATCH_BYTES

    def insert(self, conn: sqlite3.Connection) -> None:
        for row in self:
            file = row[self.blob]
            self.bytes += file.size
            params = (*row[: self.blob], file.size, *row[self.blob + 1 :])
            rowid = conn.execute(self.statement, params).lastrowid
            assert rowid is not None  # an INSERT's
            with (
                conn.blobopen(self.db_table, self.column, rowid) as blob,
                open(file.path, "rb") as contents,
            ):
                while data := contents.read(BLOB_SLICE):
                    blob.write(data)


class ChunkBatch(Batch):
    """A transaction's worth of chunks (see _chunks)."""

    def __init__(self, chunks: Iterator[tuple[list, int, str]], *, insert, max_rows: int):
        super().__init__(insert=insert, max_rows=max_rows)
        self.chunks = chunks

    def insert(self, conn: sqlite3.Connection) -> None:
        while self.count < self.max_rows:
            chunk = next(self.chunks, None)
            if chunk is None:
                self.exhausted = True
                return
            statements, rows, last_id = chunk
            for params in statements:
                self.statement.run(conn, params)
            self.count += rows
            self.last_id = last_id
