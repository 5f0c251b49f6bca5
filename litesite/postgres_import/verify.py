"""Proof that the new file holds the old data: per table, both sides computed independently.

Postgres aggregates its own checksum (md5 over the key columns, in id byte order) in the server;
SQLite's side is computed from what was stored, with timestamps compared as epoch milliseconds
rather than through the formatting the copy used, and recordings rebuilt into the original data
URL. Then foreign_key_check must be empty and integrity_check must say ok.
"""

import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .conversions import SessionPayloads, md5_data_url
from .source import LegacySource, md5_lines
from .tables import LEGACY_TABLES, SESSIONS, LegacyTable, quote


@dataclass
class TableCheck:
    name: str
    source_rows: int
    skipped: int
    source_checksum: str
    copied_rows: int
    copied_checksum: str

    @property
    def ok(self) -> bool:
        return (self.source_rows, self.source_checksum) == (self.copied_rows, self.copied_checksum)


@dataclass
class Verification:
    tables: list[TableCheck] = field(default_factory=list)
    foreign_key_errors: list[tuple] = field(default_factory=list)
    integrity: list[str] = field(default_factory=list)
    session_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            all(check.ok for check in self.tables)
            and not self.foreign_key_errors
            and self.integrity == ["ok"]
            and not self.session_errors
        )

    def lines(self) -> list[str]:
        header = (
            f"{'table':<10} {'postgres':>10} {'skipped':>8} {'sqlite':>10}  {'checksum':<10} result"
        )
        out = [header, "-" * len(header)]
        for check in self.tables:
            same = check.source_checksum == check.copied_checksum
            out.append(
                f"{check.name:<10} {check.source_rows + check.skipped:>10,} {check.skipped:>8,} "
                f"{check.copied_rows:>10,}  {check.copied_checksum[:8] if same else 'DIFFERS':<10} "
                f"{'ok' if check.ok else 'MISMATCH'}"
            )
        fk = "ok" if not self.foreign_key_errors else f"{len(self.foreign_key_errors)} broken"
        out.append(f"foreign_key_check: {fk}")
        out.append(f"integrity_check: {'; '.join(self.integrity[:5])}")
        if self.session_errors:
            out.append(f"session payloads: {len(self.session_errors)} do not name their user")
        return out


def verify(
    *,
    source: LegacySource,
    path: Path,
    skipped: dict[str, list[str]],
    source_checksums: dict[str, Future] | None = None,
) -> Verification:
    """All checks at once: integrity_check, the longest, starts first in its own thread (in C,
    without the GIL); Postgres computes its checksums in its own process (already under way
    when `source_checksums` holds them: the command starts them while the copy runs), and this
    thread hashes the SQLite side, then runs the other checks."""
    result = Verification()
    with ThreadPoolExecutor(max_workers=2) as pool:
        integrity = pool.submit(_integrity_check, path)
        if source_checksums is None:
            source_checksums = {
                table.source: pool.submit(
                    source.checksum, table, skipped_ids=skipped.get(table.source, [])
                )
                for table in LEGACY_TABLES
            }
        for table in LEGACY_TABLES:
            copied_rows, copied_sum = _sqlite_checksum(path, table)
            source_rows, source_sum = source_checksums[table.source].result()
            skipped_rows = len(skipped.get(table.source, []))
            result.tables.append(
                TableCheck(
                    table.source, source_rows, skipped_rows, source_sum, copied_rows, copied_sum
                )
            )
        conn = sqlite3.connect(path)
        try:
            result.foreign_key_errors = conn.execute("PRAGMA foreign_key_check").fetchall()
            result.session_errors = _sessions_not_naming_their_user(conn)
        finally:
            conn.close()
        result.integrity = integrity.result()
    return result


# integrity_check looks every row up in each of its table's indexes, in random order. With
# SQLite's default 2 MB page cache most look-ups become a read() of the file: on the
# benchmark's 245 MB file two thirds of the check's time went to the kernel. 64 MB keeps most of
# the indexes being checked in memory, and the process well under its 200 MB budget.
INTEGRITY_CHECK_CACHE_KB = 64 * 1024


def _integrity_check(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA cache_size = -{INTEGRITY_CHECK_CACHE_KB}")
        return [row[0] for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


def _sqlite_checksum(path: Path, table: LegacyTable) -> tuple[int, str]:
    conn = sqlite3.connect(path)
    conn.create_function("md5_data_url", 2, md5_data_url, deterministic=True)
    try:
        cursor = conn.execute(
            f"SELECT {table.checksum_sqlite()} FROM {quote(table.db_table)} "
            f"ORDER BY {quote(table.pk_column)}"
        )

        def chunks():
            while rows := cursor.fetchmany(20_000):
                yield [row[0] for row in rows]

        return md5_lines(chunks())
    finally:
        conn.close()


def _sessions_not_naming_their_user(conn: sqlite3.Connection) -> list[str]:
    """Every migrated session must decode, with the current SECRET_KEY, to its own user."""
    payloads = SessionPayloads()
    user_column = SESSIONS.model_field("user").column
    bad = []
    query = (
        f"SELECT session_key, {quote(user_column)}, session_data FROM {quote(SESSIONS.db_table)}"
    )
    for key, user_id, data in conn.execute(query):
        if payloads.user_id(data) != user_id:
            bad.append(key)
    return bad
