"""Cross-process single flight: a lease row per key being fetched on this machine.

A row in `cache_lease` says "process P is fetching this key until time T". Taking it is one
atomic upsert that succeeds only if there is no row or the row has expired, so a fetch that hangs
blocks other processes for at most its timeout. Rows live in the cache file, which every process of
the machine shares and which is never replicated, so "one fetch per key" holds per machine.
"""

import os
import secrets
import threading

from cachedb import faults
from cachedb.connection import raw_connection

_ACQUIRE_SQL = (
    "INSERT INTO cache_lease (key, owner, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
    "WHERE cache_lease.expires_at <= ?"
)
_RELEASE_SQL = "DELETE FROM cache_lease WHERE key = ? AND owner = ?"


def new_owner() -> str:
    return f"{os.getpid()}:{threading.get_ident()}:{secrets.token_hex(4)}"


# A cache that cannot hold leases cannot coordinate processes either: each fetches for itself.
@faults.degrades_to(True, doing="take a fetch lease", writes=True)
def try_acquire(key: str, *, owner: str, seconds: float, now: float) -> bool:
    cursor = raw_connection().execute(_ACQUIRE_SQL, (key, owner, now + seconds, now))
    return cursor.rowcount == 1


@faults.degrades_to(None, doing="release a fetch lease", writes=True)
def release(key: str, *, owner: str) -> None:
    raw_connection().execute(_RELEASE_SQL, (key, owner))
