import logging
import threading
import time

import pytest

from cachedb import store


@pytest.fixture(autouse=True)
def fresh_memory_tier():
    """Each test starts with an empty in-process tier (the database is reset by pytest-django)."""
    store.reset_memory()
    yield
    store.reset_memory()


@pytest.fixture
def cache_events(caplog):
    """The `cache_event`s logged so far, in order; `.wait_for(event, count)` blocks on them."""
    caplog.set_level(logging.DEBUG, logger="cachedb")

    class Events(list):
        def refresh(self):
            self[:] = [
                (record.cache_event, record.cache_key)
                for record in list(caplog.records)
                if hasattr(record, "cache_event")
            ]
            return self

        def named(self, event):
            return [key for name, key in self.refresh() if name == event]

        def wait_for(self, event, count=1, within=10.0):
            deadline = time.monotonic() + within
            while len(self.named(event)) < count:
                if time.monotonic() > deadline:
                    raise AssertionError(f"no {count} x {event!r} events; saw {self.refresh()}")
                time.sleep(0.005)

    return Events()


@pytest.fixture
def gate():
    """An Event that tests hold closed to keep a fetch running; always opened at teardown."""
    event = threading.Event()
    yield event
    event.set()
