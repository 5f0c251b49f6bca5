"""What the site counts for its operator: Prometheus metrics, scraped by Fly into its Grafana.

Every metric is defined here, with the small functions the rest of the code calls at the moment a
thing happens (`metrics.read_report("recorded")`), so that the modules that do the work carry one
line each and no knowledge of Prometheus. The exposition (the HTTP server on its own private
port that sums every gunicorn worker's numbers) is `litesite.metrics_server`, started by
gunicorn's master. README "Metrics for operators" has the names, an example scrape and the
Grafana queries.

Label values always come from a fixed set written down here, never from the request (no paths,
slugs, keys or free text): an unknown value is counted as "other". A series per label value is
what Prometheus stores, so a label fed from the outside would let anyone fill it.

Under gunicorn, prometheus_client runs in its multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set
by gunicorn.conf.py before any worker starts): each worker writes its numbers to memory-mapped
files there, and the exposition server adds them up. Elsewhere (tests, manage.py, runserver) the
numbers live in this process's memory and nobody scrapes them.
"""

import functools
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import Resolver404, resolve
from prometheus_client import Counter, Histogram

OTHER = "other"

# --- Requests ---------------------------------------------------------------------------------
REQUESTS = Counter(
    "litesite_requests",
    "Responses by view (the URL pattern's name, never the path) and HTTP status.",
    ["view", "status"],
)
REQUEST_SECONDS = Histogram(
    "litesite_request_duration_seconds",
    "Time from the first middleware to the response (a streamed body's sending is not "
    "included), by view.",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# Requests that reached no view: WhiteNoise's static files, and paths no URL pattern matches.
STATIC_VIEW = "static"
UNMATCHED_VIEW = "unmatched"


def view_name(request, *, static_path: str) -> str:
    """The URL pattern's name (`blog:post`), or the view's dotted path for an unnamed pattern.

    A request answered before URL resolution (a write replayed from a replica, a static file) is
    resolved here, so that it is counted under the view it was for.
    """
    match = request.resolver_match
    if match is None:
        if request.path_info.startswith(static_path):
            return STATIC_VIEW
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return UNMATCHED_VIEW
    return match.view_name


class RequestMetricsMiddleware:
    """Counts every response by view and status, and times it.

    First in MIDDLEWARE, so that it sees the status that leaves the site, after the replication
    middleware has turned an answer into a replay. The labelled children are kept in a dict of
    our own: prometheus_client's `labels()` validates and locks on every call.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.static_path = urlsplit(settings.STATIC_URL or "/static/").path or "/static/"
        self.counters: dict[tuple[str, int], Counter] = {}
        self.timers: dict[str, Histogram] = {}

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        view = view_name(request, static_path=self.static_path)
        key = (view, response.status_code)
        counter = self.counters.get(key)
        if counter is None:
            counter = self.counters[key] = REQUESTS.labels(view, str(response.status_code))
        counter.inc()
        timer = self.timers.get(view)
        if timer is None:
            timer = self.timers[view] = REQUEST_SECONDS.labels(view)
        timer.observe(elapsed)
        return response


# --- Replication (litesite/middleware.py) ------------------------------------------------------
REPLAYS = Counter(
    "litesite_replays",
    "Requests a replica sent towards the primary, by why (reason) and what came of it (outcome).",
    ["reason", "outcome"],
)
# What the replica answered: 409 + fly-replay; 503 (no primary known, or the primary named is a
# machine the request already came from); 413 (a body Fly cannot replay).
REPLAY_OUTCOMES = frozenset({"replayed", "no_primary", "loop", "too_large"})
_BEHIND = "this replica is behind your last write"
_READONLY_ERROR = "it wrote to the database"


def replay_reason(reason: str) -> str:
    """The bounded label for the middleware's sentence saying why a request goes to the primary."""
    if reason == _BEHIND:
        return "behind_last_write"
    if reason == _READONLY_ERROR:
        return "readonly_error"  # a view that wrote without ensure_primary(): a bug
    if reason.endswith(" writes"):  # "POST writes": an unsafe method
        return "write_method"
    return "ensure_primary"  # a GET that must write (session extension, sign-in link, ...)


def replay(*, reason: str, outcome: str) -> None:
    REPLAYS.labels(replay_reason(reason), outcome if outcome in REPLAY_OUTCOMES else OTHER).inc()


TXID_WAIT_SECONDS = Histogram(
    "litesite_txid_wait_seconds",
    "A replica's wait for its TXID to reach a reader's __txid cookie, by outcome: served (caught "
    "up), replayed (not in time: sent to the primary), timed_out (not in time and no primary "
    "to send it to: served from this replica as it was).",
    ["outcome"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0),
)
TXID_OUTCOMES = frozenset({"served", "replayed", "timed_out"})


def txid_waited(*, outcome: str, since: float) -> None:
    """A wait that began at `since` (time.monotonic()) ended with `outcome`."""
    label = outcome if outcome in TXID_OUTCOMES else OTHER
    TXID_WAIT_SECONDS.labels(label).observe(time.monotonic() - since)


# --- The cache (cachedb) ------------------------------------------------------------------------
CACHE_EVENTS = Counter(
    "litesite_cache_events",
    "cachified() events by kind: hit, miss, stale (served while refreshed), wait, refresh_*, "
    "timeout, fallback, fetch_failed, recursion, late_result_discarded.",
    ["event"],
)
CACHE_EVENT_KINDS = frozenset(
    {
        "hit",
        "miss",
        "stale",
        "wait",
        "refresh_started",
        "refresh_succeeded",
        "refresh_failed",
        "refresh_skipped",
        "fetch_failed",
        "fallback",
        "timeout",
        "recursion",
        "late_result_discarded",
    }
)
CACHE_DEGRADED = Counter(
    "litesite_cache_degraded",
    "Cache database operations that failed and were served without the cache, by fault.",
    ["fault"],
)
CACHE_FAULTS = frozenset({"busy", "full", "readonly", "no_schema", "corrupt", "broken"})


# Every cache hit counts one, several times a page: the labelled children are made once here,
# as the request middleware keeps its own (`labels()` validates and locks on every call, which
# cost a cachified() hit a third of its time).
_CACHE_EVENT_COUNTERS = {kind: CACHE_EVENTS.labels(kind) for kind in CACHE_EVENT_KINDS | {OTHER}}


def cache_event(event: str) -> None:
    _CACHE_EVENT_COUNTERS.get(event, _CACHE_EVENT_COUNTERS[OTHER]).inc()


def cache_degraded(*, fault: str) -> None:
    CACHE_DEGRADED.labels(fault if fault in CACHE_FAULTS else OTHER).inc()


# --- Blog ------------------------------------------------------------------------------------
COMPILE_FAILURES = Counter(
    "litesite_post_compile_failures",
    "Posts whose Markdown could not be compiled (an error, or slower than BLOG_COMPILE_TIMEOUT).",
)


def compile_failed() -> None:
    COMPILE_FAILURES.inc()


READ_REPORTS = Counter(
    "litesite_read_reports",
    "Read reports (POST /blog/<slug>/mark-read) by result and reason.",
    ["result", "reason"],
)
# Accepted: the ticket was good; the read was recorded, or the reader already had it this week.
READ_ACCEPTED = frozenset({"recorded", "already-read"})
# Refused: no reader, or blog/tickets.py's reasons.
READ_REFUSED = frozenset(
    {"no-reader", "missing", "forged", "other-post", "other-reader", "expired", "too-early"}
)


def read_report(reason: str) -> None:
    if reason in READ_ACCEPTED:
        READ_REPORTS.labels("accepted", reason).inc()
    else:
        READ_REPORTS.labels("refused", reason if reason in READ_REFUSED else OTHER).inc()


# --- Calls -----------------------------------------------------------------------------------
UPLOADS = Counter(
    "litesite_uploads",
    "Recordings sent (kind: call from a reader, response from staff) by result and reason.",
    ["kind", "result", "reason"],
)
UPLOAD_KINDS = frozenset({"call", "response"})
UPLOAD_REFUSALS = frozenset(
    {
        # calls/limits.py
        "closed",
        "too_many_waiting",
        "daily_budget",
        "storage_low",
        "limit",
        # calls/uploads.py and calls/forms.py: the body, then the recording itself
        "body_too_large",
        "too_large",
        "required",
        "missing",
        "invalid",
        "empty",
        "not_audio",
        "too_long",
        "unchecked",
        # the recording was fine; a text field (title, description, keywords) was not
        "invalid_form",
    }
)


def upload_refusal_reason(form) -> str:
    """Why a recording form was refused: the limit, else the body's or the recording's error."""
    if form.refusal is not None:
        return form.refusal.code
    errors = form.errors.as_data()
    for field in ("__all__", "audio"):
        for error in errors.get(field, ()):
            if error.code:
                return error.code
    return "invalid_form"


def upload_accepted(*, kind: str) -> None:
    UPLOADS.labels(kind if kind in UPLOAD_KINDS else OTHER, "accepted", "stored").inc()


def upload_refused(*, kind: str, form) -> None:
    reason = upload_refusal_reason(form)
    UPLOADS.labels(
        kind if kind in UPLOAD_KINDS else OTHER,
        "refused",
        reason if reason in UPLOAD_REFUSALS else OTHER,
    ).inc()


PUBLISH_SECONDS = Histogram(
    "litesite_publish_duration_seconds",
    "Publishing a call as an episode (checks, ffmpeg, the transaction and the email), by outcome.",
    ["outcome"],
    buckets=(0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 90.0, 120.0, 180.0),
)
# calls.publishing's and calls.limits' exceptions, by class name (metrics imports no app).
PUBLISH_FAILURES = {
    "CannotPublish": "cannot_publish",
    "CallerNotEmailed": "caller_not_emailed",
    "StorageLow": "storage_low",
    "AudioProcessingError": "audio_failed",
}


def timed_publishing(publish):
    """Decorate calls.publishing.publish_call: its duration, whichever way it ends."""

    @functools.wraps(publish)
    def timed(*args, **kwargs):
        started = time.monotonic()
        try:
            episode = publish(*args, **kwargs)
        except Exception as error:
            outcome = PUBLISH_FAILURES.get(type(error).__name__, "error")
            PUBLISH_SECONDS.labels(outcome).observe(time.monotonic() - started)
            raise
        PUBLISH_SECONDS.labels("published").observe(time.monotonic() - started)
        return episode

    return timed
