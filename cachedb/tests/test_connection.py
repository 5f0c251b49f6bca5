"""The kept-open raw connection: one per thread, opened lazily, reopened after a fork."""

import os
import threading

import pytest
from django.db import connections

from cachedb.connection import raw_connection

pytestmark = pytest.mark.django_db


def test_the_raw_connection_is_djangos_cache_connection_kept_open():
    first = raw_connection()
    assert first is connections["cache"].connection
    assert raw_connection() is first


def test_each_thread_gets_its_own_connection():
    seen = []

    def other_thread():
        seen.append(raw_connection())
        connections.close_all()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert seen[0] is not raw_connection()


def test_a_forked_child_opens_its_own_connection_instead_of_the_inherited_one():
    inherited = raw_connection()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, never return into pytest
        try:
            own = raw_connection()
            ok = own is not inherited and own.execute("SELECT 1").fetchone() == (1,)
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert os.waitstatus_to_exitcode(status) == 0
