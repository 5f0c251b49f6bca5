"""Reading and writing `cachified()` entries: raw SQL on the kept-open cache connection.

The hot path is `read()`: one prepared SELECT. When the in-process tier (the process's
`decoded_entries`, a BoundedLRU of CACHEDB_MEMORY_ENTRIES) already holds a decoded copy, the SELECT
passes that copy's stamp and SQLite returns NULL instead of the value, so a hit on a hot key
neither transfers nor decodes the JSON; every read still asks the file, so the copy is never stale.

JSON is the storage format (readable with any SQLite tool, and safe to load). Only values that come
back exactly as they went in are accepted: dict with str keys, list, str, int, float (finite), bool,
None, nested freely. A tuple, a set, a non-str dict key, NaN or any other object raises
`CacheValueError` when the value is stored. str subclasses (such as Django's SafeString) come back
as plain str.
"""

import json
import math
import os
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from cachedb import faults
from cachedb.connection import raw_connection
from cachedb.errors import CacheValueError
from cachedb.lru import BoundedLRU
from cachedb.models import CacheEntry, CacheLease

_SELECT_SQL = (
    "SELECT stamp, created_at, ttl, swr, expires_at, "
    "CASE WHEN stamp = ? THEN NULL ELSE value END FROM cache_entry WHERE key = ?"
)
_UPSERT_SQL = (
    "INSERT INTO cache_entry (key, value, created_at, ttl, swr, expires_at, stamp) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
    "created_at = excluded.created_at, ttl = excluded.ttl, swr = excluded.swr, "
    "expires_at = excluded.expires_at, stamp = excluded.stamp"
)
_DELETE_SQL = "DELETE FROM cache_entry WHERE key = ?"

# Expired rows are purged, and the entry cap enforced, on one write in this many (per process),
# so a busy site keeps the file bounded without a cron job; `manage.py purge_cache` does it on
# demand.
PRUNE_EVERY_WRITES = 100


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    value: Any
    created_at: float
    ttl: float | None
    swr: float | None
    expires_at: float | None
    stamp: int

    def is_fresh(self, now: float) -> bool:
        return self.ttl is None or now < self.created_at + self.ttl

    def is_usable(self, now: float) -> bool:
        """Fresh, or stale but still within its swr window."""
        return self.expires_at is None or now < self.expires_at


def expires_at(*, created_at: float, ttl: float | None, swr: float | None) -> float | None:
    if ttl is None or swr is None:
        return None
    return created_at + ttl + swr


_decoded: BoundedLRU[str, Entry] | None = None
_writes = 0
_writes_lock = threading.Lock()


def _reset_in_child() -> None:
    """Locks held by parent threads at fork time would never be released in the child."""
    global _decoded, _writes_lock
    _decoded, _writes_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_reset_in_child)


def decoded_entries() -> BoundedLRU[str, Entry]:
    """The in-process tier: entries as last decoded here, checked against the file's stamp on
    every read. Values from it are shared: treat what `cachified()` returns as read-only."""
    global _decoded
    if _decoded is None:
        _decoded = BoundedLRU(settings.CACHEDB_MEMORY_ENTRIES)
    return _decoded


def reset_memory(max_entries: int | None = None) -> None:
    """Start a new in-process tier (tests; or after changing CACHEDB_MEMORY_ENTRIES)."""
    global _decoded
    _decoded = None if max_entries is None else BoundedLRU(max_entries)


@faults.degrades_to(None, doing="read a cached value")
def read(key: str) -> Entry | None:
    tier = decoded_entries()
    held = tier.get(key)
    row = raw_connection().execute(_SELECT_SQL, (held and held.stamp, key)).fetchone()
    if row is None:
        if held is not None:
            tier.discard(key)
        return None
    stamp, created_at, ttl, swr, expiry, text = row
    if text is None:
        return held
    entry = Entry(key, json.loads(text), created_at, ttl, swr, expiry, stamp)
    tier.put(key, entry)
    return entry


def encode(key: str, value: Any) -> str:
    """The JSON text for `value`, or CacheValueError if it would not come back unchanged."""
    _check_round_trip(key, value, "value")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _check_round_trip(key: str, value: Any, where: str) -> None:
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CacheValueError(f"Cannot cache {key!r}: {where} is {value!r}, not valid JSON.")
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_round_trip(key, item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for name, item in value.items():
            if not isinstance(name, str):
                raise CacheValueError(
                    f"Cannot cache {key!r}: {where} has the key {name!r}; JSON object keys must "
                    f"be str (it would come back as {str(name)!r})."
                )
            _check_round_trip(key, item, f"{where}[{name!r}]")
        return
    raise CacheValueError(
        f"Cannot cache {key!r}: {where} is a {type(value).__name__}; cached values must be dict "
        f"(str keys), list, str, int, float, bool or None."
    )


@faults.degrades_to(None, doing="store a value", writes=True)
def write(
    key: str, value: Any, text: str, *, ttl: float | None, swr: float | None, now: float
) -> Entry | None:
    expiry = expires_at(created_at=now, ttl=ttl, swr=swr)
    stamp = secrets.randbits(63)
    raw_connection().execute(_UPSERT_SQL, (key, text, now, ttl, swr, expiry, stamp))
    entry = Entry(key, value, now, ttl, swr, expiry, stamp)
    decoded_entries().put(key, entry)
    _count_write_and_maybe_prune(now)
    return entry


def delete(key: str) -> None:
    decoded_entries().discard(key)
    _delete_row(key)


@faults.degrades_to(None, doing="delete a value", writes=True)
def _delete_row(key: str) -> None:
    raw_connection().execute(_DELETE_SQL, (key,))


def _count_write_and_maybe_prune(now: float) -> None:
    global _writes
    with _writes_lock:
        _writes += 1
        due = _writes % PRUNE_EVERY_WRITES == 0
    if due:
        prune(now=now)


def prune(*, now: float) -> tuple[int, int]:
    """Purge expired entries and leases, then evict down to the cap; (purged, evicted)."""
    purged = CacheEntry.objects.purge_expired(now)
    CacheLease.objects.purge_expired(now)
    evicted = CacheEntry.objects.evict_least_recently_written(keep=settings.CACHEDB_MAX_ENTRIES)
    return purged, evicted
