"""Django's cache API (django.core.cache, per-view and fragment caching) on the cache file.

    CACHES = {"default": {"BACKEND": "cachedb.backend.SQLiteCache", "LOCATION": "cache",
                          "OPTIONS": {"MAX_ENTRIES": 50_000, "CULL_FREQUENCY": 3}}}

LOCATION names the database alias. Values go into their own table, `cache_backend_entry`, as
base64 pickles (Django's cache API promises any picklable value, which JSON cannot hold), with the
prefixed, versioned key Django makes. `cachified()` entries are JSON in `cache_entry` and are not
visible through this API, nor cleared by `cache.clear()`.

Semantics follow Django's documented cache contract: timeout None = forever, 0 = expire at once
(a set with timeout 0 stores nothing and deletes any existing value), `touch` changes the expiry,
`incr`/`decr` are atomic here and keep the expiry, and when MAX_ENTRIES is exceeded on a write,
expired rows go first, then 1/CULL_FREQUENCY of the rows, least recently written first
(CULL_FREQUENCY 0 clears the table).
"""

import base64
import pickle
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.db import transaction

from cachedb import faults, reporting
from cachedb.connection import ALIAS, raw_connection
from cachedb.models import BackendEntry

_SELECT_SQL = "SELECT value, expires_at FROM cache_backend_entry WHERE key = ?"
_UPSERT_SQL = (
    "INSERT INTO cache_backend_entry (key, value, created_at, expires_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, created_at = excluded.created_at, "
    "expires_at = excluded.expires_at"
)
# add(): replace only a row that has expired.
_ADD_SQL = _UPSERT_SQL + " WHERE cache_backend_entry.expires_at <= ?"
_TOUCH_SQL = (
    "UPDATE cache_backend_entry SET expires_at = ? "
    "WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)"
)
_DELETE_SQL = "DELETE FROM cache_backend_entry WHERE key = ?"
_HAS_KEY_SQL = (
    "SELECT 1 FROM cache_backend_entry WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)"
)
_COUNT_SQL = "SELECT COUNT(*) FROM cache_backend_entry"
# What incr() finds when the key is absent (None could be a stored value).
_MISSING = object()


class SQLiteCache(BaseCache):
    pickle_protocol = pickle.HIGHEST_PROTOCOL

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        # The database alias; the router decides it for the ORM, this names it for raw SQL.
        if location and location != ALIAS:
            raise ValueError(f"SQLiteCache LOCATION must be the cache database alias {ALIAS!r}.")

    # --- encoding -------------------------------------------------------------------------
    def _encode(self, value: Any) -> str:
        return base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("ascii")

    @staticmethod
    def _decode(text: str) -> Any:
        return pickle.loads(base64.b64decode(text.encode("ascii")))

    def _expiry(self, timeout: float | None, now: float) -> float | None:
        timeout = self.get_backend_timeout(timeout)
        return None if timeout is None else now + timeout

    def get_backend_timeout(self, timeout: float | None = DEFAULT_TIMEOUT) -> float | None:
        """Seconds from now (not an absolute time as in BaseCache); None = forever."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        elif timeout == 0:
            timeout = -1  # expire at once
        return None if timeout is None else float(timeout)

    def _timed(self, started: float) -> None:
        reporting.record("django", time.perf_counter() - started)

    # --- reads ----------------------------------------------------------------------------
    # Every database call below degrades (cachedb.faults): a cache file that fails reads as an
    # empty cache and skips writes, as Django's cache contract allows a cache to forget anything.
    def get(self, key: Any, default: Any | None = None, version: int | None = None) -> Any:
        started = time.perf_counter()
        row = self._select(self.make_and_validate_key(key, version=version))
        self._timed(started)
        if row is None or (row[1] is not None and row[1] <= time.time()):
            return default
        return self._decode(row[0])

    @staticmethod
    @faults.degrades_to(None, doing="read a cached value")
    def _select(key: str) -> tuple[str, float | None] | None:
        row: tuple[str, float | None] | None = (
            raw_connection().execute(_SELECT_SQL, (key,)).fetchone()
        )
        return row

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        started = time.perf_counter()
        made = {self.make_and_validate_key(key, version=version): key for key in keys}
        rows = self._select_many(list(made)) if made else []
        now = time.time()
        found = {
            made[key]: self._decode(value)
            for key, value, expires in rows
            if expires is None or expires > now
        }
        self._timed(started)
        return found

    @staticmethod
    @faults.degrades_to([], doing="read cached values")
    def _select_many(keys: list[str]) -> list[tuple[str, str, float | None]]:
        placeholders = ", ".join("?" * len(keys))
        sql = (
            f"SELECT key, value, expires_at FROM cache_backend_entry WHERE key IN ({placeholders})"
        )
        rows: list[tuple[str, str, float | None]] = raw_connection().execute(sql, keys).fetchall()
        return rows

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._has_key(self.make_and_validate_key(key, version=version))

    @staticmethod
    @faults.degrades_to(False, doing="look up a cached value")
    def _has_key(key: str) -> bool:
        return raw_connection().execute(_HAS_KEY_SQL, (key, time.time())).fetchone() is not None

    # --- writes ---------------------------------------------------------------------------
    def set(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> None:
        key = self.make_and_validate_key(key, version=version)
        self._store(key, self._encode(value), timeout, only_if_absent=False)

    def add(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return self._store(key, self._encode(value), timeout, only_if_absent=True)

    def set_many(
        self,
        data: dict[Any, Any],
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> list[Any]:
        # Made and pickled first: a bad key or an unpicklable value raises, storing nothing.
        texts = {
            self.make_and_validate_key(key, version=version): (key, self._encode(value))
            for key, value in data.items()
        }
        failed = self._store_many(texts, timeout)
        return [texts[key][0] for key in failed]

    @faults.degrades_to(None, doing="store values", writes=True)
    def _store_many_or_fail(
        self, texts: dict[str, tuple[Any, str]], timeout: float | None
    ) -> list[str]:
        with transaction.atomic(using=ALIAS):
            for key, (_, text) in texts.items():
                self._write_or_fail(key, text, timeout, only_if_absent=False)
        return []

    def _store_many(self, texts: dict[str, tuple[Any, str]], timeout: float | None) -> list[str]:
        """The made keys that were not stored: none, or all of them when the cache failed."""
        stored = self._store_many_or_fail(texts, timeout)
        return list(texts) if stored is None else stored

    def _store(self, key: str, text: str, timeout: float | None, *, only_if_absent: bool) -> bool:
        started = time.perf_counter()
        stored = self._write(key, text, timeout, only_if_absent=only_if_absent)
        self._timed(started)
        return bool(stored)

    def _write_or_fail(
        self, key: str, text: str, timeout: float | None, *, only_if_absent: bool
    ) -> bool:
        now = time.time()
        expiry = self._expiry(timeout, now)
        connection = raw_connection()
        if expiry is not None and expiry <= now:
            # Django's contract: a zero or negative timeout stores nothing; set() removes any
            # value, and add() succeeds (as in Django's own backends) unless a live one exists.
            if not only_if_absent:
                connection.execute(_DELETE_SQL, (key,))
                return False
            return connection.execute(_HAS_KEY_SQL, (key, now)).fetchone() is None
        with transaction.atomic(using=ALIAS):
            self._cull(connection, now)
            if only_if_absent:
                cursor = connection.execute(_ADD_SQL, (key, text, now, expiry, now))
            else:
                cursor = connection.execute(_UPSERT_SQL, (key, text, now, expiry))
        return cursor.rowcount == 1

    _write = faults.degrades_to(False, doing="store a value", writes=True)(_write_or_fail)

    @faults.degrades_to(False, doing="touch a cached value", writes=True)
    def touch(
        self, key: Any, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        key = self.make_and_validate_key(key, version=version)
        now = time.time()
        cursor = raw_connection().execute(_TOUCH_SQL, (self._expiry(timeout, now), key, now))
        return cursor.rowcount == 1

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        new_value = self._increment(key, delta)
        if new_value is _MISSING:
            raise ValueError(f"Key '{key}' not found")
        return new_value

    @faults.degrades_to(_MISSING, doing="increment a cached value", writes=True)
    def _increment(self, key: str, delta: int) -> Any:
        """The new value, or _MISSING (a cache that fails has forgotten the key)."""
        connection = raw_connection()
        # One transaction, so concurrent increments never lose one; the expiry is kept.
        with transaction.atomic(using=ALIAS):
            row = connection.execute(_SELECT_SQL, (key,)).fetchone()
            if row is None or (row[1] is not None and row[1] <= time.time()):
                return _MISSING
            new_value = self._decode(row[0]) + delta
            connection.execute(
                "UPDATE cache_backend_entry SET value = ? WHERE key = ?",
                (self._encode(new_value), key),
            )
        return new_value

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._delete(self.make_and_validate_key(key, version=version))

    @staticmethod
    @faults.degrades_to(False, doing="delete a cached value", writes=True)
    def _delete(key: str) -> bool:
        return raw_connection().execute(_DELETE_SQL, (key,)).rowcount == 1

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        made = [self.make_and_validate_key(key, version=version) for key in keys]
        if made:
            self._delete_many(made)

    @staticmethod
    @faults.degrades_to(None, doing="delete cached values", writes=True)
    def _delete_many(keys: list[str]) -> None:
        placeholders = ", ".join("?" * len(keys))
        raw_connection().execute(
            f"DELETE FROM cache_backend_entry WHERE key IN ({placeholders})", keys
        )

    @faults.degrades_to(None, doing="clear the cache", writes=True)
    def clear(self) -> None:
        raw_connection().execute("DELETE FROM cache_backend_entry")

    def _cull(self, connection: sqlite3.Connection, now: float) -> None:
        count = connection.execute(_COUNT_SQL).fetchone()[0]
        if count < self._max_entries:
            return
        BackendEntry.objects.purge_expired(now)
        count = connection.execute(_COUNT_SQL).fetchone()[0]
        if count < self._max_entries:
            return
        if self._cull_frequency == 0:
            connection.execute("DELETE FROM cache_backend_entry")
            return
        BackendEntry.objects.evict_least_recently_written(
            keep=count - count // self._cull_frequency
        )
