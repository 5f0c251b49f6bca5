"""Error pages that never touch the database, so they render even when it is the problem.

SQLite failures that pass by themselves — another writer holding the lock past the busy timeout,
a full disk — are not bugs: the visitor gets 503 with Retry-After instead of a 500. JSON clients
(the read reports) get JSON; a form that was posted gets a page that keeps what the reader typed,
with a button that sends it again. Nothing was written: SQLite rolled the transaction back.
"""

import logging
import sqlite3
import sys
import threading
import time

import django.db
from django.http import HttpResponse, HttpResponseNotFound, HttpResponseServerError, JsonResponse
from django.middleware.csrf import get_token
from django.template import loader

logger = logging.getLogger(__name__)

LOCKED = "locked"
FULL = "full"
# Seconds a client should wait before retrying: a lock usually passes within seconds; a full
# disk needs someone to act.
RETRY_AFTER = {LOCKED: 5, FULL: 60}
MESSAGES = {
    LOCKED: "The site is busy saving other changes and could not save yours in time.",
    FULL: "The site has run out of disk space and cannot save changes right now.",
}
# Fields never echoed back into the page.
PRIVATE_FIELDS = frozenset({"csrfmiddlewaretoken"})


def page_not_found(request, exception):
    template = loader.get_template("404.html")
    return HttpResponseNotFound(template.render({"request_path": request.path}))


def server_error(request):
    """Django's handler500: also reached by errors raised outside a view (a middleware)."""
    reason = transient_database_failure(sys.exc_info()[1])
    if reason is not None:
        return database_unavailable(request, reason)
    template = loader.get_template("500.html")
    return HttpResponseServerError(template.render({}))


def transient_database_failure(error: BaseException | None) -> str | None:
    """LOCKED or FULL when `error` is SQLite saying it could not write for now, else None.

    Read-only and I/O errors are not here: on a replica they mean "replay to the primary"
    (litesite.litefs), and on the primary they are real faults.
    """
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, sqlite3.Error | django.db.Error):
            code = getattr(error, "sqlite_errorcode", None)
            primary = code & 0xFF if isinstance(code, int) else None
            message = str(error).lower()
            if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "is locked" in message:
                return LOCKED
            if primary == sqlite3.SQLITE_FULL or "database or disk is full" in message:
                return FULL
        error = error.__cause__ or error.__context__
    return None


def database_unavailable(request, reason: str):
    """503 + Retry-After, in the form the client asked for."""
    logger.warning(
        "Database %s: answered 503 to %s %s", reason, request.method, request.get_full_path()
    )
    message = MESSAGES[reason]
    if request.get_preferred_type(["text/html", "application/json"]) == "application/json":
        response: HttpResponse = JsonResponse(
            {"error": message, "retry_after": RETRY_AFTER[reason]}, status=503
        )
    else:
        response = HttpResponse(
            loader.render_to_string("503.html", _page_context(request, message, reason)),
            status=503,
        )
    response["Retry-After"] = str(RETRY_AFTER[reason])
    # Read back by DatabaseBusyMiddleware below; Django's response types do not know it.
    response.database_failure = reason  # type: ignore[attr-defined]
    return response


def _page_context(request, message: str, reason: str) -> dict:
    posted = request.method == "POST"
    fields = (
        [
            (name, value)
            for name, values in request.POST.lists()
            for value in values
            if name not in PRIVATE_FIELDS
        ]
        if posted
        else []
    )
    return {
        "message": message,
        "retry_after": RETRY_AFTER[reason],
        "posted": posted,
        "fields": fields,
        "files": [upload.name for upload in request.FILES.values()] if posted else [],
        "action": request.get_full_path(),
        # The token the page's own form needs; making it reads no database.
        "csrf_token": get_token(request) if posted else "",
    }


class WriteBreaker:
    """Writes in this process stop queueing on a lock that was just found held.

    Each writer that meets another process's lock holds its request thread for the whole busy
    timeout; with every thread of a worker doing that, readers would wait too. So once a write
    has failed on the lock, the next writes are answered 503 at once for `OPEN_SECONDS`; then a
    single write (the probe) tries again while the others keep being answered at once, and its
    outcome closes or reopens the breaker. Nothing blocks: `allow()` only reads and sets flags.
    """

    OPEN_SECONDS = 1.0

    def __init__(self):
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._tripped = False
        self._probing = False

    def allow(self) -> tuple[bool, bool]:
        """(may this write run, is it the probe)."""
        with self._lock:
            if not self._tripped:
                return True, False
            if self._probing or time.monotonic() < self._open_until:
                return False, False
            self._probing = True
            return True, True

    def record(self, *, locked: bool, probe: bool) -> None:
        with self._lock:
            if locked:
                self._tripped, self._open_until = True, time.monotonic() + self.OPEN_SECONDS
            elif probe:
                self._tripped = False
            if probe:
                self._probing = False


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class DatabaseBusyMiddleware:
    """Turns a view's transient SQLite write failure into the 503 above (not a logged 500), and
    answers writes at once while the site database is known to be locked (WriteBreaker)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.breaker = WriteBreaker()

    def __call__(self, request):
        if request.method not in WRITE_METHODS:
            return self.get_response(request)
        allowed, probe = self.breaker.allow()
        if not allowed:
            return database_unavailable(request, LOCKED)
        # Django turns any exception below into a response (handler500 included), so the
        # outcome is always a response; 503s made here say why on `database_failure`.
        response = self.get_response(request)
        locked = getattr(response, "database_failure", None) == LOCKED
        self.breaker.record(locked=locked, probe=probe)
        return response

    def process_exception(self, request, exception):
        reason = transient_database_failure(exception)
        return None if reason is None else database_unavailable(request, reason)
