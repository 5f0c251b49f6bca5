"""Proof that the new file holds the old data: per table, both sides computed independently.

Postgres aggregates its own checksum (md5 over the key columns, in id byte order) in the server;
SQLite's side is computed from what was stored, with timestamps compared as epoch milliseconds
rather than through the formatting the copy used, and recordings rebuilt into the original data
URL. Then foreign_key_check must be empty and integrity_check must say ok.

integrity_check comes in parts that together do all it does: integrity_check(T) for each table
(its b-trees, and every row found in each of its indexes and nothing else there) and quick_check
for the whole file (every page used exactly once, the free list). A table the copy has finished
with is checked right then, while the other tables load: the copy never writes to it again, and
in a file without auto-vacuum (build.py makes it so) SQLite never moves a table's pages when
others grow. The post reads' part is most of the check's time, and it overlaps the copy.
"""

import sqlite3
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from .source import LegacySource, md5_lines
from .tables import LEGACY_TABLES, CopyCheck, LegacyTable, quote


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
    integrity_parts: int = 0
    # The tables' copy_checks that found rows failing them, with those rows' keys.
    failed_copy_checks: list[tuple[CopyCheck, list[str]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            all(check.ok for check in self.tables)
            and not self.foreign_key_errors
            and self.integrity == ["ok"]
            and not self.failed_copy_checks
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
        out.append(
            f"integrity_check: {'; '.join(self.integrity[:5])} "
            f"({self.integrity_parts} tables with their indexes, and quick_check of the file)"
        )
        for copy_check, keys in self.failed_copy_checks:
            out.append(f"{copy_check.label}: {len(keys)} {copy_check.failure}")
        return out


def verify(
    *,
    source: LegacySource,
    path: Path,
    skipped: dict[str, list[str]],
    source_checksums: dict[str, Future] | None = None,
    checked_tables: dict[str, Future] | None = None,
) -> Verification:
    """All checks at once: integrity_check, the longest, starts first in its own thread (in C,
    without the GIL); Postgres computes its checksums in its own process (already under way
    when `source_checksums` holds them: the run starts them while the copy runs), and this
    thread hashes the SQLite side, then runs the other checks. `checked_tables` holds the
    integrity checks of tables already started (see check_table_integrity)."""
    result = Verification()
    checked_tables = dict(checked_tables or {})
    with ThreadPoolExecutor(max_workers=2) as pool:
        integrity = pool.submit(_integrity_check, path, already=checked_tables)
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
            for table in LEGACY_TABLES:
                for check in table.copy_checks:
                    if keys := check.find(conn):
                        result.failed_copy_checks.append((check, keys))
        finally:
            conn.close()
        result.integrity, result.integrity_parts = integrity.result()
    return result


# integrity_check looks every row up in each of its table's indexes, in random order. With
# SQLite's default 2 MB page cache most look-ups become a read() of the file, and the check's
# time goes to the kernel. 88 MB holds nearly all of the post reads' indexes of a site the size
# of the benchmark's (86 MB of them) while leaving the process under its 200 MB budget.
INTEGRITY_CHECK_CACHE_KB = 88 * 1024
# The checks at the end may run while the big table's check still holds its cache: they get
# less (quick_check reads each page once anyway).
FINAL_CHECKS_CACHE_KB = 2 * 1024


def check_table_integrity(path: Path, db_table: str) -> "Future[list[str]]":
    """integrity_check(db_table) in a thread of its own (in C, without the GIL), on a connection
    of its own: started once the copy is done with that table, it runs while the rest loads."""
    future: Future = Future()

    def run() -> None:
        try:
            check = f"integrity_check({quote(db_table)})"
            future.set_result(_pragma(path, check, cache_kb=INTEGRITY_CHECK_CACHE_KB))
        except BaseException as error:  # handed to whoever waits on the result
            future.set_exception(error)

    threading.Thread(target=run, name=f"integrity-check-{db_table}", daemon=True).start()
    return future


def _integrity_check(path: Path, *, already: dict[str, Future]) -> tuple[list[str], int]:
    """(the problems found, or ["ok"]; how many tables were checked) for the whole file: the
    tables in `already` by their own checks, every other table here, then quick_check."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
    finally:
        conn.close()
    reports = [
        _pragma(path, f"integrity_check({quote(name)})") for name in tables if name not in already
    ]
    reports.append(_pragma(path, "quick_check"))
    reports += [already[name].result() for name in tables if name in already]
    problems = [line for report in reports for line in report if line != "ok"]
    return problems or ["ok"], len(tables)


def _pragma(path: Path, pragma: str, *, cache_kb: int = FINAL_CHECKS_CACHE_KB) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA cache_size = -{cache_kb}")
        return [row[0] for row in conn.execute(f"PRAGMA {pragma}")]
    finally:
        conn.close()


def _sqlite_checksum(path: Path, table: LegacyTable) -> tuple[int, str]:
    conn = sqlite3.connect(path)
    functions = table.checksum_functions(conn, path) if table.checksum_functions else nullcontext()
    try:
        with functions:
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
