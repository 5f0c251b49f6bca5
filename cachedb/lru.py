"""What a process remembers in memory: a bounded map that forgets the least recently used first.

The site's one in-process memo, with one eviction policy, for everything a worker keeps beside
the cache database: cachedb's decoded entries (cachedb/store.py), the blog's rendered pages and
fragments (blog/fragments.py), its failed compiles (blog/content.py) and related posts
(blog/recommendations.py). Each user says what its keys are made of and how it knows an entry is
still right; this class only bounds the memory and is safe to share between threads.

It lives in cachedb, the bottom layer, so that every app may use it (see [tool.importlinter] in
pyproject.toml).
"""

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Every memo of this process, so that a forked child gets fresh locks (see below).
_all: "weakref.WeakSet[BoundedLRU[Any, Any]]" = weakref.WeakSet()


class BoundedLRU(Generic[K, V]):
    """At most `max_entries` values; a get or a put makes an entry the most recently used.

    With `max_entries` 0 nothing is remembered. None stands for "not remembered", so it is never
    a value. Values are shared between callers: treat them as read-only.
    """

    def __init__(self, max_entries: int) -> None:
        if max_entries < 0:
            raise ValueError(f"max_entries must be 0 or more, not {max_entries}")
        self.max_entries = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        _all.add(self)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        if not self.max_entries:
            return None
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        if not self.max_entries:
            return
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
            else:
                # Make room first: len() is read without the lock and must never see one too many.
                while len(self._entries) >= self.max_entries:
                    self._entries.popitem(last=False)
            self._entries[key] = value

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        """The remembered value, or `compute()` remembered. The lock is not held while
        computing: two threads may both compute a missing value, and the last one is kept."""
        value = self.get(key)
        if value is None:
            value = compute()
            self.put(key, value)
        return value

    def discard(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _new_locks_in_child() -> None:
    """A lock held by another thread of the parent at fork time would never be released in
    the child (gunicorn forks its workers)."""
    for memo in list(_all):
        memo._lock = threading.Lock()


os.register_at_fork(after_in_child=_new_locks_in_child)
