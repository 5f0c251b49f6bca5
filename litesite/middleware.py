"""Writes go to the primary; reads see your own writes (see litesite/litefs.py).

On Fly every region has a read-only SQLite replica. This middleware:

- answers any unsafe method on a replica, before the view runs, with 409 and
  `fly-replay: instance=<primary>`, so Fly's edge re-sends the request to the primary;
- turns ReplayToPrimary (from ensure_primary()) and SQLite's read-only errors on a replica into
  the same replay, the latter logged as a bug;
- answers 503 + Retry-After when no primary is known or a replay would loop;
- after a request that wrote on the primary, sets LiteFS's `__txid` cookie; a replica serving a
  GET with that cookie waits for its own TXID to catch up, then replays rather than serve stale;
- says on every response where it was served (X-Litesite-Instance/-Region/-Primary).

Standalone (no LiteFS) there is nothing to replay and no TXID, so no cookie is ever set: the
single node is always up to date. Static files (answered by WhiteNoise, further down the stack)
get the headers and nothing else.
"""

import logging
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connections
from django.http import HttpResponse
from django.http.response import ResponseHeaders

from litesite import litefs, metrics

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Fly's edge cannot replay a request whose body is over 1 MB.
MAX_REPLAY_BODY_BYTES = 1_000_000
RETRY_AFTER_SECONDS = 1
TXID_POLL_SECONDS = 0.002
# What SQLite says when LiteFS refuses a write on a replica: rollback journal, then WAL mode.
_READONLY_MESSAGES = ("attempt to write a readonly database", "disk i/o error")


def is_readonly_error(exc: BaseException) -> bool:
    """True for the errors SQLite raises when LiteFS refuses a write on a replica."""
    message = str(exc).lower()
    return type(exc).__name__ == "OperationalError" and any(
        m in message for m in _READONLY_MESSAGES
    )


class ReadOnlyErrorWatcher:
    """An execute wrapper on a replica's `default`: remembers SQLite refusing a write, so the
    request is replayed even when an inner middleware turned the error into a 500."""

    def __init__(self, state: litefs.RequestState):
        self.state = state

    def __call__(self, execute, sql, params, many, context):
        try:
            return execute(sql, params, many, context)
        except Exception as exc:
            if is_readonly_error(exc):
                self.state.readonly_error = exc
            raise


class DatabaseChanges:
    """Did this request change the default database? SQLite counts changed rows itself
    (sqlite3's total_changes), which costs nothing per query, unlike wrapping every execute."""

    def __init__(self):
        self.database = connections["default"]
        self.before = self.database.connection
        self.changes = self.before.total_changes if self.before is not None else 0

    def happened(self) -> bool:
        after = self.database.connection
        if after is None:
            return False
        if after is not self.before:  # opened (or reopened) during the request
            return after.total_changes > 0
        return after.total_changes > self.changes


def parse_replay_src(header: str) -> dict[str, str]:
    """`instance=a;region=b;t=1;state=c` -> {"instance": "a", ...}; junk fields are dropped."""
    fields = {}
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            fields[key.lower()] = value
    return fields


def unavailable(message: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.litesite_replay = True
    return response


def replay_to_primary(request, *, reason: str) -> HttpResponse:
    """The response that sends `request` to the primary: 409 + fly-replay, or 503/413.

    For code that answers a request itself instead of raising ReplayToPrimary (a middleware's
    process_request, say, where a raised exception would first be logged as a 500).
    """
    return ReplicationMiddleware.to_primary(request, litefs.current_node(), reason=reason)


def where_served_headers(node: litefs.Node) -> dict[bool, dict]:
    """The X-Litesite-* headers of `node`'s responses when it is primary and when it is not,
    in ResponseHeaders' own storage form."""
    return {
        primary: ResponseHeaders(
            {
                "X-Litesite-Instance": node.instance_id,
                "X-Litesite-Region": node.region,
                "X-Litesite-Primary": "true" if primary else "false",
            }
        )._store
        for primary in (True, False)
    }


class ReplicationMiddleware:
    """Sends writes to the primary, keeps reads consistent with a reader's own writes, and says
    on every response where it was served.

    First in the stack, so that static files, redirects and every other middleware's answers
    carry the X-Litesite-* headers too. One middleware rather than two: on a cheap page each
    layer of Django's middleware chain is a measurable share of the request. Static files skip
    the replication logic (they are the same on every node and never write), as LiteFS's own
    proxy lets them pass through.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.static_path = urlsplit(settings.STATIC_URL or "/static/").path or "/static/"
        self.served_headers: tuple[litefs.Where | None, dict] = (None, {})

    def __call__(self, request):
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
        # Django checks a header's name and value on every assignment; these three are the same
        # on every response a node serves, so they are checked once (by ResponseHeaders itself)
        # and copied in as ResponseHeaders stores them.
        where, served = self.served_headers
        if where is not node.where:
            where, served = self.served_headers = (node.where, where_served_headers(node))
        response.headers._store.update(served[primary])
        return response

    def serve_on_primary(self, request, node: litefs.Node):
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

    def serve_on_replica(self, request, state: litefs.RequestState):
        """Replay writes and stale reads to the primary; serve the rest from this replica."""
        node = state.node
        if request.method not in SAFE_METHODS:
            return self.to_primary(request, node, reason=f"{request.method} writes")
        raw_cookie = request.COOKIES.get(litefs.TXID_COOKIE)
        wanted_txid = litefs.parse_txid(raw_cookie)
        waiting_since = time.monotonic()
        if wanted_txid is not None and not self.caught_up(node, wanted_txid):
            response = self.to_primary(
                request, node, reason="this replica is behind your last write"
            )
            outcome = "replayed" if response.status_code == 409 else "timed_out"
            metrics.txid_waited(outcome=outcome, since=waiting_since)
            if response.status_code == 409:
                return response
            # No primary to ask: a disconnected replica still serves what it has.
        elif wanted_txid is not None:
            metrics.txid_waited(outcome="served", since=waiting_since)

        # Django's execute_wrapper() without its generator-based context manager.
        wrappers = connections["default"].execute_wrappers
        watcher = ReadOnlyErrorWatcher(state)
        wrappers.append(watcher)
        try:
            response = self.get_response(request)
        finally:
            wrappers.remove(watcher)

        if not getattr(response, "litesite_replay", False):
            # An inner layer may have turned ReplayToPrimary or a read-only error into its own
            # answer: a 500, or Django's 400 for a session it could not save.
            response = self.replay_after_swallowed_error(request, state) or response
        if raw_cookie is not None and wanted_txid is None:
            response.delete_cookie(litefs.TXID_COOKIE, path="/")  # malformed
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, litefs.ReplayToPrimary):
            return self.to_primary(request, litefs.current_node(), reason=exception.reason)
        if is_readonly_error(exception):
            return self.replay_readonly_error(request, exception)
        return None

    # --- Replays --------------------------------------------------------------------------
    @staticmethod
    def to_primary(request, node: litefs.Node, *, reason: str) -> HttpResponse:
        """409 + fly-replay to the primary, or the clearest refusal when that cannot work."""
        target = node.primary_hostname
        if node.is_primary or target is None or target == node.instance_id:
            logger.warning(
                "No primary known; cannot run %s %s (%s)", request.method, request.path, reason
            )
            metrics.replay(reason=reason, outcome="no_primary")
            return unavailable("No primary database is reachable right now. Please retry shortly.")

        src = parse_replay_src(request.headers.get("fly-replay-src", ""))
        visited = [hop for hop in src.get("state", "").split("+") if litefs.valid_hostname(hop)]
        if src.get("instance") and src["instance"] not in visited:
            visited.append(src["instance"])
        if target in visited:
            logger.warning(
                "Not replaying %s %s to %s again (already replayed from %s)",
                request.method,
                request.path,
                target,
                ", ".join(visited),
            )
            metrics.replay(reason=reason, outcome="loop")
            return unavailable("The primary database is moving. Please retry shortly.")

        length = request.META.get("CONTENT_LENGTH") or ""
        # A chunked body announces no length: it may be any size, so Fly may not replay it.
        chunked = not length and "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        if chunked or (length.isdigit() and int(length) > MAX_REPLAY_BODY_BYTES):
            logger.warning(
                "%s %s has a %s body on replica %s; Fly cannot replay it to %s",
                request.method,
                request.path,
                "chunked" if chunked else f"{length}-byte",
                node.instance_id,
                target,
            )
            metrics.replay(reason=reason, outcome="too_large")
            response = HttpResponse(
                "This upload is larger than 1 MB (or of unknown size) and reached a read-only "
                "copy of the site, which "
                "cannot forward it. Send it to the primary with the header "
                f"fly-force-instance-id: {target}\n",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
            response.litesite_replay = True
            return response

        visited.append(node.instance_id)
        metrics.replay(reason=reason, outcome="replayed")
        response = HttpResponse(
            f"This request must run on the primary ({target}): {reason}. Replaying it there.\n",
            status=409,
            content_type="text/plain; charset=utf-8",
        )
        response["fly-replay"] = f"instance={target};state={'+'.join(visited)}"
        response.litesite_replay = True
        return response

    def replay_readonly_error(self, request, exception) -> HttpResponse | None:
        # Looked at afresh: the request may have started before a failover.
        node = litefs.Node.from_settings()
        if node.is_primary:
            return None  # a real error on the primary: let it be a 500
        match = request.resolver_match
        view = match._func_path if match else request.path
        logger.error(
            "BUG: %s wrote to the database on replica %s without ensure_primary() (%s); "
            "replaying %s %s to the primary",
            view,
            node.instance_id,
            exception,
            request.method,
            request.path,
        )
        return self.to_primary(request, node, reason="it wrote to the database")

    def replay_after_swallowed_error(self, request, state) -> HttpResponse | None:
        """An inner layer turned ReplayToPrimary or a read-only error into a response."""
        if state.replay_reason is not None:
            return self.to_primary(request, litefs.Node.from_settings(), reason=state.replay_reason)
        if state.readonly_error is not None:
            return self.replay_readonly_error(request, state.readonly_error)
        return None

    # --- Read-your-writes -----------------------------------------------------------------
    def caught_up(self, node: litefs.Node, wanted: int) -> bool:
        """Wait, polling `-pos`, until the local TXID reaches `wanted`; False after the bound."""
        txid = node.txid
        if txid is None:
            return False  # we cannot prove we are fresh: the primary can
        deadline = time.monotonic() + settings.LITEFS_TXID_WAIT_SECONDS
        while txid < wanted:
            if time.monotonic() >= deadline:
                return False
            time.sleep(TXID_POLL_SECONDS)
            txid = node.read_txid()
            if txid is None:
                return False
        return True

    def set_txid_cookie(self, response, node: litefs.Node) -> None:
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
