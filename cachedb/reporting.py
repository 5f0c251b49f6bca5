"""What the cache did: structured log events, and a per-request tally for `Server-Timing`.

Every event is one log record on the `cachedb` logger whose `extra` carries `cache_event` and
`cache_key` (plus `duration_ms`, `error` where they apply), so a JSON log formatter or a test can
read them as fields. Hits are DEBUG (there are many); everything else is INFO or WARNING.

The tally lives in a ContextVar set by `ServerTimingMiddleware`. Fetches run on their own threads
with a copy of the caller's context, so work done inside a fetch lands in the same tally.
"""

import logging
import threading
from contextvars import ContextVar, Token

from litesite import metrics

logger = logging.getLogger("cachedb")

HIT = "hit"
MISS = "miss"
STALE = "stale"
WAIT = "wait"
REFRESH_STARTED = "refresh_started"
REFRESH_SUCCEEDED = "refresh_succeeded"
REFRESH_FAILED = "refresh_failed"
REFRESH_SKIPPED = "refresh_skipped"
FETCH_FAILED = "fetch_failed"
FALLBACK = "fallback"
TIMEOUT = "timeout"
RECURSION = "recursion"
LATE = "late_result_discarded"

_LEVELS = {
    HIT: logging.DEBUG,
    REFRESH_SKIPPED: logging.DEBUG,
    REFRESH_FAILED: logging.WARNING,
    FETCH_FAILED: logging.WARNING,
    FALLBACK: logging.WARNING,
    TIMEOUT: logging.WARNING,
    RECURSION: logging.ERROR,
    LATE: logging.WARNING,
}


def log_event(
    event: str,
    key: str,
    *,
    duration: float | None = None,
    error: BaseException | None = None,
    **fields: object,
) -> None:
    metrics.cache_event(event)  # every event, hits included, whatever the log level
    level = _LEVELS.get(event, logging.INFO)
    if not logger.isEnabledFor(level):
        return
    extra: dict[str, object] = {"cache_event": event, "cache_key": key, **fields}
    text = f"cache {event} key={key!r}"
    if duration is not None:
        extra["duration_ms"] = round(duration * 1000, 3)
        text += f" {extra['duration_ms']}ms"
    if error is not None:
        extra["error"] = repr(error)
        text += f" error={error!r}"
    logger.log(level, text, extra=extra)


class CacheWork:
    """How many cache operations of each kind a request did, and how long they took."""

    # Server-Timing metric names, in the order they appear in the header.
    KINDS = ("hit", "stale", "miss", "wait", "timeout", "error", "django")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts = dict.fromkeys(self.KINDS, 0)
        self.seconds = dict.fromkeys(self.KINDS, 0.0)

    def add(self, kind: str, seconds: float) -> None:
        with self._lock:
            self.counts[kind] += 1
            self.seconds[kind] += seconds

    def server_timing(self) -> str:
        """`cache-hit;dur=0.012;desc="3 hits", cache-miss;dur=41.5;desc="1 miss"` or ""."""
        with self._lock:
            parts = [
                f'cache-{kind};dur={self.seconds[kind] * 1000:.3f};desc="{count} {kind}"'
                for kind, count in self.counts.items()
                if count
            ]
        return ", ".join(parts)


_current: ContextVar[CacheWork | None] = ContextVar("cachedb_work", default=None)


def start_request() -> tuple[CacheWork, Token[CacheWork | None]]:
    work = CacheWork()
    return work, _current.set(work)


def end_request(token: Token[CacheWork | None]) -> None:
    _current.reset(token)


def stop_recording() -> None:
    """Work after the response (a background refresh) belongs to no request."""
    _current.set(None)


def record(kind: str, seconds: float) -> None:
    work = _current.get()
    if work is not None:
        work.add(kind, seconds)
