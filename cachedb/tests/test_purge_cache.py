"""manage.py purge_cache: expired rows go, live rows stay, --dry-run deletes nothing."""

from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from cachedb.models import BackendEntry, CacheEntry, CacheLease

pytestmark = pytest.mark.django_db
NOW = 1_800_000_000.0


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def rows():
    CacheEntry.objects.create(key="live", value="1", created_at=NOW, ttl=None)
    CacheEntry.objects.create(key="dead", value="1", created_at=NOW - 100, expires_at=NOW - 1)
    BackendEntry.objects.create(key=":1:dead", value="", created_at=NOW, expires_at=NOW - 1)
    BackendEntry.objects.create(key=":1:live", value="", created_at=NOW, expires_at=NOW + 60)
    CacheLease.objects.create(key="stuck", owner="1:2:3", expires_at=NOW - 5)


def purge(*args):
    out = StringIO()
    call_command("purge_cache", *args, stdout=out)
    return out.getvalue()


def test_purge_deletes_expired_rows_of_every_table_and_keeps_live_ones(rows):
    output = purge()
    assert "Deleted 3 rows." in output
    assert list(CacheEntry.objects.values_list("key", flat=True)) == ["live"]
    assert list(BackendEntry.objects.values_list("key", flat=True)) == [":1:live"]
    assert not CacheLease.objects.exists()


def test_dry_run_reports_counts_and_deletes_nothing(rows):
    output = purge("--dry-run")
    assert "Would delete 1 expired cachified entries." in output
    assert "Would delete 1 expired Django cache entries." in output
    assert "Would delete 1 expired fetch leases." in output
    assert "Dry run: nothing deleted." in output
    assert CacheEntry.objects.count() == 2


def test_all_deletes_live_entries_too_but_not_leases_of_fetches_in_progress(rows):
    CacheLease.objects.create(key="busy", owner="1:2:3", expires_at=NOW + 5)
    purge("--all")
    assert not CacheEntry.objects.exists()
    assert not BackendEntry.objects.exists()
    assert list(CacheLease.objects.values_list("key", flat=True)) == ["busy"]


def test_purge_evicts_the_oldest_entries_above_the_cap(settings):
    settings.CACHEDB_MAX_ENTRIES = 2
    for age, key in enumerate("abc"):
        CacheEntry.objects.create(key=key, value="1", created_at=NOW - age, ttl=None)
    output = purge()
    assert "1 least recently written cachified entries above the cap of 2" in output
    assert sorted(CacheEntry.objects.values_list("key", flat=True)) == ["a", "b"]


def test_small_batches_still_delete_everything_expired():
    for n in range(7):
        CacheEntry.objects.create(key=f"k{n}", value="1", created_at=0, expires_at=NOW - 1)
    purge("--batch-size", "2")
    assert not CacheEntry.objects.exists()


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(CommandError, match="--batch-size must be at least 1, not 0."):
        purge("--batch-size", "0")
