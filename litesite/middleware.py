"""Writes go to the primary; reads see your own writes (see litesite/litefs.py).

On Fly every region has a read-only SQLite replica. This middleware:

- answers any unsafe method on a replica, before the view runs, with 409 and
  `fly-replay: instance=<primary>`, so Fly's edge re-sends the request to the primary;
- turns ReplayToPrimary (from ensure_primary()) and SQLite's read-only errors on a replica into
  the same replay, the latter logged as a bug. Only errors of the `default` (replicated) database
  count, as its connection notes them (litefs.SiteDatabaseConnection): the cache is a separate
  file every node may write, and its faults are its own;
- answers 503 + Retry-After when no primary is known or a replay would loop;
- after a request that wrote on the primary, sets LiteFS's `__txid` cookie; a replica serving a
  GET with that cookie waits for its own TXID to catch up, then replays rather than serve stale.
  The cookie is the client's to forge, so waiting is bounded: a TXID further ahead than
  replication could deliver within the wait replays at once, and only a few requests per process
  wait at a time (the rest replay at once);
- says on every response where it was served (X-Litesite-Instance/-Region/-Primary).

Standalone (no LiteFS) there is nothing to replay and no TXID, so no cookie is ever set: the
single node is always up to date. Static files (answered by WhiteNoise, further down the stack)
get the headers and nothing else. The answers themselves (409 + fly-replay, 503, 413) are built by
litefs.replay_to_primary(), which other code uses too: nothing imports this module.
"""

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import NoReverseMatch, reverse
from django.utils.functional import cached_property

from litesite import litefs, metrics

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TXID_POLL_SECONDS = 0.002


class DatabaseChanges:
    """Did this request change the default database? SQLite counts changed rows itself
    (sqlite3's total_changes), which costs nothing per query, unlike wrapping every execute."""

    def __init__(self) -> None:
        self.database = connections["default"]
        self.before: sqlite3.Connection | None = self.database.connection
        self.changes = self.before.total_changes if self.before is not None else 0

    def happened(self) -> bool:
        after: sqlite3.Connection | None = self.database.connection
        if after is None:
            return False
        if after is not self.before:  # opened (or reopened) during the request
            return after.total_changes > 0
        return after.total_changes > self.changes


def where_served_headers(node: litefs.Node) -> dict[bool, dict[str, str]]:
    """The X-Litesite-* headers of `node`'s responses when it is primary and when it is not."""
    return {
        primary: {
            "X-Litesite-Instance": node.instance_id,
            "X-Litesite-Region": node.region,
            "X-Litesite-Primary": "true" if primary else "false",
        }
        for primary in (True, False)
    }


def view_path(request: HttpRequest) -> str:
    """The dotted path of the view that served `request` (its path when none resolved)."""
    match = request.resolver_match
    if match is None:
        return request.path
    view = getattr(match.func, "view_class", match.func)  # a class-based view's class
    return f"{view.__module__}.{getattr(view, '__qualname__', type(view).__qualname__)}"


class ReplicationMiddleware:
    """Sends writes to the primary, keeps reads consistent with a reader's own writes, and says
    on every response where it was served.

    First in the stack, so that static files, redirects and every other middleware's answers
    carry the X-Litesite-* headers too. One middleware rather than two: on a cheap page each
    layer of Django's middleware chain is a measurable share of the request. Static files skip
    the replication logic (they are the same on every node and never write), as LiteFS's own
    proxy lets them pass through.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.static_path = urlsplit(settings.STATIC_URL or "/static/").path or "/static/"
        self.served_headers: tuple[litefs.Where | None, dict[bool, dict[str, str]]] = (None, {})
        # One middleware per process: at most this many of its threads wait on replication at
        # once, whatever `__txid` cookies arrive; the others keep serving (see caught_up()).
        self.txid_waiters = threading.BoundedSemaphore(settings.LITEFS_TXID_MAX_WAITERS)

    @cached_property
    def health_path(self) -> str | None:
        try:
            return reverse("healthcheck")
        except NoReverseMatch:  # a URLconf without the health check (tests)
            return None

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        node = litefs.Node.from_settings()
        primary = node.is_primary
        if node.standalone or request.path_info.startswith(self.static_path):
            response = self.get_response(request)
        else:
            state = litefs.RequestState(node=node)
            token = litefs.enter_request(state)  # not `with request_scope()`: runs per request
            try:
                if primary:
                    response = self.serve_on_primary(request, node)
                else:
                    response = self.serve_on_replica(request, state)
            finally:
                litefs.leave_request(token)
        where, served = self.served_headers
        if where is not node.where:
            where, served = self.served_headers = (node.where, where_served_headers(node))
        for name, value in served[primary].items():
            response[name] = value
        return response

    def serve_on_primary(self, request: HttpRequest, node: litefs.Node) -> HttpResponseBase:
        """Run the view; after a write, hand out the `__txid` cookie a replica will wait for."""
        raw_cookie = request.COOKIES.get(litefs.TXID_COOKIE)
        changes = DatabaseChanges()
        response = self.get_response(request)
        if changes.happened():
            self.set_txid_cookie(response, node)
        elif raw_cookie is not None:
            wanted_txid = litefs.parse_txid(raw_cookie)
            txid = node.txid
            if wanted_txid is None or (txid is not None and wanted_txid > txid):
                # Malformed, or ahead of the primary itself: TXIDs restarted after a failover.
                # Waiting on it would only ever end in a replay, so drop it.
                response.delete_cookie(litefs.TXID_COOKIE, path="/")
        return response

    def serve_on_replica(
        self, request: HttpRequest, state: litefs.RequestState
    ) -> HttpResponseBase:
        """Replay writes and stale reads to the primary; serve the rest from this replica."""
        node = state.node
        if request.method not in SAFE_METHODS:
            return litefs.replay_to_primary(request, node=node, reason=f"{request.method} writes")
        raw_cookie = request.COOKIES.get(litefs.TXID_COOKIE)
        if raw_cookie is not None and request.path == self.health_path:
            # The health check reports on this node as it is: it never waits, nor is replayed.
            raw_cookie = None
        wanted_txid = litefs.parse_txid(raw_cookie)
        waiting_since = time.monotonic()
        if wanted_txid is not None and not self.caught_up(node, wanted_txid):
            response: HttpResponseBase = litefs.replay_to_primary(
                request, node=node, reason="this replica is behind your last write"
            )
            outcome = "replayed" if response.status_code == 409 else "timed_out"
            metrics.txid_waited(outcome=outcome, since=waiting_since)
            if response.status_code == 409:
                return response
            # No primary to ask: a disconnected replica still serves what it has.
        elif wanted_txid is not None:
            metrics.txid_waited(outcome="served", since=waiting_since)

        response = self.get_response(request)

        if response is not state.replay_response:
            # An inner layer may have turned ReplayToPrimary or a read-only error into its own
            # answer: a 500, or Django's 400 for a session it could not save.
            response = self.replay_after_swallowed_error(request, state) or response
        if raw_cookie is not None and wanted_txid is None:
            response.delete_cookie(litefs.TXID_COOKIE, path="/")  # malformed
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, litefs.ReplayToPrimary):
            return litefs.replay_to_primary(request, reason=exception.reason)
        state = litefs.current_state()
        # Never by its message alone: the cache database says the same words about its own file.
        readonly_error = state.readonly_error if state is not None else None
        if readonly_error is not None and litefs.raised_by(exception, readonly_error):
            return self.replay_readonly_error(request, readonly_error)
        return None

    # --- Replays --------------------------------------------------------------------------
    def replay_readonly_error(
        self, request: HttpRequest, exception: BaseException
    ) -> HttpResponse | None:
        # Looked at afresh: the request may have started before a failover.
        node = litefs.Node.from_settings()
        if node.is_primary:
            return None  # a real error on the primary: let it be a 500
        logger.error(
            "BUG: %s wrote to the database on replica %s without ensure_primary() (%s); "
            "replaying %s %s to the primary",
            view_path(request),
            node.instance_id,
            exception,
            request.method,
            request.path,
        )
        return litefs.replay_to_primary(request, node=node, reason="it wrote to the database")

    def replay_after_swallowed_error(
        self, request: HttpRequest, state: litefs.RequestState
    ) -> HttpResponse | None:
        """An inner layer turned ReplayToPrimary or a read-only error into a response."""
        if state.replay_reason is not None:
            return litefs.replay_to_primary(
                request, node=litefs.Node.from_settings(), reason=state.replay_reason
            )
        if state.readonly_error is not None:
            return self.replay_readonly_error(request, state.readonly_error)
        return None

    # --- Read-your-writes -----------------------------------------------------------------
    def caught_up(self, node: litefs.Node, wanted: int) -> bool:
        """Wait, polling `-pos`, until the local TXID reaches `wanted`; False after the bound.

        The cookie comes from the client, so what a wait may cost is bounded: a TXID further
        ahead than replication could deliver within the wait (LITEFS_TXID_MAX_AHEAD) is not
        waited for, nor is any while LITEFS_TXID_MAX_WAITERS requests of this process already
        wait. False means "ask the primary": always right, only further away.
        """
        txid = node.txid
        if txid is None:
            return False  # we cannot prove we are fresh: the primary can
        if txid >= wanted:
            return True
        if wanted - txid > settings.LITEFS_TXID_MAX_AHEAD:
            return False
        if not self.txid_waiters.acquire(blocking=False):
            return False
        try:
            deadline = time.monotonic() + settings.LITEFS_TXID_WAIT_SECONDS
            while txid < wanted:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(TXID_POLL_SECONDS)
                txid = node.read_txid()
                if txid is None:
                    return False
            return True
        finally:
            self.txid_waiters.release()

    def set_txid_cookie(self, response: HttpResponseBase, node: litefs.Node) -> None:
        txid = node.read_txid()  # read afresh: this request's write moved it
        if txid is None:
            return
        secure = settings.SESSION_COOKIE_SECURE
        response.set_cookie(
            litefs.TXID_COOKIE,
            litefs.format_txid(txid),
            max_age=litefs.TXID_COOKIE_MAX_AGE,
            path="/",
            httponly=True,
            secure=secure,
            samesite="Lax" if secure else None,
        )
