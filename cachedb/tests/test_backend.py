"""SQLiteCache against Django's documented cache contract, case by case.

The cases follow Django's own BaseCacheTests (tests/cache/tests.py) for the parts of the API a
backend implements: get/set/add/delete/touch/incr/decr, the *_many calls, has_key, clear, key
versioning and prefixes, timeouts (None, 0, negative, float, long), pickling and culling.
"""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.cache import cache, caches
from django.core.cache.backends.base import CacheKeyWarning
from django.http import HttpResponse
from django.template import Context, Template
from django.test import RequestFactory
from django.views.decorators.cache import cache_page

from cachedb.backend import SQLiteCache
from cachedb.connection import raw_connection
from cachedb.models import BackendEntry, CacheEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False) as traveller:
        yield traveller


def make_cache(**params):
    return SQLiteCache("cache", params)


class Unpicklable:
    def __getstate__(self):
        raise pickle_error


pickle_error = TypeError("cannot pickle this")


def test_settings_point_the_default_cache_at_this_backend():
    assert isinstance(caches["default"], SQLiteCache)


def test_a_location_other_than_the_cache_alias_is_refused():
    with pytest.raises(ValueError, match="LOCATION must be the cache database alias 'cache'"):
        SQLiteCache("default", {})


def test_set_then_get_returns_the_value():
    cache.set("key", "value")
    assert cache.get("key") == "value"


def test_get_of_a_missing_key_returns_none_or_the_default():
    assert cache.get("missing") is None
    assert cache.get("missing", "default") == "default"


def test_none_can_be_stored_and_is_told_apart_with_a_sentinel():
    cache.set("nothing", None)
    sentinel = object()
    assert cache.get("nothing", sentinel) is None
    assert cache.has_key("nothing")


def test_add_stores_only_when_the_key_is_absent():
    assert cache.add("addkey1", "value") is True
    assert cache.add("addkey1", "newvalue") is False
    assert cache.get("addkey1") == "value"


def test_add_replaces_an_expired_value(clock):
    cache.set("key", "old", 10)
    clock.shift(11)
    assert cache.add("key", "new") is True
    assert cache.get("key") == "new"


def test_keys_are_prefixed_so_caches_with_different_prefixes_do_not_collide():
    prefixed = make_cache(KEY_PREFIX="cacheprefix")
    cache.set("somekey", "value")
    assert not prefixed.has_key("somekey")
    prefixed.set("somekey", "value2")
    assert cache.get("somekey") == "value"
    assert prefixed.get("somekey") == "value2"
    assert BackendEntry.objects.filter(key="cacheprefix:1:somekey").exists()


def test_get_many_returns_only_the_keys_present():
    cache.set_many({"a": "a", "c": "c", "d": "d"})
    assert cache.get_many(["a", "c", "d"]) == {"a": "a", "c": "c", "d": "d"}
    assert cache.get_many(["a", "b", "e"]) == {"a": "a"}
    assert cache.get_many(iter(["a", "b", "e"])) == {"a": "a"}
    assert cache.get_many([]) == {}


def test_get_many_leaves_out_expired_values(clock):
    cache.set("short", 1, 10)
    cache.set("long", 2, 100)
    clock.shift(11)
    assert cache.get_many(["short", "long"]) == {"long": 2}


def test_delete_removes_the_key_and_says_whether_it_existed():
    cache.set_many({"key1": "spam", "key2": "eggs"})
    assert cache.delete("key1") is True
    assert cache.get("key1") is None
    assert cache.get("key2") == "eggs"
    assert cache.delete("key1") is False


def test_has_key_and_in_see_only_live_values(clock):
    cache.set("hello1", "goodbye1")
    cache.set("brief", "x", 1)
    assert cache.has_key("hello1")
    assert "hello1" in cache
    assert not cache.has_key("goodbye1")
    clock.shift(2)
    assert not cache.has_key("brief")


def test_incr_and_decr_change_the_number_atomically():
    cache.set("answer", 41)
    assert cache.incr("answer") == 42
    assert cache.incr("answer", 10) == 52
    assert cache.decr("answer") == 51
    assert cache.decr("answer", 10) == 41
    assert cache.get("answer") == 41


def test_incr_and_decr_of_a_missing_key_raise_value_error():
    with pytest.raises(ValueError):
        cache.incr("does_not_exist")
    with pytest.raises(ValueError):
        cache.decr("does_not_exist")


def test_incr_keeps_the_expiry(clock):
    cache.set("counter", 1, 10)
    cache.incr("counter")
    clock.shift(11)
    assert cache.get("counter") is None


def test_values_of_many_types_round_trip_through_pickle():
    stuff = {
        "string": "this is a string",
        "int": 42,
        "bool": True,
        "list": [1, 2, 3, 4],
        "tuple": (1, 2, 3, 4),
        "dict": {"A": 1, "B": 2},
        "set": {1, 2},
        "function": len,
        "class": Unpicklable,
        "bytes": b"\x00\xff binary",
        "unicode": "\u00c4\u00f6\u00fc \u2603 \U0001f600",
        "datetime": datetime(2026, 1, 1, tzinfo=UTC),
    }
    cache.set("stuff", stuff)
    assert cache.get("stuff") == stuff


def test_expired_values_are_gone(clock):
    cache.set("expire1", "very quickly", 1)
    cache.set("expire2", "very quickly", 1)
    cache.set("expire3", "very quickly", 1)
    clock.shift(2)
    assert cache.get("expire1") is None
    assert cache.add("expire2", "newvalue") is True
    assert cache.get("expire2") == "newvalue"
    assert not cache.has_key("expire3")


def test_touch_extends_or_shortens_the_expiry(clock):
    cache.set("expire1", "very quickly", timeout=1)
    assert cache.touch("expire1", timeout=4) is True
    clock.shift(2)
    assert cache.has_key("expire1")
    clock.shift(3)
    assert not cache.has_key("expire1")
    cache.set("expire2", "very quickly", timeout=1)
    assert cache.touch("expire2", timeout=None) is True
    clock.shift(10_000)
    assert cache.has_key("expire2")
    assert cache.touch("expire1") is False
    cache.set("gone", 1)
    assert cache.touch("gone", timeout=0) is True
    assert not cache.has_key("gone")


def test_set_many_stores_every_pair_and_returns_no_failures():
    assert cache.set_many({"key1": "spam", "key2": "eggs"}) == []
    assert cache.get("key1") == "spam"
    assert cache.get("key2") == "eggs"


def test_set_many_applies_the_timeout_to_every_key(clock):
    cache.set_many({"key1": "spam", "key2": "eggs"}, 1)
    clock.shift(2)
    assert cache.get("key1") is None
    assert cache.get("key2") is None


def test_delete_many_removes_only_the_named_keys():
    cache.set_many({"key1": "spam", "key2": "eggs", "key3": "ham"})
    cache.delete_many(["key1", "key2"])
    assert cache.get("key1") is None
    assert cache.get("key2") is None
    assert cache.get("key3") == "ham"


def test_clear_empties_the_django_cache_but_not_cachified_entries():
    CacheEntry.objects.create(key="cachified", value="1", created_at=0)
    cache.set_many({"key1": "spam", "key2": "eggs"})
    cache.clear()
    assert cache.get_many(["key1", "key2"]) == {}
    assert CacheEntry.objects.filter(key="cachified").exists()


def test_a_long_timeout_is_kept(clock):
    cache.set("key1", "eggs", 60 * 60 * 24 * 30 + 1)  # over Memcached's 30 day limit
    clock.shift(60 * 60 * 24 * 30)
    assert cache.get("key1") == "eggs"


def test_timeout_none_caches_forever(clock):
    cache.set("key1", "eggs", None)
    assert cache.add("key2", "ham", None) is True
    cache.set_many({"key3": "sausage", "key4": "lobster bisque"}, None)
    clock.shift(10 * 365 * 24 * 3600)
    assert cache.get_many(["key1", "key2", "key3", "key4"]) == {
        "key1": "eggs",
        "key2": "ham",
        "key3": "sausage",
        "key4": "lobster bisque",
    }


def test_timeout_zero_stores_nothing_and_set_removes_the_old_value():
    cache.set("key1", "old")
    cache.set("key1", "eggs", 0)
    assert cache.get("key1") is None
    assert cache.add("key2", "ham", 0) is True  # as in Django's own backends
    assert cache.get("key2") is None
    cache.set("key4", "live")
    assert cache.add("key4", "ham", 0) is False
    cache.set_many({"key3": "sausage"}, 0)
    assert cache.get("key3") is None


def test_a_negative_timeout_behaves_like_zero():
    cache.set("key1", "eggs", -1)
    assert cache.get("key1") is None


def test_a_float_timeout_is_honoured(clock):
    cache.set("key1", "spam", 100.2)
    clock.shift(100.1)
    assert cache.get("key1") == "spam"
    clock.shift(0.2)
    assert cache.get("key1") is None


def test_the_default_timeout_comes_from_settings(clock, settings):
    assert cache.default_timeout == settings.CACHES["default"]["TIMEOUT"] == 300
    cache.set("key", "value")
    clock.shift(299)
    assert cache.get("key") == "value"
    clock.shift(2)
    assert cache.get("key") is None


def test_culling_keeps_the_table_under_max_entries_dropping_the_oldest(clock):
    culled = make_cache(OPTIONS={"MAX_ENTRIES": 30, "CULL_FREQUENCY": 3})
    for i in range(50):
        culled.set(f"cull{i}", "value", 1000)
        clock.shift(1)
    assert BackendEntry.objects.count() <= 30
    assert culled.has_key("cull49")
    assert not culled.has_key("cull0")


def test_culling_drops_expired_values_first(clock):
    culled = make_cache(OPTIONS={"MAX_ENTRIES": 3, "CULL_FREQUENCY": 3})
    culled.set("old", 1, 1000)
    culled.set("short1", 1, 1)
    culled.set("short2", 1, 1)
    clock.shift(2)
    culled.set("new", 1, 1000)
    assert sorted(BackendEntry.objects.values_list("key", flat=True)) == [":1:new", ":1:old"]


def test_cull_frequency_zero_clears_the_table_when_full(clock):
    culled = make_cache(OPTIONS={"MAX_ENTRIES": 30, "CULL_FREQUENCY": 0})
    for i in range(31):
        culled.set(f"cull{i}", "value", 1000)
    assert BackendEntry.objects.count() == 1
    assert culled.has_key("cull30")


@pytest.mark.parametrize("key", ["key with spaces", "key\nnewline", "nul\x00key", "x" * 251])
def test_keys_memcached_would_refuse_only_warn(key):
    with pytest.warns(CacheKeyWarning):
        cache.set(key, "value")
    with pytest.warns(CacheKeyWarning):
        assert cache.get(key) == "value"


def test_versions_keep_values_apart():
    cache.set("answer1", 42)
    assert cache.get("answer1") == 42
    assert cache.get("answer1", version=1) == 42
    assert cache.get("answer1", version=2) is None
    cache.set("answer1", 37, version=2)
    assert cache.get("answer1", version=1) == 42
    assert cache.get("answer1", version=2) == 37


def test_a_cache_with_a_default_version_uses_it():
    v2 = make_cache(VERSION=2)
    v2.set("answer", 42)
    assert cache.get("answer") is None
    assert cache.get("answer", version=2) == 42
    assert v2.get("answer") == 42


def test_versioning_applies_to_add_has_key_delete_incr_and_the_many_calls():
    assert cache.add("answer", 37, version=2) is True
    assert cache.add("answer", 42, version=2) is False
    assert cache.add("answer", 42) is True
    assert cache.has_key("answer", version=2)
    cache.incr("answer", version=2)
    assert cache.get("answer", version=2) == 38
    assert cache.get("answer") == 42
    cache.set_many({"ford": 37, "arthur": 42}, version=2)
    assert cache.get_many(["ford", "arthur"]) == {}
    assert cache.get_many(["ford", "arthur"], version=2) == {"ford": 37, "arthur": 42}
    cache.delete_many(["ford", "arthur"], version=2)
    assert cache.get_many(["ford", "arthur"], version=2) == {}
    assert cache.delete("answer", version=2) is True
    assert cache.get("answer") == 42


def test_incr_version_and_decr_version_move_a_value():
    cache.set("answer", 42, version=2)
    assert cache.incr_version("answer", version=2) == 3
    assert cache.get("answer", version=2) is None
    assert cache.get("answer", version=3) == 42
    assert cache.decr_version("answer", version=3) == 2
    assert cache.get("answer", version=2) == 42
    with pytest.raises(ValueError):
        cache.incr_version("does_not_exist")


def test_a_custom_key_function_is_used():
    custom = make_cache(KEY_FUNCTION=lambda key, prefix, version: f"custom-{key}")
    custom.set("answer", 42)
    assert BackendEntry.objects.filter(key="custom-answer").exists()
    assert cache.get("answer") is None


def test_an_unpicklable_value_raises_and_stores_nothing():
    with pytest.raises(TypeError, match="cannot pickle this"):
        cache.set("unpicklable", Unpicklable())
    with pytest.raises(TypeError):
        cache.add("unpicklable", Unpicklable())
    assert not BackendEntry.objects.exists()


def test_get_or_set_stores_the_default_or_calls_it():
    assert cache.get_or_set("projector", 42) == 42
    assert cache.get_or_set("projector", 43) == 42
    assert cache.get_or_set("mykey", lambda: "computed") == "computed"
    assert cache.get_or_set("null", None) is None
    assert cache.get_or_set("answer", 7, version=2) == 7
    assert cache.get("answer", version=2) == 7


def test_close_is_harmless():
    cache.set("key", "value")
    cache.close()
    assert cache.get("key") == "value"


def test_template_fragment_caching_works_on_this_backend():
    template = Template("{% load cache %}{% cache 60 greeting %}Hello {{ name }}{% endcache %}")
    assert template.render(Context({"name": "Ann"})) == "Hello Ann"
    assert template.render(Context({"name": "Bob"})) == "Hello Ann"


def test_the_per_view_cache_works_on_this_backend():
    calls = []

    @cache_page(60)
    def view(request):
        calls.append(request)
        return HttpResponse(f"rendered {len(calls)} times")

    factory = RequestFactory()
    first = view(factory.get("/page"))
    second = view(factory.get("/page"))
    assert first.content == second.content == b"rendered 1 times"
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_increments_from_many_threads_are_never_lost():
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    cache.set("hits", 0)

    def bump():
        try:
            # Each thread waits its turn however long a loaded machine makes it: this test is
            # about the transaction losing no update. That a busy cache refuses a write after a
            # short wait instead is test_faults.py's.
            raw_connection().execute("PRAGMA busy_timeout = 60000")
            for _ in range(25):
                cache.incr("hits")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(bump) for _ in range(4)]:
            future.result()
    assert cache.get("hits") == 100
