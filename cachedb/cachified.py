"""cachified(): get a value from the cache database or compute it. (Simple version; see cachedb issue.)"""

import json
import time
from collections.abc import Callable
from typing import Any

from cachedb.models import CacheEntry


def cachified(
    *,
    key: str,
    get_fresh_value: Callable[[], Any],
    ttl: float | None = 300,
    swr: float = 0,
    check_value: Callable[[Any], bool] | None = None,
    timeout: float | None = None,
    force_fresh: bool = False,
    fallback_to_cache: bool = True,
) -> Any:
    now = time.time()
    entry = None if force_fresh else CacheEntry.objects.filter(key=key).first()
    if entry and (entry.ttl is None or entry.created_at + entry.ttl > now):
        value = json.loads(entry.value)
        if check_value is None or check_value(value):
            return value
    value = get_fresh_value()
    if ttl is None or ttl >= 0:
        CacheEntry.objects.update_or_create(
            key=key,
            defaults={
                "value": json.dumps(value),
                "created_at": now,
                "ttl": ttl,
                "swr": swr,
                "expires_at": None if ttl is None else now + ttl + swr,
            },
        )
    return value


def delete(key: str) -> None:
    CacheEntry.objects.filter(key=key).delete()
