"""The old site's Postgres database, read-only: schema check, counts, problem rows, streams.

Everything runs inside one REPEATABLE READ, READ ONLY transaction, so the checks, the copy and
the verification all see the same snapshot even if the old site is still taking writes. Work
done in parallel (checks of several tables, checksums computed while the copy runs) goes
through worker connections that adopt that transaction's exported snapshot, as pg_dump --jobs
does, so they too see exactly the rows that are copied.
Rows are streamed through server-side cursors in byte order of their ids (COLLATE "C", the order
SQLite's BINARY collation uses), which is what makes a killed run resumable from the last
committed id. A cursor hands over thousands of rows per round trip, already parsed by psycopg's C
loaders; COPY would cost a Python-level call per row on this side.
"""

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from psycopg import sql as pgsql
from psycopg.abc import Params
from psycopg.conninfo import conninfo_to_dict

from . import ImportRefused
from .tables import LEGACY_TABLES, ORM_BOOKKEEPING, LegacyTable, quote, sql_string

TIMESTAMP_TYPES = {"timestamp without time zone", "timestamp with time zone"}
CONNECT_TIMEOUT_SECONDS = 10
T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    table: str
    id: str
    message: str
    detail: str = ""


@dataclass
class SchemaReport:
    ignored_tables: list[str] = field(default_factory=list)
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)
    bookkeeping_present: bool = False


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    params = _conninfo(url)
    user = f"{params['user']}@" if params.get("user") else ""
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{user}{params.get('host', 'localhost')}{port}/{params.get('dbname', '')}"


def _conninfo(url: str) -> dict:
    if not url.startswith(("postgres://", "postgresql://")):
        raise ImportRefused(
            "The source must be a URL like postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
            f"(got {url.split('://')[0] + '://…' if '://' in url else repr(url)})."
        )
    try:
        return conninfo_to_dict(url)
    except psycopg.ProgrammingError as error:
        raise ImportRefused(f"The source URL cannot be read: {error}.") from None


class LegacySource:
    def __init__(self, url: str, *, snapshot: str | None = None):
        params = _conninfo(url)
        self.url = url
        self.description = describe_url(url)
        self._snapshot = snapshot
        where = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}"
        try:
            self.conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        except psycopg.OperationalError as error:
            raise ImportRefused(_connection_failure(error, where=where, params=params)) from None
        self.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        self.conn.read_only = True
        if snapshot is not None:
            # Must come first in the transaction, before anything takes a snapshot of its own.
            self.conn.execute(pgsql.SQL("SET TRANSACTION SNAPSHOT {}").format(snapshot))
        # Naive timestamps hold UTC; an aware column must be read as UTC too.
        self.conn.execute("SET TIME ZONE 'UTC'")
        if self.conn.info.server_version >= 110000:
            # Every query here is one pass over a table: JIT compiling it (for the large
            # tables' estimated costs) took longer than running it.
            self.conn.execute("SET jit = off")
        self.server_version = self._one("SHOW server_version")[0]
        self.identity = (
            f"{where}/{params.get('dbname', '')}#" + self._one("SELECT current_database()")[0]
        )

    def _one(
        self, query: str | pgsql.SQL | pgsql.Composed, params: Params | None = None
    ) -> tuple[Any, ...]:
        """The one row a query that always answers one (an aggregate, SHOW) returns."""
        row = self.conn.execute(query, params).fetchone()
        assert row is not None
        return row

    def close(self) -> None:
        self.conn.rollback()
        self.conn.close()

    def worker(self) -> "LegacySource":
        """Another connection that sees exactly this one's snapshot, for work in another thread.

        The snapshot stays importable while this connection's transaction is open, that is,
        for the whole run. The caller closes the worker.
        """
        if self._snapshot is None:
            self._snapshot = self._one("SELECT pg_export_snapshot()")[0]
        return LegacySource(self.url, snapshot=self._snapshot)

    @contextmanager
    def workers(self, count: int) -> Iterator["WorkerPool"]:
        """`count` threads, each with its own worker connection; closed on leaving."""
        pool = WorkerPool(self, count)
        try:
            yield pool
        finally:
            pool.close()

    # --- schema ---------------------------------------------------------------------------
    def check_schema(self) -> SchemaReport:
        rows = self.conn.execute(
            """
            SELECT c.table_name, c.column_name, c.data_type
            FROM information_schema.columns c
            JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
            """
        ).fetchall()
        columns: dict[str, dict[str, str]] = {}
        for table, column, data_type in rows:
            columns.setdefault(table, {})[column] = data_type
        report = SchemaReport()
        known = {table.source for table in LEGACY_TABLES}
        report.bookkeeping_present = ORM_BOOKKEEPING in columns
        report.ignored_tables = sorted(set(columns) - known - {ORM_BOOKKEEPING})

        missing_tables = [t.source for t in LEGACY_TABLES if t.source not in columns]
        if missing_tables:
            names = ", ".join(f'"{name}"' for name in missing_tables)
            raise ImportRefused(
                f"The source database {self.description} has no {names} table"
                f"{'s' if len(missing_tables) > 1 else ''} in schema "
                f"{self._schema_name()}: is --source pointing at the old site's database?"
            )
        problems = []
        for table in LEGACY_TABLES:
            have = columns[table.source]
            missing = [c for c in table.required_source_columns if c not in have]
            if missing:
                problems.append(
                    f'"{table.source}" lacks column{"s" if len(missing) > 1 else ""} '
                    + ", ".join(f'"{c}"' for c in missing)
                )
            for column in table.columns:
                data_type = have.get(column.source)
                if column.timestamp and data_type and data_type not in TIMESTAMP_TYPES:
                    problems.append(
                        f'"{table.source}"."{column.source}" is {data_type}, not a timestamp'
                    )
            extra = sorted(set(have) - set(table.required_source_columns))
            if extra:
                report.ignored_columns[table.source] = extra
        if problems:
            raise ImportRefused(
                "The source schema is not the old site's: "
                + "; ".join(problems)
                + ". Migrate the old database to its final Prisma schema first."
            )
        return report

    def _schema_name(self) -> str:
        return self._one("SELECT current_schema()")[0] or "(none)"

    def room_needed(self) -> int:
        """Bytes the copy needs on disk, roughly: the new database takes about what the tables
        take in Postgres, plus what the tables' room_sql says is written beside it (the
        recordings, decoded into files while it runs)."""
        tables = ", ".join(sql_string(quote(table.source)) for table in LEGACY_TABLES)
        (size,) = self._one(
            f"SELECT sum(pg_total_relation_size(name::regclass))::bigint "
            f"FROM unnest(ARRAY[{tables}]) name"
        )
        for table in LEGACY_TABLES:
            if table.room_sql:
                (beside,) = self._one(f"SELECT {table.room_sql} FROM {quote(table.source)}")
                size += beside
        return int(size)

    # --- counting and checking ------------------------------------------------------------
    def count(self, table: LegacyTable) -> int:
        query = pgsql.SQL("SELECT count(*) FROM {}").format(pgsql.Identifier(table.source))
        count: int = self._one(query)[0]
        return count

    def problems(self, table: LegacyTable, *, skipped_users: list[str]) -> list[Problem]:
        """Rows the site's constraints would reject, with the first reason for each."""
        query = (
            f"SELECT id, problem FROM (SELECT t.{quote(table.source_id)} AS id, "
            f"{table.problem_sql()} AS problem FROM {quote(table.source)} t) p "
            'WHERE problem IS NOT NULL ORDER BY id COLLATE "C"'
        )
        rows = self.conn.execute(query, {"skipped_users": skipped_users}).fetchall()
        found = [Problem(table.source, row_id, message) for row_id, message in rows]
        for check in table.cross_row_checks:
            rows = self.conn.execute(check.sql, {"skip": sorted({p.id for p in found})}).fetchall()
            found += [
                Problem(table.source, row_id, check.message, detail=detail)
                for row_id, detail in rows
            ]
        if table.python_check:
            found = sorted(
                found + self._python_problems(table, skip=[p.id for p in found]),
                key=lambda problem: problem.id.encode(),
            )
        return found

    def _python_problems(self, table: LegacyTable, *, skip: list[str]) -> list[Problem]:
        """The table's python_check over the rows the SQL checks passed, one row in memory at
        a time (a call's data URL can be 40 MB)."""
        assert table.python_check is not None  # asked only for a table with one
        column, check = table.python_check
        found = []
        with self.raw_values(table, column, skipped_ids=skip) as values:
            for row_id, value in values:
                if message := check(value):
                    found.append(Problem(table.source, row_id, message))
        return found

    @contextmanager
    def raw_values(
        self, table: LegacyTable, column: str, *, skipped_ids: list[str]
    ) -> Iterator[Iterator[tuple[str, bytes]]]:
        """(id, the column's UTF-8 bytes) of each row where it is not NULL, one row in memory
        at a time, in no particular order.

        Read on a connection of its own, closed at the end: libpq keeps a buffer as large as
        the largest row it received (a recording: 13 MB) for as long as its connection lives.
        """
        id_col = f"t.{quote(table.source_id)}"
        query = (
            f"SELECT {id_col}, convert_to(t.{quote(column)}, 'UTF8') FROM {quote(table.source)} t "
            f"WHERE NOT ({id_col} = ANY(%(skip)s)) AND t.{quote(column)} IS NOT NULL"
        )
        name = f"raw_{table.source.lower()}_{column.lower()}"
        with (
            closing(self.worker()) as reader,
            reader.conn.cursor(name=name, binary=True) as cursor,
        ):
            cursor.itersize = 1
            cursor.execute(query, {"skip": skipped_ids})
            yield iter(cursor)

    def rejected_rows(self, table: LegacyTable, ids: list[str]) -> Iterator[tuple[str, dict]]:
        """The complete legacy rows, for --skip-invalid FILE: nothing is lost."""
        query = (
            f"SELECT t.{quote(table.source_id)}, to_jsonb(t) FROM {quote(table.source)} t "
            f"WHERE t.{quote(table.source_id)} = ANY(%s) "
            f'ORDER BY t.{quote(table.source_id)} COLLATE "C"'
        )
        with self.conn.cursor(name=f"rejected_{table.source.lower()}") as cursor:
            cursor.itersize = 64
            cursor.execute(query, (ids,))
            yield from cursor

    # --- copying --------------------------------------------------------------------------
    @contextmanager
    def stream(
        self,
        table: LegacyTable,
        *,
        after_id: str | None,
        skipped_ids: list[str],
        batch_rows: int,
        skipped_users: list[str] | None = None,
    ) -> Iterator[Iterator[list[tuple]]]:
        """Batches of up to `batch_rows` rows, as tuples in target-column order, by id, after
        `after_id`, from a server-side cursor: memory holds one batch, whatever the table size.

        Given `skipped_users` instead of `skipped_ids`, the rows are filtered by the table's
        own SQL checks, in this same snapshot: the very rows problems() would not report, so
        the query can start before the checks are in (see HeadStart).
        """
        if skipped_users is not None and not table.checked_in_sql_alone:
            raise ValueError(f"{table.label} has checks that problem_sql() does not hold")
        id_col = f"t.{quote(table.source_id)}"
        where = [f"NOT ({id_col} = ANY(%(skipped)s))"]
        if after_id is not None:
            where.append(f'{id_col} COLLATE "C" > %(after)s')
        if skipped_users is not None:
            where.append(f"({table.problem_sql()}) IS NULL")
        # The sort runs in a subquery that OFFSET 0 keeps from being flattened, so the columns
        # are formatted (timestamps as Django stores them) row by row as they are sent, rather
        # than all of them before the first row can leave the server.
        query = (
            f"SELECT {table.select_list()} FROM (SELECT * FROM {quote(table.source)} t "
            f'WHERE {" AND ".join(where)} ORDER BY {id_col} COLLATE "C" OFFSET 0) t'
        )
        with self.conn.cursor(name=f"stream_{table.source.lower()}", binary=True) as cursor:
            cursor.itersize = batch_rows
            cursor.execute(
                query,
                {"skipped": skipped_ids, "after": after_id, "skipped_users": skipped_users or []},
            )

            def batches() -> Iterator[list[tuple]]:
                while rows := cursor.fetchmany(batch_rows):
                    yield rows

            yield batches()

    def checksum(self, table: LegacyTable, *, skipped_ids: list[str]) -> tuple[int, str]:
        """(rows, md5 of the key columns of every row joined by newlines, in id byte order)."""
        id_col = f"t.{quote(table.source_id)}"
        query = (
            f"SELECT count(*), coalesce(md5(string_agg({table.checksum_postgres()}, E'\\n' "
            f"ORDER BY {id_col} COLLATE \"C\")), md5('')) FROM {quote(table.source)} t "
            f"WHERE NOT ({id_col} = ANY(%(skipped)s))"
        )
        count, digest = self._one(query, {"skipped": skipped_ids})
        return count, digest


class WorkerPool:
    """Run `fn(source, *args)` on a worker connection in another thread; returns a Future.

    Each thread opens its worker connection on first use and keeps it, so a psycopg
    connection is never used by two threads at once.
    """

    def __init__(self, source: LegacySource, count: int):
        self._source = source
        self._local = threading.local()
        self._opened: list[LegacySource] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="postgres")

    def submit(self, fn: Callable[..., T], *args, **kwargs) -> "Future[T]":
        return self._pool.submit(self._call, fn, *args, **kwargs)

    def _call(self, fn, *args, **kwargs):
        worker = getattr(self._local, "source", None)
        if worker is None:
            worker = self._source.worker()
            self._local.source = worker
            with self._lock:
                self._opened.append(worker)
        return fn(worker, *args, **kwargs)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for worker in self._opened:
            with suppress(psycopg.Error):
                worker.close()


def _connection_failure(error: psycopg.OperationalError, *, where: str, params: dict) -> str:
    reason = str(error).strip().splitlines()[-1]
    reason = reason.split("FATAL:", 1)[-1].strip()
    lowered = str(error).lower()
    if (
        "password authentication failed" in lowered
        or "no password supplied" in lowered
        or ("role" in lowered and "does not exist" in lowered)
    ):
        return (
            f"Postgres at {where} refused the credentials for user "
            f"{params.get('user', '(none)')!r} ({reason}). "
            "Check the user name and password in --source (or POSTGRES_DATABASE_URL)."
        )
    if "database" in lowered and "does not exist" in lowered:
        return (
            f"Postgres at {where} has no database {params.get('dbname', '')!r}. "
            "Check the database name at the end of --source."
        )
    return (
        f"Cannot reach Postgres at {where} ({reason}). Check the host and port in --source "
        "(or POSTGRES_DATABASE_URL) and that the server accepts connections from this machine."
    )


def md5_lines(lines: Iterator[list[str]]) -> tuple[int, str]:
    """The SQLite side of checksum(): same text, same joining, same digest."""
    digest = hashlib.md5(usedforsecurity=False)
    count = 0
    for chunk in lines:
        if not chunk:
            continue
        text = "\n".join(chunk)
        digest.update((("\n" + text) if count else text).encode("utf-8"))
        count += len(chunk)
    return count, digest.hexdigest()


def write_rejected(path, *, source: LegacySource, problems: list[Problem]) -> int:
    """Write every rejected row, whole, as JSON lines; returns how many."""
    by_table: dict[str, dict[str, Problem]] = {}
    for problem in problems:
        by_table.setdefault(problem.table, {})[problem.id] = problem
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        for table in LEGACY_TABLES:
            rejected = by_table.get(table.source, {})
            if not rejected:
                continue
            for row_id, row in source.rejected_rows(table, sorted(rejected)):
                problem = rejected[row_id]
                record = {
                    "table": table.source,
                    "id": row_id,
                    "problem": problem.message + (f" ({problem.detail})" if problem.detail else ""),
                    "row": row,
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                written += 1
    return written
