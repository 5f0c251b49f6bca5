"""Staff tools for this machine's cache file: browse, search by key, delete, purge expired.

The models live in the `cache` database; the router sends the admin's queries there. Each machine
has its own cache, so this shows (and deletes from) the cache of the machine serving the request.
"""

import json
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import BinaryField, QuerySet
from django.db.models.functions import Cast, Length
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html
from django.utils.safestring import SafeString

from cachedb.models import BackendEntry, CacheEntry, ExpiringEntry, ExpiringQuerySet

# ModelAdmin is generic for the type checker only: at run time it takes no subscript.
if TYPE_CHECKING:
    _TableAdmin = admin.ModelAdmin[ExpiringEntry]
else:
    _TableAdmin = admin.ModelAdmin


class ExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"

    def lookups(
        self, request: HttpRequest, model_admin: "admin.ModelAdmin[Any]"
    ) -> list[tuple[str, str]]:
        return [("live", "Not expired"), ("expired", "Expired")]

    def queryset(  # type: ignore[override]  # only on the tables below, all ExpiringQuerySet
        self, request: HttpRequest, queryset: ExpiringQuerySet[Any]
    ) -> ExpiringQuerySet[Any]:
        if self.value() == "expired":
            return queryset.expired(time.time())
        if self.value() == "live":
            return queryset.exclude(pk__in=queryset.expired(time.time()).values("pk"))
        return queryset


class CacheTableAdmin(_TableAdmin):
    """Read-only listing with delete; values are written by code, never by hand."""

    search_fields = ["key"]
    list_filter = [ExpiryFilter]
    ordering = ["-created_at"]
    actions = ["purge_expired"]
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[ExpiringEntry]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                # Bytes, not characters: what the value costs in the file.
                value_length=Length(Cast("value", output_field=BinaryField()))
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ExpiringEntry | None = None) -> bool:
        return False

    @admin.display(description="value size", ordering="value_length")
    def value_size(self, entry: Any) -> str:  # Any: carries get_queryset's value_length
        return filesizeformat(entry.value_length)

    @admin.display(description="created", ordering="created_at")
    def created_display(self, entry: ExpiringEntry) -> datetime:
        return entry.created

    @admin.display(description="expires", ordering="expires_at", empty_value="never")
    def expires_display(self, entry: ExpiringEntry) -> datetime | None:
        return entry.expires

    @admin.action(description="Purge all expired entries (not only the selected ones)")
    def purge_expired(self, request: HttpRequest, queryset: QuerySet[ExpiringEntry]) -> None:
        # The listed tables (CacheEntry, BackendEntry) each have ExpiringQuerySet's manager.
        purged = self.model.objects.purge_expired(time.time())  # type: ignore[attr-defined]
        self.message_user(request, f"Purged {purged} expired entries.", messages.SUCCESS)


@admin.register(CacheEntry)
class CacheEntryAdmin(CacheTableAdmin):
    list_display = ["key", "value_size", "created_display", "expires_display", "state"]
    # One tuple for both: Django's types let the two share a sequence only if it is immutable.
    fields = readonly_fields = (
        "key",
        "created_display",
        "ttl",
        "swr",
        "expires_display",
        "pretty_value",
    )

    @admin.display(description="state")
    def state(self, entry: CacheEntry) -> str:
        return entry.state(time.time())

    @admin.display(description="value")
    def pretty_value(self, entry: CacheEntry) -> SafeString:
        text = json.dumps(json.loads(entry.value), indent=2, ensure_ascii=False)
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", text)


@admin.register(BackendEntry)
class BackendEntryAdmin(CacheTableAdmin):
    list_display = ["key", "value_size", "created_display", "expires_display"]
    fields = readonly_fields = ("key", "created_display", "expires_display", "value_size")
