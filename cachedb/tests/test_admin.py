"""The Django admin lists, searches, shows and deletes entries that live in the cache database."""

import pytest
from django.urls import reverse

from cachedb.models import BackendEntry, CacheEntry

pytestmark = pytest.mark.django_db
NOW = 1_700_000_000.0  # in the past: entries with an expiry have expired


@pytest.fixture
def entries():
    return [
        CacheEntry.objects.create(
            key="post:hello:abc123", value='{"html": "<p>h\u00e9</p>"}', created_at=NOW, ttl=None
        ),
        CacheEntry.objects.create(
            key="leaderboard:2026", value='{"red": 0.5}', created_at=NOW, ttl=60, expires_at=NOW
        ),
    ]


def test_the_changelist_shows_entries_with_size_created_and_expiry(staff_client, entries):
    response = staff_client.get(reverse("admin:cachedb_cacheentry_changelist"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "post:hello:abc123" in page
    assert "leaderboard:2026" in page
    assert "22\xa0bytes" in page  # the first value, in UTF-8 bytes (é takes two)
    assert "never" in page  # ttl None never expires
    assert "expired" in page


def test_search_by_key_narrows_the_list(staff_client, entries):
    response = staff_client.get(reverse("admin:cachedb_cacheentry_changelist"), {"q": "post:"})
    page = response.content.decode()
    assert "post:hello:abc123" in page
    assert "leaderboard:2026" not in page


def test_the_entry_page_shows_the_value_read_only(staff_client, entries):
    url = reverse("admin:cachedb_cacheentry_change", args=["post:hello:abc123"])
    response = staff_client.get(url)
    assert response.status_code == 200
    assert "&lt;p&gt;h\u00e9&lt;/p&gt;" in response.content.decode()
    assert staff_client.post(url, {"key": "changed"}).status_code == 403


def test_deleting_an_entry_removes_it_from_the_cache_database(staff_client, entries):
    url = reverse("admin:cachedb_cacheentry_delete", args=["post:hello:abc123"])
    response = staff_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not CacheEntry.objects.filter(key="post:hello:abc123").exists()


def test_the_purge_action_deletes_every_expired_entry(staff_client, entries):
    response = staff_client.post(
        reverse("admin:cachedb_cacheentry_changelist"),
        {"action": "purge_expired", "index": "0", "_selected_action": ["post:hello:abc123"]},
        follow=True,
    )
    assert "Purged 1 expired entries." in response.content.decode()
    assert list(CacheEntry.objects.values_list("key", flat=True)) == ["post:hello:abc123"]


def test_the_expiry_filter_lists_only_expired_entries(staff_client, entries):
    response = staff_client.get(
        reverse("admin:cachedb_cacheentry_changelist"), {"expiry": "expired"}
    )
    page = response.content.decode()
    assert "leaderboard:2026" in page
    assert "post:hello:abc123" not in page


def test_django_cache_entries_are_listed_too(staff_client):
    BackendEntry.objects.create(key=":1:views.decorators.cache", value="gAR=", created_at=NOW)
    response = staff_client.get(reverse("admin:cachedb_backendentry_changelist"))
    assert ":1:views.decorators.cache" in response.content.decode()


def test_readers_who_are_not_staff_are_sent_to_log_in(client, entries):
    response = client.get(reverse("admin:cachedb_cacheentry_changelist"))
    assert response.status_code == 302
