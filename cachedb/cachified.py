"""cachified(): get a value from this machine's cache file, or compute it, without ever hanging.

    value = cachified(key=f"post:{slug}:{content_hash}", get_fresh_value=compile_post, ttl=None)

Rules (the README section "The cache" has the long version):
- `ttl` seconds fresh (`None` forever; 0 = stale at once, refreshed on next use; negative = return
  the value without storing it), then `swr` seconds stale (`None` = without limit) during which
  the stale value is returned at once and refreshed on a background thread, one refresh per key.
- A missing, expired or `check_value`-rejected entry is fetched. `check_value` judges what comes
  out of the cache (is this stored value still current?); a value just fetched is current by
  definition and is returned and stored as it is, even if a stamp read before the fetch is
  already older than it. Callers of one key share one
  fetch: threads of a process through an in-process flight, processes of the machine through a
  lease row in the cache file (the others wait for the value, polling).
- `get_fresh_value` runs on a thread of its own so that every caller stops waiting after
  `timeout` seconds (default CACHEDB_FETCH_TIMEOUT) with `CacheFetchTimeout`, or with the cached
  value when `force_fresh` + `fallback_to_cache` left one. A timed-out fetch keeps running but its
  result is discarded, and the next caller starts a new fetch: a dead upstream costs each request
  at most `timeout`, never a hang. The fetch sees the caller's context (so nested cachified()
  calls know their chain) and, when the caller is inside a transaction, the caller's database
  connection, so it reads what the caller would read.
- A fetch that asks for a key already being fetched up its own chain raises
  `CacheRecursionError` naming the chain, at once.
- `force_fresh` skips the cache; `fallback_to_cache` then returns the cached (fresh or stale)
  value if the fetch fails or times out.
- Values are JSON: store.py lists what round-trips; anything else raises `CacheValueError` when
  it is stored. Hot values are shared between callers by the in-process tier: treat them as
  read-only.
"""

import contextvars
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections

from cachedb import leases, reporting, store
from cachedb.errors import CacheError, CacheFetchTimeout, CacheRecursionError, CacheValueError

__all__ = [
    "CacheError",
    "CacheFetchTimeout",
    "CacheRecursionError",
    "CacheValueError",
    "cachified",
    "delete",
]

# Set for the rest of a request when staff add ?fresh to its URL (ServerTimingMiddleware): every
# cachified() value it uses is fetched anew, the cached one kept as a fallback.
fresh_requested: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "cachedb_fresh_requested", default=False
)
_chain: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "cachedb_key_chain", default=()
)

# While another process holds the lease, poll the file at this growing interval.
_POLL_FIRST = 0.002
_POLL_MAX = 0.05


@dataclass(frozen=True, slots=True)
class _Options:
    key: str
    get_fresh_value: Callable[[], Any]
    ttl: float | None
    swr: float | None
    check_value: Callable[[Any], bool] | None
    timeout: float


class _LeaseBusy(Exception):
    """Another process is already refreshing the key (background refreshes just stop)."""


class _Flight:
    """One fetch of one key in this process; every caller of the key waits on it."""

    def __init__(self, key: str, timeout: float):
        self.key = key
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def is_overdue(self) -> bool:
        return time.monotonic() >= self.deadline

    def finish(self, value: Any) -> None:
        if not self.done.is_set():
            self.value = value
            self.done.set()

    def fail(self, error: BaseException) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()


_flights: dict[str, _Flight] = {}
_flights_lock = threading.Lock()
# Keys whose background refresh found another process already refreshing: no new attempt (a
# thread and a write each) until this monotonic time.
_refresh_elsewhere_until: dict[str, float] = {}


def _forget_flights_in_child() -> None:
    """A forked child has none of its parent's fetch threads: it must not wait on their flights."""
    global _flights, _flights_lock, _refresh_elsewhere_until
    _flights, _flights_lock, _refresh_elsewhere_until = {}, threading.Lock(), {}


os.register_at_fork(after_in_child=_forget_flights_in_child)


def cachified(
    *,
    key: str,
    get_fresh_value: Callable[[], Any],
    ttl: float | None = 300,
    swr: float | None = 0,
    check_value: Callable[[Any], bool] | None = None,
    timeout: float | None = None,
    force_fresh: bool | None = None,
    fallback_to_cache: bool = True,
) -> Any:
    """The value for `key`: cached if fresh (or stale within swr), otherwise fetched once.

    `force_fresh` None means "if staff asked for it": see `fresh_requested`.
    """
    if force_fresh is None:
        force_fresh = fresh_requested.get()
    if not isinstance(key, str):
        raise TypeError(f"cachified() key must be a str, not {type(key).__name__}.")
    if timeout is not None and timeout <= 0:
        raise ValueError(f"cachified() timeout must be more than 0 seconds, not {timeout!r}.")
    chain = _chain.get()
    if key in chain:
        error = CacheRecursionError((*chain, key))
        reporting.log_event(reporting.RECURSION, key, chain=" -> ".join(error.chain))
        raise error
    started = time.perf_counter()
    now = time.time()
    cached = None
    if not force_fresh or fallback_to_cache:
        cached = _usable_entry(key, check_value, now=now)
    if cached is not None and not force_fresh and cached.is_fresh(now):
        elapsed = time.perf_counter() - started
        reporting.record("hit", elapsed)
        reporting.log_event(reporting.HIT, key, duration=elapsed)
        return cached.value
    options = _Options(
        key=key,
        get_fresh_value=get_fresh_value,
        ttl=ttl,
        swr=swr,
        check_value=check_value,
        timeout=settings.CACHEDB_FETCH_TIMEOUT if timeout is None else timeout,
    )
    if cached is not None and not force_fresh:
        _refresh_in_background(options)
        elapsed = time.perf_counter() - started
        reporting.record("stale", elapsed)
        reporting.log_event(reporting.STALE, key, duration=elapsed)
        return cached.value
    return _fetch(options, fallback=cached, started=started)


def delete(key: str) -> None:
    """Forget `key` on this machine (other machines keep theirs; put a content hash in keys)."""
    store.delete(key)


def _usable_entry(
    key: str, check_value: Callable[[Any], bool] | None, *, now: float
) -> store.Entry | None:
    """The stored entry if fresh or within swr and accepted by check_value; rejected ones go."""
    entry = store.read(key)
    if entry is None or not entry.is_usable(now):
        return None
    if check_value is not None and not check_value(entry.value):
        store.delete(key)
        return None
    return entry


def _fetch(options: _Options, *, fallback: store.Entry | None, started: float) -> Any:
    key = options.key
    with _flights_lock:
        flight = _flights.get(key)
        leading = flight is None or flight.is_overdue()
        if flight is None or leading:
            flight = _flights[key] = _Flight(key, options.timeout)
    if leading:
        reporting.log_event(reporting.MISS, key)
        _lead(flight, options, wait_for_other_process=True)
    else:
        reporting.log_event(reporting.WAIT, key)
    # A caller that joined may have a shorter timeout than the flight's leader.
    finished = flight.done.wait(timeout=max(0.0, started + options.timeout - time.perf_counter()))
    elapsed = time.perf_counter() - started
    error: BaseException
    if not finished or isinstance(flight.error, CacheFetchTimeout):
        reporting.record("timeout", elapsed)
        reporting.log_event(reporting.TIMEOUT, key, duration=elapsed)
        # Whichever limit ran out first: this caller's, or that of the fetch it joined.
        error = CacheFetchTimeout(key, options.timeout if not finished else flight.timeout)
    elif isinstance(flight.error, _LeaseBusy):
        # Joined a background refresh that left the key to another process: wait for that one.
        return _fetch(options, fallback=fallback, started=started)
    elif flight.error is not None:
        reporting.record("error", elapsed)
        error = flight.error
    else:
        reporting.record("miss" if leading else "wait", elapsed)
        return flight.value
    if fallback is not None and not isinstance(error, CacheRecursionError):
        reporting.log_event(reporting.FALLBACK, key, error=error)
        return fallback.value
    raise error


def _lead(flight: _Flight, options: _Options, *, wait_for_other_process: bool) -> None:
    """Fetch and store the value for the flight; always settles the flight by its deadline."""
    key = options.key
    owner = leases.new_owner()
    try:
        if not _take_lease(flight, options, owner, wait=wait_for_other_process):
            return
        job = _FetchJob(options)
        job.start()
        if not job.done.wait(timeout=max(0.0, flight.deadline - time.monotonic())):
            job.abandon()
            # The lease expires now too, so the next caller anywhere starts a fresh fetch.
            flight.fail(CacheFetchTimeout(key, options.timeout))
            return
        try:
            if job.error is not None:
                reporting.log_event(reporting.FETCH_FAILED, key, error=job.error)
                flight.fail(job.error)
                return
            if options.ttl is None or options.ttl >= 0:
                store.write(
                    key, job.value, job.text, ttl=options.ttl, swr=options.swr, now=time.time()
                )
            flight.finish(job.value)
        finally:
            leases.release(key, owner=owner)
    except Exception as error:  # a database error must still settle the flight
        flight.fail(error)
    finally:
        with _flights_lock:
            if _flights.get(key) is flight:
                del _flights[key]


def _take_lease(flight: _Flight, options: _Options, owner: str, *, wait: bool) -> bool:
    """Take the key's lease; while another process holds it, wait for its value instead.

    Returns False when the flight was settled without fetching here.
    """
    key = options.key
    if leases.try_acquire(key, owner=owner, seconds=options.timeout, now=time.time()):
        return True
    if not wait:
        flight.fail(_LeaseBusy(key))
        return False
    reporting.log_event(reporting.WAIT, key, on="another process")
    waiting_since = time.time()
    interval = _POLL_FIRST
    while True:
        entry = _concurrent_value(options, since=waiting_since)
        if entry is not None:
            flight.finish(entry.value)
            return False
        remaining = flight.deadline - time.monotonic()
        if remaining <= 0:
            flight.fail(CacheFetchTimeout(key, options.timeout))
            return False
        time.sleep(min(interval, remaining))
        interval = min(interval * 2, _POLL_MAX)
        if leases.try_acquire(key, owner=owner, seconds=options.timeout, now=time.time()):
            # The holder may have stored the value and released just before we took over.
            entry = _concurrent_value(options, since=waiting_since)
            if entry is not None:
                leases.release(key, owner=owner)
                flight.finish(entry.value)
                return False
            return True


def _concurrent_value(options: _Options, *, since: float) -> store.Entry | None:
    """A fresh entry another process stored for the key: the one this caller waited for.

    check_value is not asked about an entry stored after the wait began. That entry is the fetch
    this caller joined, as fresh as one it would have made itself: a version stamp read before
    the wait may already be older than the value (a change landed meanwhile), and rejecting it
    would refuse a value for being newer than the caller asked for.
    """
    now = time.time()
    entry = store.read(options.key)
    if entry is None or not entry.is_fresh(now):
        return None
    check = options.check_value
    if entry.created_at >= since or check is None or check(entry.value):
        return entry
    return None


class _FetchJob:
    """Runs get_fresh_value on its own thread, so the callers can stop waiting for it."""

    def __init__(self, options: _Options):
        self.options = options
        self.done = threading.Event()
        self.value: Any = None
        self.text = ""
        self.error: BaseException | None = None
        self._abandoned = False
        self._context = contextvars.copy_context()
        self._context.run(_chain.set, (*_chain.get(), options.key))
        # A caller inside a transaction lends its connection, so the fetch reads what it would.
        self._lent = {
            alias: connections[alias] for alias in connections if connections[alias].in_atomic_block
        }

    def start(self) -> None:
        for wrapper in self._lent.values():
            wrapper.inc_thread_sharing()
        name = f"cachedb-fetch {self.options.key[:60]}"
        threading.Thread(
            target=self._context.run, args=(self._run,), name=name, daemon=True
        ).start()

    def abandon(self) -> None:
        self._abandoned = True

    def _run(self) -> None:
        for alias, wrapper in self._lent.items():
            connections[alias] = wrapper
        try:
            value = self.options.get_fresh_value()
            self.text = store.encode(self.options.key, value)
            self.value = value
        except BaseException as error:  # handed to the waiting callers, raised there
            self.error = error
        finally:
            self._close_own_connections()
            self.done.set()
        if self._abandoned:
            reporting.log_event(reporting.LATE, self.options.key, error=self.error)

    def _close_own_connections(self) -> None:
        for alias in connections:
            if alias in self._lent:
                self._lent[alias].dec_thread_sharing()
            else:
                connections[alias].close()


def _refresh_in_background(options: _Options) -> None:
    with _flights_lock:
        flight = _flights.get(options.key)
        if flight is not None and not flight.is_overdue():
            return
        if _refresh_elsewhere_until.get(options.key, 0.0) > time.monotonic():
            return
        _refresh_elsewhere_until.pop(options.key, None)
        flight = _flights[options.key] = _Flight(options.key, options.timeout)
    context = contextvars.copy_context()
    context.run(reporting.stop_recording)
    name = f"cachedb-refresh {options.key[:60]}"
    threading.Thread(
        target=context.run, args=(_refresh, flight, options), name=name, daemon=True
    ).start()


def _refresh(flight: _Flight, options: _Options) -> None:
    key = options.key
    started = time.perf_counter()
    reporting.log_event(reporting.REFRESH_STARTED, key)
    try:
        _lead(flight, options, wait_for_other_process=False)
    finally:
        for alias in connections:
            connections[alias].close()
    elapsed = time.perf_counter() - started
    if isinstance(flight.error, _LeaseBusy):
        with _flights_lock:
            _refresh_elsewhere_until[key] = time.monotonic() + min(options.timeout, 1.0)
        reporting.log_event(reporting.REFRESH_SKIPPED, key, reason="another process is refreshing")
    elif flight.error is not None:
        reporting.log_event(reporting.REFRESH_FAILED, key, duration=elapsed, error=flight.error)
    else:
        reporting.log_event(reporting.REFRESH_SUCCEEDED, key, duration=elapsed)
