"""cachified(): ttl, swr, check_value, force_fresh and what can be stored — with frozen time."""

import re
import threading
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.models import Group

from cachedb import store
from cachedb.cachified import cachified, delete
from cachedb.errors import CacheValueError
from cachedb.models import CacheEntry

START = datetime(2026, 1, 1, tzinfo=UTC)
pytestmark = pytest.mark.django_db


class Counter:
    """A get_fresh_value that returns {"n": 1}, {"n": 2}, ... and counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"n": self.calls}


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_a_fresh_value_is_served_from_the_cache_without_fetching(clock, cache_events):
    fetch = Counter()
    assert cachified(key="k", get_fresh_value=fetch, ttl=60) == {"n": 1}
    clock.shift(59)
    assert cachified(key="k", get_fresh_value=fetch, ttl=60) == {"n": 1}
    assert fetch.calls == 1
    assert cache_events.refresh() == [("miss", "k"), ("hit", "k")]


def test_an_expired_value_is_fetched_again(clock):
    fetch = Counter()
    cachified(key="k", get_fresh_value=fetch, ttl=60)
    clock.shift(60)
    assert cachified(key="k", get_fresh_value=fetch, ttl=60) == {"n": 2}


def test_ttl_none_keeps_a_value_forever(clock):
    fetch = Counter()
    cachified(key="k", get_fresh_value=fetch, ttl=None)
    clock.shift(10 * 365 * 24 * 3600)
    assert cachified(key="k", get_fresh_value=fetch, ttl=None) == {"n": 1}
    assert CacheEntry.objects.get(key="k").expires_at is None


def test_ttl_zero_stores_the_value_but_refreshes_it_on_next_use(clock):
    fetch = Counter()
    assert cachified(key="k", get_fresh_value=fetch, ttl=0) == {"n": 1}
    assert CacheEntry.objects.filter(key="k").exists()
    assert cachified(key="k", get_fresh_value=fetch, ttl=0) == {"n": 2}


def test_a_negative_ttl_returns_the_value_without_storing_it(clock):
    fetch = Counter()
    assert cachified(key="k", get_fresh_value=fetch, ttl=-1) == {"n": 1}
    assert not CacheEntry.objects.filter(key="k").exists()


def test_the_entry_records_created_ttl_swr_and_expiry(clock):
    cachified(key="k", get_fresh_value=Counter(), ttl=60, swr=30)
    entry = CacheEntry.objects.get(key="k")
    assert (entry.created, entry.ttl, entry.swr) == (START, 60, 30)
    assert entry.expires_at == START.timestamp() + 90


def test_a_value_past_ttl_and_swr_is_fetched_in_the_foreground(clock):
    fetch = Counter()
    cachified(key="k", get_fresh_value=fetch, ttl=60, swr=30)
    clock.shift(90)
    assert cachified(key="k", get_fresh_value=fetch, ttl=60, swr=30) == {"n": 2}


def test_a_fresh_entry_rejected_by_check_value_is_deleted_and_refetched(clock, cache_events):
    fetch = Counter()
    cachified(key="k", get_fresh_value=fetch)
    value = cachified(key="k", get_fresh_value=fetch, check_value=lambda v: v["n"] == 2)
    assert value == {"n": 2}
    assert fetch.calls == 2
    assert cache_events.named("miss") == ["k", "k"]


def test_a_value_just_fetched_is_returned_and_stored_whatever_check_value_says(clock):
    # check_value judges stored entries: a stamp read before the fetch may already be older
    # than the value fetched (a change landed meanwhile); the new value is still the answer.
    assert cachified(key="k", get_fresh_value=Counter(), check_value=lambda v: False) == {"n": 1}
    assert CacheEntry.objects.filter(key="k").exists()


def test_force_fresh_fetches_even_when_the_value_is_fresh(clock):
    fetch = Counter()
    cachified(key="k", get_fresh_value=fetch)
    assert cachified(key="k", get_fresh_value=fetch, force_fresh=True) == {"n": 2}
    assert cachified(key="k", get_fresh_value=fetch) == {"n": 2}


def test_force_fresh_falls_back_to_the_cached_value_when_the_fetch_fails(clock, cache_events):
    cachified(key="k", get_fresh_value=Counter())

    def broken():
        raise ConnectionError("upstream is down")

    assert cachified(key="k", get_fresh_value=broken, force_fresh=True) == {"n": 1}
    assert cache_events.named("fallback") == ["k"]


def test_force_fresh_without_fallback_raises_the_fetch_error(clock):
    cachified(key="k", get_fresh_value=Counter())

    def broken():
        raise ConnectionError("upstream is down")

    with pytest.raises(ConnectionError, match="upstream is down"):
        cachified(key="k", get_fresh_value=broken, force_fresh=True, fallback_to_cache=False)


def test_a_failed_fetch_with_nothing_cached_raises_and_stores_nothing(clock, cache_events):
    def broken():
        raise ConnectionError("upstream is down")

    with pytest.raises(ConnectionError):
        cachified(key="k", get_fresh_value=broken)
    assert not CacheEntry.objects.exists()
    assert cache_events.named("fetch_failed") == ["k"]


def test_delete_forgets_the_key(clock):
    fetch = Counter()
    cachified(key="k", get_fresh_value=fetch)
    delete("k")
    assert cachified(key="k", get_fresh_value=fetch) == {"n": 2}


@pytest.mark.parametrize(
    "value",
    [
        {"html": "<p>caf\u00e9 \u2603</p>", "words": 1200, "draft": False, "tags": ["a", "b"]},
        {"red": 0.25, "blue": 1e-9, "yellow": 12345678901234567890},
        ["nested", [{"deep": None}], 3.5],
        "plain string",
        None,
    ],
)
def test_json_values_round_trip_unchanged(clock, value):
    cachified(key="k", get_fresh_value=lambda: value)
    assert cachified(key="k", get_fresh_value=Counter()) == value
    store.reset_memory()  # and again decoded from the file, not the in-process tier
    assert cachified(key="k", get_fresh_value=Counter()) == value


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ((1, 2), "value is a tuple"),
        ({"ranks": {1: "red"}}, "value['ranks'] has the key 1"),
        ({"score": float("nan")}, "value['score'] is nan"),
        ([{1, 2}], "value[0] is a set"),
        ({"when": START}, "value['when'] is a datetime"),
    ],
)
def test_a_value_that_json_would_change_is_refused_when_stored(clock, value, complaint):
    with pytest.raises(CacheValueError, match=re.escape(complaint)) as raised:
        cachified(key="bad", get_fresh_value=lambda: value)
    assert "Cannot cache 'bad'" in str(raised.value)
    assert not CacheEntry.objects.filter(key="bad").exists()


def test_a_value_written_by_another_process_replaces_the_in_process_copy(clock):
    cachified(key="k", get_fresh_value=Counter())
    # What another process's write looks like from here: new value, new stamp.
    CacheEntry.objects.filter(key="k").update(value='{"n":42}', stamp=7)
    assert cachified(key="k", get_fresh_value=Counter()) == {"n": 42}


def test_the_fetch_reads_what_the_caller_would_read_inside_its_transaction(clock):
    Group.objects.create(name="readers")
    count = cachified(key="groups", get_fresh_value=lambda: Group.objects.count())
    assert count == 1


def test_the_fetch_runs_on_its_own_thread(clock):
    threads = []
    cachified(key="k", get_fresh_value=lambda: threads.append(threading.current_thread().name))
    assert threads[0].startswith("cachedb-fetch k")


def test_a_key_that_is_not_a_string_is_refused():
    with pytest.raises(TypeError, match="key must be a str, not int"):
        cachified(key=42, get_fresh_value=Counter())


def test_a_timeout_of_zero_is_refused():
    with pytest.raises(ValueError, match="timeout must be more than 0 seconds, not 0"):
        cachified(key="k", get_fresh_value=Counter(), timeout=0)
