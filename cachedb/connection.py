"""The raw sqlite3 connection every cache read and write goes through.

It is Django's own connection for the `cache` alias (per thread, persistent because CONN_MAX_AGE is
None), unwrapped: Django opens it lazily with the project's PRAGMAs, test runs point it at the test
file, and a test's transaction covers our writes too. Keeping a reference per thread skips Django's
connection lookup on the hot path; Python's sqlite3 keeps each SQL string prepared per connection.

Nothing here runs at import time, because gunicorn may fork after importing. A child process
forgets connections inherited from its parent (SQLite handles must not cross a fork) and opens its
own on first use.
"""

import os
import sqlite3
import threading

from django.db import connections

ALIAS = "cache"

_local = threading.local()
_fork_generation = 0
# Handles inherited across a fork are kept referenced, never used or closed: closing one in the
# child could disturb the parent's WAL state.
_inherited: list[sqlite3.Connection] = []


def _after_fork_in_child() -> None:
    global _fork_generation
    _fork_generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


def raw_connection() -> sqlite3.Connection:
    """This thread's sqlite3 connection to the cache file, opened on first use."""
    wrapper = getattr(_local, "wrapper", None)
    if wrapper is None or _local.generation != _fork_generation:
        wrapper = _adopt_wrapper()
    connection = wrapper.connection
    if connection is None:
        wrapper.ensure_connection()
        connection = wrapper.connection
    return connection


def _adopt_wrapper():
    wrapper = connections[ALIAS]
    pid = os.getpid()
    if wrapper.connection is not None and getattr(wrapper, "_cachedb_pid", pid) != pid:
        _inherited.append(wrapper.connection)
        wrapper.connection = None
    wrapper._cachedb_pid = pid
    _local.wrapper = wrapper
    _local.generation = _fork_generation
    return wrapper


def forget_thread_connection() -> None:
    """Drop this thread's remembered wrapper (used when a thread borrows another's connection)."""
    _local.__dict__.clear()
