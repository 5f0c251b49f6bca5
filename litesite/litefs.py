"""What LiteFS says about this node: primary or replica, who the primary is, how far along it is.

LiteFS shows an application its state only through files in its FUSE mount and a small HTTP API
(README "Multi-region locally" and the LiteFS contract):

- `.primary` exists only on a replica that knows its primary and holds `hostname\\n`. It is absent
  on the primary *and* on a replica that lost its primary, so absence alone never means "primary":
  then LiteFS's `GET /info` decides (cached briefly, short timeout).
- `<db>-pos` is 34 bytes, `<16 hex TXID>/<16 hex checksum>\\n`.
- `.lag` is the replica's lag in milliseconds, `%+010d\\n`.

Every file is parsed strictly. A malformed one is "unknown" plus a warning: never a crash, and
never "primary" (a node that wrongly thinks it is primary would write to a read-only replica).

Without LiteFS (`LITEFS_DIR` unset) the node is standalone and simply the primary.

Within a request the middleware keeps one `Node`, so the request costs at most a stat and a small
read; outside a request (management commands) each call looks afresh.

What a replica does with a request that must write lives here too, beside ensure_primary():
`replay_to_primary()` builds the answer that sends it to the primary (409 + `fly-replay`, or the
clearest refusal when that cannot work), and `SiteDatabaseConnection` notes LiteFS refusing a
write on the site database, so the middleware can replay it (litesite/middleware.py).
"""

import contextlib
import contextvars
import json
import logging
import os
import re
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from functools import cache, cached_property, lru_cache
from typing import Any, TypeGuard

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from litesite import metrics

logger = logging.getLogger(__name__)

# LiteFS's own cookie name, so our middleware and LiteFS's proxy are interchangeable.
TXID_COOKIE = "__txid"
TXID_COOKIE_MAX_AGE = 5 * 60

POS_SIZE = 34
_POS_RE = re.compile(rb"\A([0-9a-f]{16})/([0-9a-f]{16})\n\Z")
# %+010d pads to at least ten characters; the "never synced" value +2147483647 has eleven.
_LAG_RE = re.compile(rb"\A([+-][0-9]{9,10})\n\Z")
_TXID_RE = re.compile(r"\A[0-9a-f]{16}\Z")
# A Fly machine id or any DNS hostname: letters, digits, dots, dashes, underscores.
_HOSTNAME_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,252}\Z")

# /info is asked only when `.primary` is absent. A second is long enough to keep the look-up off
# the hot path of the primary and short enough to notice a failover quickly.
INFO_CACHE_SECONDS = 1.0
INFO_TIMEOUT_SECONDS = 0.25

# Fly's edge cannot replay a request whose body is over 1 MB.
MAX_REPLAY_BODY_BYTES = 1_000_000
RETRY_AFTER_SECONDS = 1
# How SQLite reports LiteFS refusing a write on a replica (shared/LITEFS.md, seen on v0.5.14):
# WAL mode gives SQLITE_IOERR_WRITE (778, "disk I/O error"), a rollback journal
# SQLITE_READONLY_DIRECTORY (1544). Any SQLITE_READONLY flavour means the same (a plain 8 is what a
# `mode=ro` or query_only connection gives); other I/O errors are real faults, not refusals.
_REFUSED_WRITE_CODES = frozenset({sqlite3.SQLITE_IOERR_WRITE})
# Without an error code (an exception built by hand, an older Python): the messages.
_READONLY_MESSAGES = ("attempt to write a readonly database", "disk i/o error")


class ReplayToPrimary(Exception):
    """Raised by ensure_primary() on a replica; the middleware answers with a fly-replay."""

    def __init__(self, reason: str = "this request writes to the database") -> None:
        super().__init__(reason)
        self.reason = reason


class Role(Enum):
    PRIMARY = "primary"
    REPLICA = "replica"  # a replica that knows its primary
    NO_PRIMARY = "no-primary"  # a replica that lost its primary, or a state we cannot read


# --- Strict parsers ---------------------------------------------------------------------------
def parse_txid(value: str | None) -> int | None:
    """A TXID as LiteFS writes it in the `__txid` cookie (16 lower-case hex digits), else None."""
    if value is None or not _TXID_RE.match(value):
        return None
    return int(value, 16)


def format_txid(txid: int) -> str:
    return f"{txid:016x}"


def parse_pos(data: bytes) -> int | None:
    """The TXID from a `<db>-pos` file's bytes, else None."""
    match = _POS_RE.match(data)
    return int(match.group(1), 16) if match else None


def parse_lag(data: bytes) -> int | None:
    """Milliseconds of replication lag from `.lag`'s bytes, else None."""
    match = _LAG_RE.match(data)
    return int(match.group(1)) if match else None


def parse_primary_file(data: bytes) -> str | None:
    """The primary's hostname from `.primary`'s bytes (`hostname\\n`), else None."""
    if not data.endswith(b"\n"):
        return None
    try:
        hostname = data[:-1].decode("ascii")
    except UnicodeDecodeError:
        return None
    return hostname if _HOSTNAME_RE.match(hostname) else None


def valid_hostname(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(_HOSTNAME_RE.match(value))


@cache
def _machine_hostname() -> str:
    return socket.gethostname()


def instance_id() -> str:
    """This machine's id: FLY_MACHINE_ID on Fly (it is also the hostname LiteFS advertises)."""
    return settings.FLY_MACHINE_ID or _machine_hostname()


def read_small_file(path: str, limit: int) -> bytes:
    """Up to `limit` bytes, with bare system calls: this runs on every request."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, limit)
    finally:
        os.close(fd)


# --- LiteFS's HTTP API ------------------------------------------------------------------------
# `GET /info`'s JSON object, as LiteFS sent it (checked only for a boolean isPrimary).
Info = dict[str, Any]


class _InfoCache:
    """`GET /info` answers, kept for INFO_CACHE_SECONDS per API URL (failures too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Info | None]] = {}
        self._asking: set[str] = set()

    def get(self, api_url: str) -> Info | None:
        # A dict read is atomic; the lock only orders writers. This runs on every request
        # the primary serves.
        entry = self._entries.get(api_url)
        if entry and time.monotonic() - entry[0] < INFO_CACHE_SECONDS:
            return entry[1]
        with self._lock:
            if entry is not None and api_url in self._asking:
                # Another thread is asking LiteFS right now: its last answer will do meanwhile,
                # rather than every thread waiting on the API at once.
                return entry[1]
            self._asking.add(api_url)
        try:
            info = _fetch_info(api_url)
        finally:
            with self._lock:
                self._asking.discard(api_url)
        with self._lock:
            self._entries[api_url] = (time.monotonic(), info)
        return info

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _fetch_info(api_url: str) -> Info | None:
    url = api_url.rstrip("/") + "/info"
    try:
        with urllib.request.urlopen(url, timeout=INFO_TIMEOUT_SECONDS) as response:
            info = json.loads(response.read(64 * 1024))
    except (OSError, ValueError) as exc:  # URLError, timeouts and bad JSON alike
        logger.warning(
            "LiteFS API %s did not answer (%s); treating this node as a replica", url, exc
        )
        return None
    if not isinstance(info, dict) or not isinstance(info.get("isPrimary"), bool):
        logger.warning("LiteFS API %s answered without a boolean isPrimary: %.200r", url, info)
        return None
    return info


info_cache = _InfoCache()


# --- One node, looked at once -----------------------------------------------------------------
@dataclass(frozen=True)
class Where:
    """Where this node's LiteFS state lives: paths worked out once per configuration."""

    mount: str | None
    db_name: str
    api_url: str
    instance_id: str
    region: str

    # The paths exist only under LiteFS: a standalone node (mount None) never asks for them.
    @cached_property
    def primary_path(self) -> str:
        assert self.mount is not None
        return os.path.join(self.mount, ".primary")

    @cached_property
    def pos_path(self) -> str:
        assert self.mount is not None
        return os.path.join(self.mount, f"{self.db_name}-pos")

    @cached_property
    def lag_path(self) -> str:
        assert self.mount is not None
        return os.path.join(self.mount, ".lag")


@lru_cache(maxsize=16)
def _where(litefs_dir: str, db_name: str, api_url: str, machine_id: str, region: str) -> Where:
    return Where(litefs_dir or None, db_name, api_url, machine_id or _machine_hostname(), region)


_configured_where: Where | None = None
_WHERE_SETTINGS = frozenset(
    {"LITEFS_DIR", "LITEFS_DB_NAME", "LITEFS_API_URL", "FLY_MACHINE_ID", "FLY_REGION"}
)


@receiver(setting_changed)
def _forget_where(*, setting: str, **kwargs: object) -> None:
    """Settings change at run time only in tests (override_settings); follow them there."""
    global _configured_where
    if setting in _WHERE_SETTINGS:
        _configured_where = None


class Node:
    """What LiteFS says about this node. Each fact is read lazily and at most once."""

    def __init__(self, where: Where) -> None:
        self.where = where
        self.instance_id = where.instance_id
        self.region = where.region
        self.standalone = where.mount is None
        self._role: tuple[Role, str | None] | None = None

    @classmethod
    def from_settings(cls) -> "Node":
        # Worked out once, not five settings look-ups on every request (see _forget_where).
        global _configured_where
        where = _configured_where
        if where is None:
            where = _configured_where = _where(
                settings.LITEFS_DIR,
                settings.LITEFS_DB_NAME,
                settings.LITEFS_API_URL,
                settings.FLY_MACHINE_ID,
                settings.FLY_REGION,
            )
        return cls(where)

    def _role_and_primary(self) -> tuple[Role, str | None]:
        # Memoised by hand: Python 3.11's cached_property takes a lock on every first access,
        # and every request looks at a new Node.
        role = self._role
        if role is None:
            role = self._role = self._look_up_role()
        return role

    def _look_up_role(self) -> tuple[Role, str | None]:
        if self.standalone:
            return Role.PRIMARY, None
        path = self.where.primary_path
        # access() answers "absent" without raising: the primary asks this on every request.
        if not os.access(path, os.F_OK):
            return self._role_from_api()
        try:
            data = read_small_file(path, 512)
        except FileNotFoundError:  # it went away just now
            return self._role_from_api()
        except OSError as exc:
            logger.warning("Cannot read %s (%s); the primary is unknown", path, exc)
            return Role.NO_PRIMARY, None
        hostname = parse_primary_file(data)
        if hostname is None:
            logger.warning("Malformed %s (%.80r); the primary is unknown", path, data)
            return Role.NO_PRIMARY, None
        if hostname == self.instance_id:
            # Only a replica has .primary; naming ourselves would make us replay to ourselves.
            logger.warning("%s names this node (%s); the primary is unknown", path, hostname)
            return Role.NO_PRIMARY, None
        return Role.REPLICA, hostname

    def _role_from_api(self) -> tuple[Role, str | None]:
        info = info_cache.get(self.where.api_url)
        if info is None:
            return Role.NO_PRIMARY, None
        if info["isPrimary"]:
            return Role.PRIMARY, None
        primary = info.get("primary")
        hostname = primary.get("hostname") if isinstance(primary, dict) else None
        if valid_hostname(hostname) and hostname != self.instance_id:
            return Role.REPLICA, hostname
        return Role.NO_PRIMARY, None

    @property
    def role(self) -> Role:
        return self._role_and_primary()[0]

    @property
    def is_primary(self) -> bool:
        return self.role is Role.PRIMARY

    @property
    def primary_hostname(self) -> str | None:
        """The primary's hostname: ours when we are the primary under LiteFS; None if unknown."""
        role, hostname = self._role_and_primary()
        if role is Role.PRIMARY:
            return None if self.standalone else self.instance_id
        return hostname

    def read_txid(self) -> int | None:
        """The local TXID from `<db>-pos`, read now (not memoised: waiting polls it)."""
        if self.standalone:
            return None
        path = self.where.pos_path
        try:
            data = read_small_file(path, POS_SIZE + 1)
        except OSError as exc:
            logger.warning("Cannot read %s (%s); the local TXID is unknown", path, exc)
            return None
        txid = parse_pos(data)
        if txid is None:
            logger.warning("Malformed %s (%.80r); the local TXID is unknown", path, data)
        return txid

    @cached_property
    def txid(self) -> int | None:
        return self.read_txid()

    @cached_property
    def lag_ms(self) -> int | None:
        """Replication lag in milliseconds from `.lag` (0 on the primary), None if unknown."""
        if self.standalone:
            return 0
        path = self.where.lag_path
        try:
            data = read_small_file(path, 64)
        except OSError:
            return None
        lag = parse_lag(data)
        if lag is None:
            logger.warning("Malformed %s (%.80r); the lag is unknown", path, data)
        return lag


# --- The current request ----------------------------------------------------------------------
@dataclass
class RequestState:
    """What the middleware and ensure_primary() share about the request being served."""

    node: Node
    replay_reason: str | None = None
    # The site database's own refusal of a write (see SiteDatabaseConnection), as sqlite3 raised it.
    readonly_error: Exception | None = field(default=None, repr=False)
    # The answer replay_to_primary() built for this request, if any: whoever returns it has
    # answered the request, and the middleware must not replay it a second time.
    replay_response: HttpResponse | None = field(default=None, repr=False)


_current: contextvars.ContextVar[RequestState | None] = contextvars.ContextVar(
    "litefs_request_state", default=None
)


def enter_request(state: RequestState) -> contextvars.Token[RequestState | None]:
    """Make `state` the current request's (the middleware does this); undo with leave_request."""
    return _current.set(state)


def leave_request(token: contextvars.Token[RequestState | None]) -> None:
    _current.reset(token)


@contextlib.contextmanager
def request_scope(state: RequestState) -> Iterator[RequestState]:
    token = enter_request(state)
    try:
        yield state
    finally:
        leave_request(token)


def current_state() -> RequestState | None:
    return _current.get()


def current_node() -> Node:
    """The request's node (looked at once per request), or a fresh look outside a request."""
    state = _current.get()
    return state.node if state is not None else Node.from_settings()


def ensure_primary(reason: str = "this request writes to the database") -> None:
    """Call before writing during a safe (GET/HEAD) request.

    On a replica this raises ReplayToPrimary, which the middleware answers with a replay to the
    primary. Standalone and on the primary it does nothing.
    """
    state = _current.get()
    node = state.node if state is not None else Node.from_settings()
    if node.is_primary:
        return
    if state is not None:
        # Remembered so the middleware can still replay when an inner middleware turned the
        # exception into a 500 before it reached us.
        state.replay_reason = reason
    raise ReplayToPrimary(reason)


def primary_hostname() -> str | None:
    """The primary's hostname (Fly machine id) when running under LiteFS, else None."""
    return current_node().primary_hostname


def is_primary() -> bool:
    return current_node().is_primary


# --- Sending a request to the primary ---------------------------------------------------------
def parse_replay_src(header: str) -> dict[str, str]:
    """`instance=a;region=b;t=1;state=c` -> {"instance": "a", ...}; junk fields are dropped."""
    fields: dict[str, str] = {}
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            fields[key.lower()] = value
    return fields


def _unavailable(message: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def replay_to_primary(
    request: HttpRequest, *, reason: str, node: Node | None = None
) -> HttpResponse:
    """The answer that sends `request` to the primary: 409 + `fly-replay`, or the clearest
    refusal when a replay cannot work (503 + Retry-After: no primary, or a loop; 413: a body Fly
    cannot replay).

    For code that must answer a request itself (a middleware's process_request, where a raised
    ReplayToPrimary would first be logged as a 500); views call ensure_primary() instead.
    """
    state = _current.get()
    if node is None:
        node = state.node if state is not None else Node.from_settings()
    response = _replay_response(request, node=node, reason=reason)
    if state is not None:
        state.replay_response = response
    return response


def _replay_response(request: HttpRequest, *, node: Node, reason: str) -> HttpResponse:
    target = node.primary_hostname
    if node.is_primary or target is None or target == node.instance_id:
        logger.warning(
            "No primary known; cannot run %s %s (%s)", request.method, request.path, reason
        )
        metrics.replay(reason=reason, outcome="no_primary")
        return _unavailable("No primary database is reachable right now. Please retry shortly.")

    src = parse_replay_src(request.headers.get("fly-replay-src", ""))
    # Anyone can send this header: only machine names go back out in fly-replay's state.
    visited = [hop for hop in src.get("state", "").split("+") if valid_hostname(hop)]
    sender = src.get("instance")
    if valid_hostname(sender) and sender not in visited:
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
        return _unavailable("The primary database is moving. Please retry shortly.")

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
        return HttpResponse(
            "This upload is larger than 1 MB (or of unknown size) and reached a read-only copy "
            "of the site, which cannot forward it. Send it to the primary with the header "
            f"fly-force-instance-id: {target}\n",
            status=413,
            content_type="text/plain; charset=utf-8",
        )

    visited.append(node.instance_id)
    metrics.replay(reason=reason, outcome="replayed")
    response = HttpResponse(
        f"This request must run on the primary ({target}): {reason}. Replaying it there.\n",
        status=409,
        content_type="text/plain; charset=utf-8",
    )
    response["fly-replay"] = f"instance={target};state={'+'.join(visited)}"
    return response


# --- LiteFS refusing a write ------------------------------------------------------------------
def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what caused it or was being handled when it was raised, and so on."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += (current.__context__, current.__cause__)


def raised_by(exception: BaseException, recorded: BaseException | None) -> bool:
    """Is `recorded` the exception itself, or in its cause/context chain?"""
    return recorded is not None and any(e is recorded for e in exception_chain(exception))


def is_readonly_error(exc: BaseException) -> bool:
    """True for the errors SQLite raises when LiteFS refuses a write on a replica.

    It says nothing about *which* database raised it: only SiteDatabaseConnection knows that.
    """
    # Django re-raises sqlite3's error as its own with the original as its cause, which carries
    # SQLite's extended code (Python 3.11+). Causes only: an error raised while another was being
    # handled is not that other error.
    causes: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and len(causes) < 8:
        causes.append(link)
        link = link.__cause__
    found = [getattr(e, "sqlite_errorcode", None) for e in causes]
    codes = [code for code in found if isinstance(code, int)]
    if codes:
        return any(
            code in _REFUSED_WRITE_CODES or code & 0xFF == sqlite3.SQLITE_READONLY for code in codes
        )
    return any(
        type(e).__name__ == "OperationalError"
        and any(m in str(e).lower() for m in _READONLY_MESSAGES)
        for e in causes
    )


def _note_refusal(exc: sqlite3.Error) -> None:
    state = _current.get()
    if state is not None and is_readonly_error(exc):
        state.readonly_error = exc


class SiteDatabaseConnection(sqlite3.Connection):
    """The site database's sqlite3 connection (its `factory` in settings.DATABASES).

    Notes on the request being served when SQLite refuses a write the way it does on a LiteFS
    replica, wherever that happens: in a statement, at BEGIN or at COMMIT (where LiteFS in WAL
    mode often refuses, and which Django's execute wrappers never see). The error noted is the
    very object sqlite3 raised, which Django's own error then carries as its cause: the
    middleware replays only that error, never the same words from the cache database, a file of
    this machine that the primary cannot fix.
    """

    def cursor(  # type: ignore[override]  # Django always passes its cursor class, never None
        self, factory: type[sqlite3.Cursor] = sqlite3.Cursor
    ) -> sqlite3.Cursor:
        return super().cursor(_noting_refusals(factory))

    def commit(self) -> None:
        try:
            super().commit()
        except sqlite3.Error as exc:
            _note_refusal(exc)
            raise


@cache
def _noting_refusals(cursor_class: type[sqlite3.Cursor]) -> type[sqlite3.Cursor]:
    """`cursor_class` (whichever Django's backend asks for), noting refused writes."""

    # The base is chosen at run time, which mypy cannot follow: a sqlite3.Cursor subclass.
    class NotingCursor(cursor_class):  # type: ignore[valid-type, misc]
        def execute(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().execute(*args, **kwargs)
            except sqlite3.Error as exc:
                _note_refusal(exc)
                raise

        def executemany(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().executemany(*args, **kwargs)
            except sqlite3.Error as exc:
                _note_refusal(exc)
                raise

    NotingCursor.__name__ = NotingCursor.__qualname__ = f"Noting{cursor_class.__name__}"
    return NotingCursor
