"""The cache's work as metrics: every cachified() event by kind, and every fault of the cache
file by kind (the log says each kind once a minute; the counter counts them all)."""

import logging
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connections

from cachedb import faults
from cachedb.cachified import cachified
from testing.metrics import sample

# Committed: the background refresh runs on its own thread and connection.
pytestmark = pytest.mark.django_db(transaction=True)


def events(event: str) -> float:
    return sample("litesite_cache_events_total", event=event)


def degraded(fault: str) -> float:
    return sample("litesite_cache_degraded_total", fault=fault)


def test_a_miss_and_then_a_hit_are_counted():
    before = {"miss": events("miss"), "hit": events("hit")}
    assert cachified(key="k", get_fresh_value=lambda: {"n": 1}, ttl=60) == {"n": 1}
    assert cachified(key="k", get_fresh_value=lambda: {"n": 2}, ttl=60) == {"n": 1}
    assert events("miss") == before["miss"] + 1
    assert events("hit") == before["hit"] + 1


def test_hits_are_counted_even_where_the_log_leaves_them_out(caplog):
    caplog.set_level(logging.WARNING, logger="cachedb")  # production: hits are DEBUG records
    cachified(key="k", get_fresh_value=lambda: "v", ttl=60)
    before = events("hit")
    for _ in range(3):
        cachified(key="k", get_fresh_value=lambda: "other", ttl=60)
    assert events("hit") == before + 3


def test_a_stale_value_served_and_its_background_refresh_are_counted(cache_events):
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False) as clock:
        cachified(key="k", get_fresh_value=lambda: "v1", ttl=60, swr=300)
        clock.shift(61)
        before = {name: events(name) for name in ("stale", "refresh_started", "refresh_succeeded")}
        assert cachified(key="k", get_fresh_value=lambda: "v2", ttl=60, swr=300) == "v1"
        cache_events.wait_for("refresh_succeeded")
    assert {name: events(name) - count for name, count in before.items()} == {
        "stale": 1,
        "refresh_started": 1,
        "refresh_succeeded": 1,
    }


@pytest.fixture
def cache_write_lock(own_cache_file):
    """Another process holds the cache file's write lock until the test ends."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"c = sqlite3.connect({str(own_cache_file)!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    yield
    holder.stdin.close()
    holder.wait(timeout=30)


def test_every_fault_is_counted_though_the_log_reports_one_a_minute(
    own_cache_file, cache_write_lock, caplog, monkeypatch
):
    caplog.set_level(logging.WARNING, logger="cachedb")
    monkeypatch.setattr(faults, "PAUSE_WRITES_FOR", 0.0)  # every write meets the lock
    before = degraded("busy")
    for n in range(3):
        assert cachified(key=f"k{n}", get_fresh_value=lambda: {"n": 1}) == {"n": 1}
    logged = [r for r in caplog.records if getattr(r, "cache_event", None) == "degraded"]
    assert len(logged) == 1
    assert degraded("busy") - before == faults.recent_faults()["busy"]["count"] >= 3


def test_a_cache_file_that_lost_its_tables_is_counted_as_no_schema(own_cache_file):
    connections["cache"].close()
    for suffix in ("", "-wal", "-shm"):
        own_cache_file.with_name(own_cache_file.name + suffix).unlink(missing_ok=True)
    before = degraded("no_schema")
    assert cachified(key="k", get_fresh_value=lambda: {"n": 1}) == {"n": 1}
    assert degraded("no_schema") >= before + 1
