"""When the cache file fails: carry on without it, heal it, and say so once.

The cache database is disposable: every value in it can be computed again from the site database
and the content. So an SQLite error on it must never reach a visitor. Every read and write of the
cache goes through `tolerate()`, which on failure:

- answers the caller's default (a read finds nothing, so the value is computed fresh; a write is
  skipped, never retried inside the request);
- heals what it can, at most once per `HEAL_INTERVAL` per process: a connection that went bad
  (read-only, I/O error) is closed and reopened on next use; a file without its tables (deleted
  and recreated empty, say) gets its schema from the app's own migrations; a corrupt file is
  moved aside and recreated;
- logs one WARNING per kind of fault per `LOG_INTERVAL` with the number of failures since the
  last one, not one per request;
- remembers the last fault of each kind, which `/healthcheck` reports.

A busy cache (another writer holding the lock past the short busy timeout) or a full disk heals
by itself: the write is skipped and nothing else is done.
"""

import fcntl
import functools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import django.db
from django.core.management import call_command
from django.db import connections

from litesite import metrics

ALIAS = "cache"
LOG_INTERVAL = 60.0
HEAL_INTERVAL = 1.0
# Faults older than this no longer make the cache "degraded" in the health check.
DEGRADED_FOR = 60.0
# The tables a working cache file has (cachedb's models); the health check looks for each.
TABLES = ("cache_entry", "cache_backend_entry", "cache_lease")

BUSY = "busy"
FULL = "full"
READONLY = "readonly"
NO_SCHEMA = "no_schema"
CORRUPT = "corrupt"
BROKEN = "broken"

ERRORS = (sqlite3.Error, django.db.Error)

logger = logging.getLogger("cachedb")
T = TypeVar("T")
D = TypeVar("D")
P = ParamSpec("P")


@dataclass
class FaultRecord:
    kind: str
    error: str
    at: float
    count: int = 0
    logged_at: float = 0.0
    suppressed: int = 0


_records: dict[str, FaultRecord] = {}
_healed_at: dict[str, float] = {}
_lock = threading.Lock()
_writes_paused_until = 0.0
# After a fault that the next write would meet again, writes are skipped for this long.
PAUSE_WRITES_FOR = 1.0


def _reset_in_child() -> None:
    global _lock, _writes_paused_until
    _records.clear()
    _healed_at.clear()
    _lock = threading.Lock()
    _writes_paused_until = 0.0


os.register_at_fork(after_in_child=_reset_in_child)


def classify(error: BaseException) -> str:
    """The kind of fault an SQLite error on the cache file means."""
    cause = error.__cause__ if isinstance(error, django.db.Error) else error
    code = getattr(cause, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    message = str(error).lower()
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "is locked" in message:
        return BUSY
    if primary == sqlite3.SQLITE_FULL or "disk is full" in message:
        return FULL
    if primary == sqlite3.SQLITE_READONLY or "readonly database" in message:
        return READONLY
    if "no such table" in message or "no such column" in message:
        return NO_SCHEMA
    if primary in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT) or (
        "not a database" in message or "malformed" in message
    ):
        return CORRUPT
    return BROKEN


def degrades_to(
    default: D, *, doing: str, writes: bool = False
) -> Callable[[Callable[P, T]], Callable[P, T | D]]:
    """Decorate a cache operation: on an SQLite error it is noted, healed and `default` returned.

    A write (`writes=True`) is not even tried for a moment after a busy, full or read-only
    fault: each try would wait out the busy timeout again, inside a visitor's request.
    """

    def decorate(function: Callable[P, T]) -> Callable[P, T | D]:
        @functools.wraps(function)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> T | D:
            if writes and time.monotonic() < _writes_paused_until:
                return default
            try:
                return function(*args, **kwargs)
            except ERRORS as error:
                note(doing, error)
                return default

        return guarded

    return decorate


def note(operation: str, error: BaseException) -> str:
    """Record, log (rate-limited) and heal a fault; returns its kind."""
    global _writes_paused_until
    kind = classify(error)
    metrics.cache_degraded(fault=kind)  # every fault; the log below says one a minute
    now = time.monotonic()
    with _lock:
        if kind in (BUSY, FULL, READONLY):
            _writes_paused_until = now + PAUSE_WRITES_FOR
        record = _records.get(kind)
        if record is None:
            record = _records[kind] = FaultRecord(kind=kind, error="", at=now)
        record.error, record.at = f"{type(error).__name__}: {error}", now
        record.count += 1
        due = now - record.logged_at >= LOG_INTERVAL or record.logged_at == 0.0
        if due:
            suppressed, record.suppressed, record.logged_at = record.suppressed, 0, now
        else:
            record.suppressed += 1
    if due:
        logger.warning(
            "Cache database %s: could not %s (%s); serving without the cache%s",
            kind,
            operation,
            error,
            f" ({suppressed} more like it since the last report)" if suppressed else "",
            extra={"cache_event": "degraded", "cache_key": operation, "fault": kind},
        )
    heal(kind)
    return kind


def heal(kind: str) -> None:
    """Repair what a fault of `kind` says is wrong, at most once per HEAL_INTERVAL."""
    if kind in (BUSY, FULL):
        return  # passes by itself; the write was skipped
    now = time.monotonic()
    with _lock:
        if now - _healed_at.get(kind, -HEAL_INTERVAL) < HEAL_INTERVAL:
            return
        _healed_at[kind] = now
    if not drop_connection():
        return  # inside a transaction (tests): leave the connection to its owner
    try:
        if kind == NO_SCHEMA:
            create_schema()
        elif kind == CORRUPT:
            replace_if_corrupt()
    except Exception as error:  # healing is best effort; the next fault tries again
        logger.warning("Cache database: could not heal a %s fault: %s", kind, error)


def drop_connection() -> bool:
    """Close this thread's cache connection; the next use opens the file afresh."""
    wrapper = connections[ALIAS]
    if wrapper.in_atomic_block:
        return False
    try:
        wrapper.close()
    except ERRORS:
        wrapper.connection = None
    return True


def database_path() -> Path:
    return Path(connections[ALIAS].settings_dict["NAME"])


@contextmanager
def _healing_lock() -> Iterator[None]:
    """One process of the machine heals the file at a time (the others find it healed)."""
    path = database_path()
    with open(path.with_name(path.name + ".heal-lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def create_schema() -> None:
    """Give the cache file its tables, from cachedb's own migrations (idempotent)."""
    with _healing_lock():
        call_command("migrate", database=ALIAS, interactive=False, verbosity=0)
        drop_connection()
    logger.warning("Cache database: created its tables in %s", database_path())


def replace_if_corrupt() -> None:
    """Move a corrupt cache file aside (kept for a post-mortem) and start a new one.

    Checked on a fresh connection first: a process still holding the old file sees it corrupt
    while another process has already put a new one in its place.
    """
    path = database_path()
    with _healing_lock():
        if not _is_corrupt(path):
            return
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            side = Path(f"{path}{suffix}")
            if side.exists():
                side.rename(f"{aside}{suffix}")
        logger.warning("Cache database: %s was corrupt; moved it to %s", path, aside)
        call_command("migrate", database=ALIAS, interactive=False, verbosity=0)
        drop_connection()


def _is_corrupt(path: Path) -> bool:
    try:
        probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1)
    except sqlite3.Error:
        return False  # missing: migrate creates it on the next fault
    try:
        probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return False
    except sqlite3.DatabaseError as error:
        return classify(error) == CORRUPT
    finally:
        probe.close()


def check_schema() -> str:
    """ "ok", or what is wrong with the cache file: missing tables, or the error reading it.

    Heals what it finds (the health check is often the first to look at a fresh machine).
    """
    try:
        with connections[ALIAS].cursor() as cursor:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (%s, %s, %s)",
                list(TABLES),
            )
            present = {name for (name,) in cursor.fetchall()}
            missing = [table for table in TABLES if table not in present]
            if not missing:
                cursor.execute("SELECT 1 FROM cache_entry LIMIT 1")
                cursor.fetchall()
    except ERRORS as error:
        note("answer the health check", error)
        return f"{type(error).__name__}: {error}"
    if missing:
        note("answer the health check", sqlite3.OperationalError(f"no such table: {missing[0]}"))
        return "missing tables: " + ", ".join(missing)
    return "ok"


def recent_faults(*, within: float = DEGRADED_FOR) -> dict[str, dict[str, Any]]:
    """This process's faults of the last `within` seconds, by kind."""
    now = time.monotonic()
    with _lock:
        return {
            record.kind: {
                "error": record.error,
                "seconds_ago": round(now - record.at, 1),
                "count": record.count,
            }
            for record in _records.values()
            if now - record.at < within
        }


def forget() -> None:
    """Forget recorded faults, heal times and paused writes (tests)."""
    global _writes_paused_until
    with _lock:
        _writes_paused_until = 0.0
        _records.clear()
        _healed_at.clear()
