"""The entry table: opportunistic purge, the entry cap, and the in-process tier."""

from datetime import UTC, datetime

import pytest
import time_machine

from cachedb import store
from cachedb.cachified import cachified
from cachedb.models import CacheEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def prune_on_every_write(monkeypatch):
    monkeypatch.setattr(store, "PRUNE_EVERY_WRITES", 1)


def test_writes_purge_expired_entries_opportunistically(clock, prune_on_every_write):
    cachified(key="short", get_fresh_value=lambda: 1, ttl=10)
    cachified(key="forever", get_fresh_value=lambda: 2, ttl=None)
    clock.shift(11)
    cachified(key="new", get_fresh_value=lambda: 3, ttl=10)
    assert sorted(CacheEntry.objects.values_list("key", flat=True)) == ["forever", "new"]


def test_the_cap_evicts_the_least_recently_written(clock, settings, prune_on_every_write):
    settings.CACHEDB_MAX_ENTRIES = 3
    for key in "abcde":
        cachified(key=key, get_fresh_value=lambda: 1, ttl=None)
        clock.shift(1)
    assert sorted(CacheEntry.objects.values_list("key", flat=True)) == ["c", "d", "e"]


def test_rewriting_a_key_makes_it_recent_again(clock, settings, prune_on_every_write):
    settings.CACHEDB_MAX_ENTRIES = 2
    cachified(key="a", get_fresh_value=lambda: 1, ttl=None)
    clock.shift(1)
    cachified(key="b", get_fresh_value=lambda: 1, ttl=None)
    clock.shift(1)
    cachified(key="a", get_fresh_value=lambda: 2, ttl=None, force_fresh=True)
    clock.shift(1)
    cachified(key="c", get_fresh_value=lambda: 1, ttl=None)
    assert sorted(CacheEntry.objects.values_list("key", flat=True)) == ["a", "c"]


def test_pruning_runs_once_every_so_many_writes(clock, settings, monkeypatch):
    monkeypatch.setattr(store, "PRUNE_EVERY_WRITES", 3)
    monkeypatch.setattr(store, "_writes", 0)
    settings.CACHEDB_MAX_ENTRIES = 1
    for key in "ab":
        cachified(key=key, get_fresh_value=lambda: 1, ttl=None)
        clock.shift(1)
    assert CacheEntry.objects.count() == 2
    cachified(key="c", get_fresh_value=lambda: 1, ttl=None)
    assert list(CacheEntry.objects.values_list("key", flat=True)) == ["c"]


def test_the_in_process_tier_keeps_at_most_cachedb_memory_entries(settings):
    settings.CACHEDB_MEMORY_ENTRIES = 2
    store.reset_memory()
    for key in "abc":
        cachified(key=key, get_fresh_value=lambda: 1)
    assert len(store.decoded_entries()) == 2
    assert store.decoded_entries().get("a") is None


def test_a_hit_on_a_hot_key_is_served_from_the_in_process_tier_without_decoding(monkeypatch):
    cachified(key="hot", get_fresh_value=lambda: {"big": "x" * 5000})
    decoded = []
    real_loads = store.json.loads
    monkeypatch.setattr(store.json, "loads", lambda text: decoded.append(text) or real_loads(text))
    assert cachified(key="hot", get_fresh_value=lambda: None) == {"big": "x" * 5000}
    assert decoded == []


def test_with_the_in_process_tier_off_every_hit_reads_the_file():
    store.reset_memory(0)
    cachified(key="k", get_fresh_value=lambda: [1])
    first = cachified(key="k", get_fresh_value=lambda: None)
    second = cachified(key="k", get_fresh_value=lambda: None)
    assert first == second == [1]
    assert first is not second
