"""BoundedLRU: the one in-process memo, bounded, least recently used first out."""

import os
import signal
import threading

import pytest

from cachedb.lru import BoundedLRU


def test_it_keeps_at_most_its_size_forgetting_the_least_recently_used():
    memo = BoundedLRU(2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1  # "b" is now the least recently used
    memo.put("c", 3)
    assert (memo.get("a"), memo.get("b"), memo.get("c")) == (1, None, 3)
    assert len(memo) == 2


def test_putting_a_key_again_replaces_its_value_and_makes_it_recent():
    memo = BoundedLRU(2)
    memo.put("a", 1)
    memo.put("b", 2)
    memo.put("a", 10)
    memo.put("c", 3)
    assert (memo.get("a"), memo.get("b")) == (10, None)


def test_get_or_compute_computes_once_per_remembered_key():
    memo = BoundedLRU(2)
    computed = []

    def compute(value):
        return lambda: computed.append(value) or value

    assert memo.get_or_compute(("a",), compute("A")) == "A"
    assert memo.get_or_compute(("b",), compute("B")) == "B"
    assert memo.get_or_compute(("a",), compute("never")) == "A"
    assert memo.get_or_compute(("c",), compute("C")) == "C"
    assert memo.get_or_compute(("a",), compute("again")) == "A"
    assert memo.get_or_compute(("b",), compute("B2")) == "B2"
    assert computed == ["A", "B", "C", "B2"]


def test_with_size_zero_nothing_is_remembered():
    memo = BoundedLRU(0)
    memo.put("a", 1)
    assert memo.get("a") is None
    assert memo.get_or_compute("a", lambda: 2) == 2
    assert len(memo) == 0


def test_discard_and_clear_forget_entries():
    memo = BoundedLRU(3)
    for key in "abc":
        memo.put(key, key.upper())
    memo.discard("b")
    memo.discard("missing")
    assert (memo.get("a"), memo.get("b")) == ("A", None)
    memo.clear()
    assert len(memo) == 0


def test_a_negative_size_is_refused():
    with pytest.raises(ValueError, match="0 or more, not -1"):
        BoundedLRU(-1)


def test_threads_sharing_a_memo_never_see_more_than_its_size():
    memo = BoundedLRU(50)
    sizes = []

    def work(offset):
        for n in range(2000):
            memo.get_or_compute((offset, n % 120), lambda n=n: n)
            sizes.append(len(memo))

    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(sizes) <= 50


def test_a_forked_child_can_use_a_memo_whose_lock_the_parent_held():
    memo = BoundedLRU(2)
    memo.put("a", 1)
    with memo._lock:  # another thread of the parent, mid-update, at the moment of the fork
        pid = os.fork()
        if pid == 0:  # the child: exits 0 only if the memo works, killed if it hangs
            signal.alarm(10)
            ok = memo.get("a") == 1
            memo.put("b", 2)
            os._exit(0 if ok and memo.get("b") == 2 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
