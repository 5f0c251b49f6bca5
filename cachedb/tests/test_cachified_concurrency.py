"""cachified() under concurrency: real threads, real processes, fetches that hang or recurse.

These tests commit (transaction=True): fetch threads, refresh threads and other processes use their
own connections to the cache file, so they must see each other's writes.
"""

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.db import connections

from cachedb import store
from cachedb.cachified import cachified
from cachedb.errors import CacheFetchTimeout, CacheRecursionError
from cachedb.models import CacheEntry, CacheLease

pytestmark = pytest.mark.django_db(transaction=True)
RACE_SCRIPT = Path(__file__).with_name("race_fetch.py")


class GatedFetch:
    """Counts its calls and returns {"n": call}, but only once the gate opens."""

    def __init__(self, gate, *, fail=False):
        self.gate = gate
        self.fail = fail
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            self.calls += 1
            call = self.calls
        self.gate.wait()
        if self.fail:
            raise ConnectionError("upstream is down")
        return {"n": call}


def wait_until(condition, within=10.0):
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def in_threads(count, call):
    """Run `call` on `count` threads; each thread's own DB connections are closed after."""

    def run():
        try:
            return call()
        except Exception as error:
            return error
        finally:
            connections.close_all()

    pool = ThreadPoolExecutor(max_workers=count)
    return pool, [pool.submit(run) for _ in range(count)]


def test_threads_asking_for_one_missing_key_share_one_fetch(gate, cache_events):
    fetch = GatedFetch(gate)
    pool, futures = in_threads(8, lambda: cachified(key="k", get_fresh_value=fetch, timeout=20))
    cache_events.wait_for("wait", count=7)  # every other thread is waiting on the one fetch
    gate.set()
    assert [future.result() for future in futures] == [{"n": 1}] * 8
    pool.shutdown()
    assert fetch.calls == 1


def test_two_processes_racing_for_one_key_fetch_it_once(tmp_path):
    fetch_log, gate_file = tmp_path / "fetches.log", tmp_path / "gate"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{connections['default'].settings_dict['NAME']}",
        "CACHE_DATABASE_URL": f"sqlite:///{connections['cache'].settings_dict['NAME']}",
    }
    outputs = [tmp_path / f"process-{n}.out" for n in (1, 2)]
    processes = [
        subprocess.Popen(
            [sys.executable, str(RACE_SCRIPT), "race", str(fetch_log), str(gate_file)],
            stdout=output.open("w"),
            stderr=subprocess.STDOUT,
            env=env,
        )
        for output in outputs
    ]
    try:
        # One process fetches; the other must be seen waiting for it before the fetch may end.
        wait_until(lambda: fetch_log.exists(), within=30)
        wait_until(lambda: any("wait race" in out.read_text() for out in outputs), within=30)
        gate_file.touch()
        assert [process.wait(timeout=30) for process in processes] == [0, 0]
    finally:
        gate_file.touch()
        for process in processes:
            if process.poll() is None:
                process.kill()
    fetchers = fetch_log.read_text().split()
    assert len(fetchers) == 1
    values = [
        json.loads(line.removeprefix("value "))
        for out in outputs
        for line in out.read_text().splitlines()
        if line.startswith("value ")
    ]
    assert values == [{"fetched_by": int(fetchers[0])}] * 2
    assert not CacheLease.objects.exists()


def test_a_fetch_that_never_returns_times_out_in_every_waiter(gate, cache_events):
    fetch = GatedFetch(gate)  # the gate stays closed: this fetch never returns
    started = time.monotonic()
    pool, futures = in_threads(4, lambda: cachified(key="dead", get_fresh_value=fetch, timeout=0.3))
    errors = [future.result() for future in futures]
    pool.shutdown()
    assert all(isinstance(error, CacheFetchTimeout) for error in errors), errors
    assert "took longer than 0.3 s" in str(errors[0])
    assert fetch.calls == 1
    assert time.monotonic() - started < 20  # bounded, not hung (the real bound is 0.3 s)
    assert len(cache_events.named("timeout")) == 4


def test_after_a_timeout_later_callers_are_not_blocked_by_the_stuck_fetch(gate, cache_events):
    stuck = GatedFetch(gate)
    with pytest.raises(CacheFetchTimeout):
        cachified(key="dead", get_fresh_value=stuck, timeout=0.2)
    assert cachified(key="dead", get_fresh_value=lambda: "recovered", timeout=5) == "recovered"
    gate.set()  # the stuck fetch finally returns; its late result must not overwrite
    cache_events.wait_for("late_result_discarded")
    assert cachified(key="dead", get_fresh_value=lambda: "unused") == "recovered"


def test_a_timed_out_forced_refresh_falls_back_to_the_cached_value(gate, cache_events):
    cachified(key="k", get_fresh_value=lambda: "cached")
    value = cachified(key="k", get_fresh_value=GatedFetch(gate), force_fresh=True, timeout=0.2)
    assert value == "cached"
    assert cache_events.named("fallback") == ["k"]


def test_a_fetch_that_asks_for_its_own_key_fails_at_once_naming_the_chain(cache_events):
    def outer():
        return cachified(key="b", get_fresh_value=inner, timeout=30)

    def inner():
        return cachified(key="a", get_fresh_value=outer, timeout=30)

    started = time.monotonic()
    with pytest.raises(CacheRecursionError) as raised:
        cachified(key="a", get_fresh_value=outer, timeout=30)
    assert "'a' -> 'b' -> 'a'" in str(raised.value)
    assert raised.value.chain == ("a", "b", "a")
    assert time.monotonic() - started < 5  # immediately, not after the 30 s timeout
    assert cache_events.named("recursion") == ["a"]
    assert not CacheEntry.objects.exists()


def test_a_fetch_that_asks_for_its_own_key_directly_fails_even_with_fallback():
    cachified(key="a", get_fresh_value=lambda: "cached")

    def selfish():
        return cachified(key="a", get_fresh_value=selfish)

    with pytest.raises(CacheRecursionError, match="'a' -> 'a'"):
        cachified(key="a", get_fresh_value=selfish, force_fresh=True)


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False) as traveller:
        yield traveller


def test_a_stale_value_is_served_at_once_and_refreshed_in_the_background(clock, cache_events):
    values = iter(["v1", "v2"])
    fetch = lambda: next(values)  # noqa: E731
    assert cachified(key="k", get_fresh_value=fetch, ttl=60, swr=300) == "v1"
    clock.shift(61)
    assert cachified(key="k", get_fresh_value=fetch, ttl=60, swr=300) == "v1"
    cache_events.wait_for("refresh_succeeded")
    assert cachified(key="k", get_fresh_value=fetch, ttl=60, swr=300) == "v2"
    assert cache_events.named("stale") == ["k"]
    assert cache_events.named("refresh_started") == ["k"]


def test_only_one_background_refresh_runs_per_key(clock, gate, cache_events):
    cachified(key="k", get_fresh_value=lambda: "v1", ttl=60, swr=300)
    clock.shift(61)
    refresh = GatedFetch(gate)
    for _ in range(5):
        assert cachified(key="k", get_fresh_value=refresh, ttl=60, swr=300) == "v1"
    gate.set()
    cache_events.wait_for("refresh_succeeded")
    assert refresh.calls == 1
    assert cache_events.named("refresh_started") == ["k"]


def test_a_failed_background_refresh_is_logged_and_the_stale_value_kept(clock, gate, cache_events):
    cachified(key="k", get_fresh_value=lambda: "v1", ttl=60, swr=300)
    clock.shift(61)
    gate.set()
    broken = GatedFetch(gate, fail=True)
    assert cachified(key="k", get_fresh_value=broken, ttl=60, swr=300) == "v1"
    cache_events.wait_for("refresh_failed")
    assert cachified(key="k", get_fresh_value=broken, ttl=60, swr=300) == "v1"
    assert CacheEntry.objects.get(key="k").value == '"v1"'


def test_a_background_refresh_that_hangs_does_not_block_the_next_one(clock, gate, cache_events):
    cachified(key="k", get_fresh_value=lambda: "v1", ttl=60, swr=300)
    clock.shift(61)
    hung = GatedFetch(gate)
    assert cachified(key="k", get_fresh_value=hung, ttl=60, swr=300, timeout=0.2) == "v1"
    cache_events.wait_for("refresh_failed")  # its timeout
    clock.shift(1)  # past the hung refresh's lease, still within swr
    cachified(key="k", get_fresh_value=lambda: "v2", ttl=60, swr=300)
    cache_events.wait_for("refresh_succeeded")
    assert CacheEntry.objects.get(key="k").value == '"v2"'


def lease_held_by_another_process(key, *, for_seconds):
    CacheLease.objects.create(key=key, owner="99999:1:other", expires_at=time.time() + for_seconds)


def test_a_caller_waits_for_the_value_another_process_is_fetching(cache_events):
    lease_held_by_another_process("k", for_seconds=60)
    fetch_here = GatedFetch(threading.Event())
    pool, futures = in_threads(1, lambda: cachified(key="k", get_fresh_value=fetch_here))
    cache_events.wait_for("wait")
    # What the other process does when its fetch ends: write the value, release the lease.
    store.write("k", "theirs", store.encode("k", "theirs"), ttl=300, swr=0, now=time.time())
    CacheLease.objects.filter(key="k").delete()
    assert futures[0].result() == "theirs"
    pool.shutdown()
    assert fetch_here.calls == 0


def test_a_caller_waiting_on_another_process_times_out_clearly():
    lease_held_by_another_process("k", for_seconds=60)
    with pytest.raises(CacheFetchTimeout, match="'k' took longer than 0.2 s"):
        cachified(key="k", get_fresh_value=lambda: "mine", timeout=0.2)


def test_a_lease_left_by_a_crashed_process_stops_blocking_when_it_expires():
    lease_held_by_another_process("k", for_seconds=0.2)
    assert cachified(key="k", get_fresh_value=lambda: "mine", timeout=10) == "mine"
    assert not CacheLease.objects.exists()


def test_a_stale_value_is_served_and_the_refresh_left_to_the_process_holding_the_lease(
    clock, cache_events
):
    cachified(key="k", get_fresh_value=lambda: "v1", ttl=60, swr=300)
    clock.shift(61)
    lease_held_by_another_process("k", for_seconds=60)
    refresh_here = GatedFetch(threading.Event())
    assert cachified(key="k", get_fresh_value=refresh_here, ttl=60, swr=300) == "v1"
    cache_events.wait_for("refresh_skipped")
    assert cachified(key="k", get_fresh_value=refresh_here, ttl=60, swr=300) == "v1"
    assert refresh_here.calls == 0
    assert cache_events.named("refresh_started") == ["k"]  # not retried at once
