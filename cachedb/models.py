"""The cache entry table. It lives only in the unreplicated `cache` database."""

from django.db import models


class CacheEntry(models.Model):
    key = models.CharField(primary_key=True, max_length=500)
    value = models.TextField(help_text="JSON")
    created_at = models.FloatField(help_text="Unix time the value was written")
    ttl = models.FloatField(null=True, blank=True, help_text="Seconds fresh; empty = forever")
    swr = models.FloatField(default=0, help_text="Seconds a stale value may still be served")
    expires_at = models.FloatField(
        null=True, blank=True, help_text="created_at + ttl + swr; empty = never"
    )

    class Meta:
        db_table = "cache_entry"
        verbose_name_plural = "cache entries"
        indexes = [models.Index(fields=["expires_at"], name="cache_entry_expires")]

    def __str__(self) -> str:
        return self.key
