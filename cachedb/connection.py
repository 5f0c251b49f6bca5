"""The raw sqlite3 connection every cache read and write goes through.

It is Django's own connection for the `cache` alias (per thread, persistent because CONN_MAX_AGE is
None), unwrapped: Django opens it lazily with the project's PRAGMAs, test runs point it at the test
file, and a test's transaction covers our writes too. Python's sqlite3 keeps each SQL string
prepared per connection, so a hit is one lookup and one prepared SELECT.

Nothing here runs at import time, because gunicorn may fork after importing. A child process
forgets connections inherited from its parent (SQLite handles must not cross a fork) and opens its
own on first use.
"""

import os
import sqlite3

from django.db import connections

ALIAS = "cache"

_fork_generation = 0
# Handles inherited across a fork are kept referenced, never used or closed: closing one in the
# child could disturb the parent's WAL state.
_inherited: list[sqlite3.Connection] = []


def _after_fork_in_child() -> None:
    global _fork_generation
    _fork_generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


def raw_connection() -> sqlite3.Connection:
    """This thread's sqlite3 connection to the cache file, opened on first use.

    The wrapper is looked up in Django's handler on every call rather than remembered per
    thread: when an event loop runs in the thread (Playwright's sync API, an ASGI server),
    Django keeps connections per context, and a remembered wrapper would be another
    context's connection, outside that context's transactions.
    """
    wrapper = connections[ALIAS]
    inherited = getattr(wrapper, "_cachedb_generation", _fork_generation) != _fork_generation
    if inherited and wrapper.connection is not None:
        _inherited.append(wrapper.connection)
        wrapper.connection = None
    # A mark of our own on Django's wrapper, which Django's types do not know.
    wrapper._cachedb_generation = _fork_generation  # type: ignore[attr-defined]
    if wrapper.connection is None:
        wrapper.ensure_connection()
    connection: sqlite3.Connection = wrapper.connection
    return connection
