"""The cache file fails for real, and cachified() and the cache backend carry on without it.

Each test breaks a real SQLite file the way a machine breaks it: deleted, overwritten with
garbage, made read-only under a running worker, or write-locked by another process.
"""

import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connections

from cachedb import faults
from cachedb.cachified import cachified
from cachedb.models import CacheEntry

pytestmark = pytest.mark.django_db(transaction=True)
WORKER = Path(__file__).with_name("cache_worker.py")
UNPRIVILEGED = [
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
]


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as probe:
        return {name for (name,) in probe.execute("SELECT name FROM sqlite_master")}


def remove_with_side_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def test_a_deleted_cache_file_is_recreated_with_its_tables(own_cache_file):
    connections["cache"].close()  # a worker restarted after the file went
    remove_with_side_files(own_cache_file)
    value = cachified(key="k", get_fresh_value=lambda: {"n": 1})
    assert value == {"n": 1}
    assert {"cache_entry", "cache_lease", "cache_backend_entry"} <= tables(own_cache_file)
    assert "no_schema" in faults.recent_faults()
    assert cachified(key="k", get_fresh_value=lambda: {"n": 2}) == {"n": 1}  # cached again


def test_a_cache_file_full_of_garbage_is_moved_aside_and_replaced(own_cache_file):
    connections["cache"].close()
    remove_with_side_files(own_cache_file)
    own_cache_file.write_bytes(b"not a database at all " * 500)
    assert cachified(key="k", get_fresh_value=lambda: {"n": 1}) == {"n": 1}
    kept = list(own_cache_file.parent.glob("cache.sqlite3.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"not a database")
    assert "cache_entry" in tables(own_cache_file)
    assert cachified(key="k", get_fresh_value=lambda: {"n": 2}) == {"n": 1}  # cached again


def test_a_worker_whose_connection_opened_read_only_writes_again_once_the_file_is_writable(
    own_cache_file,
):
    connections["cache"].close()
    own_cache_file.chmod(0o444)
    # A long-lived worker process without root's right to ignore file modes, as on a server.
    worker = subprocess.Popen(
        [*UNPRIVILEGED, sys.executable, str(WORKER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "CACHE_DATABASE_URL": f"sqlite:///{own_cache_file}"},
    )

    def ask(command: str):
        worker.stdin.write(command + "\n")
        worker.stdin.flush()
        return json.loads(worker.stdout.readline())

    try:
        refused = ask("get first")
        assert refused == {"value": {"computed": "first"}, "stored": False}
        for file in own_cache_file.parent.glob("cache.sqlite3*"):
            file.chmod(0o644)  # the operator restores the modes (SQLite gave -shm the file's)
        # The write that meets the read-only connection is skipped, and the connection dropped...
        assert ask("get second")["value"] == {"computed": "second"}
        assert "readonly" in ask("faults")
        # ...so that, once the pause after a refused write is over, writes land again.
        deadline = time.monotonic() + 15
        while not ask("get later")["stored"]:
            assert time.monotonic() < deadline, "the worker never wrote to the cache again"
    finally:
        worker.stdin.close()
        worker.wait(timeout=30)


@pytest.fixture
def cache_write_lock(own_cache_file, lock_held_elsewhere):
    """Another process holds the cache file's write lock until the test ends."""
    lock_held_elsewhere(own_cache_file)


def test_while_another_process_holds_the_write_lock_values_are_computed_and_not_stored(
    own_cache_file, cache_write_lock
):
    assert cachified(key="k", get_fresh_value=lambda: {"n": 1}) == {"n": 1}
    assert cachified(key="k", get_fresh_value=lambda: {"n": 2}) == {"n": 2}
    assert "busy" in faults.recent_faults()
    assert not CacheEntry.objects.filter(key="k").exists()


def test_the_django_cache_api_reads_as_empty_and_skips_writes_while_the_file_is_locked(
    own_cache_file, cache_write_lock
):
    cache.set("k", "v")
    assert cache.get("k", "default") == "default"
    assert cache.add("k", "v") is False
    assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
    with pytest.raises(ValueError):
        cache.incr("k")


def test_the_django_cache_api_reads_as_empty_when_the_file_is_garbage(own_cache_file):
    cache.set("k", "v")
    connections["cache"].close()
    remove_with_side_files(own_cache_file)
    own_cache_file.write_bytes(b"garbage " * 1000)
    assert cache.get("k") is None
    assert cache.get_many(["k"]) == {}
    assert cache.has_key("k") is False
    cache.set("k", "again")  # the file was replaced by the read's fault
    assert cache.get("k") == "again"


def test_a_fault_is_logged_once_per_kind_per_interval_with_a_count(
    own_cache_file, cache_write_lock, caplog, monkeypatch
):
    caplog.set_level(logging.WARNING, logger="cachedb")
    monkeypatch.setattr(faults, "PAUSE_WRITES_FOR", 0.0)  # every write meets the lock
    for n in range(3):
        cachified(key=f"k{n}", get_fresh_value=lambda: {"n": 1})
    degraded = [r for r in caplog.records if getattr(r, "cache_event", None) == "degraded"]
    assert len(degraded) == 1
    assert faults.recent_faults()["busy"]["count"] > 1
