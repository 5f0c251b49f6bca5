"""The cache tables. They live only in the unreplicated `cache` database (see routers.py).

Three tables, one purpose each:
- `cache_entry`: values kept by `cachified()`, stored as JSON text.
- `cache_backend_entry`: values kept through Django's cache API (`django.core.cache`), stored as
  base64 pickles like Django's own database cache, because that API promises any picklable value.
- `cache_lease`: who on this machine is fetching a key right now, so processes fetch it once.

Times are Unix seconds (floats): the hot path compares them in SQL and Python without converting.
"""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Self, TypeVar

from django.db import models

_M = TypeVar("_M", bound=models.Model)


def _as_datetime(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


class ExpiringQuerySet(models.QuerySet[_M]):
    def expired(self, now: float) -> Self:
        return self.filter(expires_at__lte=now)

    def purge_expired(self, now: float) -> int:
        deleted, _ = self.expired(now).delete()
        return deleted

    def evict_least_recently_written(self, *, keep: int) -> int:
        """Delete the oldest writes so that at most `keep` rows remain."""
        excess = self.count() - keep
        if excess <= 0:
            return 0
        oldest = self.order_by("created_at").values("pk")[:excess]
        deleted, _ = self.model._default_manager.filter(pk__in=oldest).delete()
        return deleted


class ExpiringEntry(models.Model):
    """What both value tables share: Unix-time stamps, shown to people as datetimes."""

    if TYPE_CHECKING:  # each table declares its own fields, in its own column order
        created_at: float
        expires_at: float | None

    class Meta:
        abstract = True

    @property
    def created(self) -> datetime:
        return datetime.fromtimestamp(self.created_at, tz=UTC)

    @property
    def expires(self) -> datetime | None:
        return _as_datetime(self.expires_at)


class CacheEntry(ExpiringEntry):
    """One `cachified()` value and the metadata that decides whether it is fresh, stale or gone."""

    key = models.CharField(primary_key=True, max_length=500)
    created_at = models.FloatField(help_text="Unix time the value was written")
    ttl = models.FloatField(null=True, blank=True, help_text="Seconds fresh; empty = forever")
    swr = models.FloatField(
        null=True,
        blank=True,
        default=0,
        help_text="Seconds after ttl a stale value may still be served; empty = without limit",
    )
    expires_at = models.FloatField(
        null=True, blank=True, help_text="created_at + ttl + swr; empty = never"
    )
    # A random number per write. The in-process tier compares it to know that its decoded copy is
    # still the row's value, without reading (and decoding) the value again.
    stamp = models.BigIntegerField(default=0)
    # Last, so SQLite reads the metadata above from the row's first page without walking the
    # overflow pages of a large value.
    value = models.TextField(help_text="JSON")

    objects = ExpiringQuerySet.as_manager()

    class Meta:
        db_table = "cache_entry"
        verbose_name_plural = "cache entries"
        indexes = [
            models.Index(fields=["expires_at"], name="cache_entry_expires"),
            models.Index(fields=["created_at"], name="cache_entry_created"),
        ]

    def __str__(self) -> str:
        return self.key

    def state(self, now: float) -> str:
        """ "fresh", "stale" (may be served while it refreshes) or "expired"."""
        if self.ttl is None or now < self.created_at + self.ttl:
            return "fresh"
        if self.expires_at is None or now < self.expires_at:
            return "stale"
        return "expired"


class BackendEntry(ExpiringEntry):
    """One value stored through Django's cache API; `key` already carries prefix and version."""

    key = models.CharField(primary_key=True, max_length=500)
    created_at = models.FloatField(help_text="Unix time the value was written")
    expires_at = models.FloatField(null=True, blank=True, help_text="empty = never")
    value = models.TextField(help_text="base64 of the pickled value")

    objects = ExpiringQuerySet.as_manager()

    class Meta:
        db_table = "cache_backend_entry"
        verbose_name = "Django cache entry"
        verbose_name_plural = "Django cache entries"
        indexes = [
            models.Index(fields=["expires_at"], name="cache_backend_expires"),
            models.Index(fields=["created_at"], name="cache_backend_created"),
        ]

    def __str__(self) -> str:
        return self.key


class CacheLease(models.Model):
    """A fetch in progress: held by one owner until released or until `expires_at` passes."""

    key = models.CharField(primary_key=True, max_length=500)
    owner = models.CharField(max_length=100, help_text="pid:thread:random of the fetching caller")
    expires_at = models.FloatField(help_text="Unix time after which anyone may take the lease")

    objects = ExpiringQuerySet.as_manager()

    class Meta:
        db_table = "cache_lease"

    def __str__(self) -> str:
        return self.key
