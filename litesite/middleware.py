"""Writes go to the primary; reads see your own writes (see litesite/litefs.py).

On Fly every region has a read-only SQLite replica. This middleware:

- answers any unsafe method on a replica, before the view runs, with 409 and
  `fly-replay: instance=<primary>`, so Fly's edge re-sends the request to the primary;
- turns ReplayToPrimary (from ensure_primary()) and SQLite's read-only errors on a replica into
  the same replay, the latter logged as a bug. Only errors of the `default` (replicated) database
  count: the cache is a separate file every node may write, and its faults are its own;
- answers 503 + Retry-After when no primary is known or a replay would loop;
- after a request that wrote on the primary, sets LiteFS's `__txid` cookie; a replica serving a
  GET with that cookie waits for its own TXID to catch up, then replays rather than serve stale.
  The cookie is the client's to forge, so waiting is bounded: a TXID further ahead than
  replication could deliver within the wait replays at once, and only a few requests per process
  wait at a time (the rest replay at once);
- says on every response where it was served (X-Litesite-Instance/-Region/-Primary).

Standalone (no LiteFS) there is nothing to replay and no TXID, so no cookie is ever set: the
single node is always up to date. Static files (answered by WhiteNoise, further down the stack)
get the headers and nothing else.
"""

import logging
import sqlite3
import threading
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connections
from django.db.utils import DatabaseErrorWrapper
from django.http import HttpResponse
from django.http.response import ResponseHeaders
from django.urls import NoReverseMatch, reverse
from django.utils.functional import cached_property

from litesite import litefs, metrics

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Fly's edge cannot replay a request whose body is over 1 MB.
MAX_REPLAY_BODY_BYTES = 1_000_000
RETRY_AFTER_SECONDS = 1
TXID_POLL_SECONDS = 0.002
# How SQLite reports LiteFS refusing a write on a replica (shared/LITEFS.md, seen on v0.5.14):
# WAL mode gives SQLITE_IOERR_WRITE (778, "disk I/O error"), a rollback journal
# SQLITE_READONLY_DIRECTORY (1544). Any SQLITE_READONLY flavour means the same (a plain 8 is what a
# `mode=ro` or query_only connection gives); other I/O errors are real faults, not refusals.
_REFUSED_WRITE_CODES = frozenset({sqlite3.SQLITE_IOERR_WRITE})
# Without an error code (an exception built by hand, an older Python): the messages.
_READONLY_MESSAGES = ("attempt to write a readonly database", "disk i/o error")


def exception_chain(exc: BaseException):
    """`exc`, then what caused it or was being handled when it was raised, and so on."""
    seen = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += (current.__context__, current.__cause__)


def is_readonly_error(exc: BaseException) -> bool:
    """True for the errors SQLite raises when LiteFS refuses a write on a replica.

    It says nothing about *which* database raised it: only ReadOnlyErrorWatcher knows that.
    """
    # Django re-raises sqlite3's error as its own with the original as its cause, which carries
    # SQLite's extended code (Python 3.11+). Causes only: an error raised while another was being
    # handled is not that other error.
    causes = []
    while exc is not None and len(causes) < 8:
        causes.append(exc)
        exc = exc.__cause__
    codes = [getattr(e, "sqlite_errorcode", None) for e in causes]
    codes = [code for code in codes if isinstance(code, int)]
    if codes:
        return any(
            code in _REFUSED_WRITE_CODES or code & 0xFF == sqlite3.SQLITE_READONLY for code in codes
        )
    return any(
        type(e).__name__ == "OperationalError"
        and any(m in str(e).lower() for m in _READONLY_MESSAGES)
        for e in causes
    )


class ReadOnlyErrorWatcher(DatabaseErrorWrapper):
    """Django's error translation for the `default` connection, remembering SQLite refusing a
    write there on the current request's state.

    Every error of a connection passes through its `wrap_database_errors`: statements, BEGIN and
    COMMIT alike (execute wrappers never see COMMIT, where LiteFS in WAL mode often refuses). The
    exception remembered is the very object raised, so process_exception can tell it from the
    same message raised by the cache database, and the request is replayed even when an inner
    middleware turned the error into a 500 or a 400.
    """

    def __exit__(self, exc_type, exc_value, traceback):
        try:
            return super().__exit__(exc_type, exc_value, traceback)
        except Exception as exc:
            state = litefs.current_state()
            if state is not None and is_readonly_error(exc):
                state.readonly_error = exc
            raise

    @classmethod
    def watch(cls, database) -> None:
        """Put the watcher on `database` (a thread's connection wrapper), once."""
        if type(database.wrap_database_errors) is not cls:
            # A cached_property on the wrapper: assigning replaces it for this wrapper only.
            database.wrap_database_errors = cls(database)


def raised_by(exception: BaseException, recorded: BaseException | None) -> bool:
    """Is `recorded` the exception itself, or in its cause/context chain?"""
    return recorded is not None and any(e is recorded for e in exception_chain(exception))


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
        # One middleware per process: at most this many of its threads wait on replication at
        # once, whatever `__txid` cookies arrive; the others keep serving (see caught_up()).
        self.txid_waiters = threading.BoundedSemaphore(settings.LITEFS_TXID_MAX_WAITERS)

    @cached_property
    def health_path(self) -> str | None:
        try:
            return reverse("healthcheck")
        except NoReverseMatch:  # a URLconf without the health check (tests)
            return None

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
        if raw_cookie is not None and request.path == self.health_path:
            # The health check reports on this node as it is: it never waits, nor is replayed.
            raw_cookie = None
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

        ReadOnlyErrorWatcher.watch(connections["default"])
        response = self.get_response(request)

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
        state = litefs.current_state()
        # Never by its message alone: the cache database says the same words about its own file.
        if state is not None and raised_by(exception, state.readonly_error):
            return self.replay_readonly_error(request, state.readonly_error)
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
        # Anyone can send this header: only machine names go back out in fly-replay's state.
        visited = [hop for hop in src.get("state", "").split("+") if litefs.valid_hostname(hop)]
        sender = src.get("instance")
        if litefs.valid_hostname(sender) and sender not in visited:
            visited.append(sender)
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

        length = request.headers.get("content-length") or ""
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
