"""How fast is a cachified() hit, compared with the raw SELECT under it and with Redis?

    .venv/bin/python bench/cache.py [--iterations 20000] [--seconds 10]

Prints, from one run on one machine:
1. the median cost of a hit through cachified() for a 5 KB JSON value, of a raw sqlite3
   primary-key SELECT of the same row from the same file, and of a redis-py GET of the same value
   from a local redis-server (started here on 127.0.0.1 on a free port with --save '', and
   stopped afterwards); the goals are hit <= 3x SELECT and hit <= Redis GET / 4;
2. 2 processes x 8 threads doing 95% reads / 5% writes over 1,000 keys through cachified():
   operations per second, errors (the goal is zero errors), and the p99 and worst call (the goal
   is a worst call under 0.5 s: a write that meets another process's lock waits at most the
   cache's short busy timeout, CACHEDB_BUSY_TIMEOUT, and is then skipped).

Everything runs against throwaway files in a temporary directory, never the site's own cache.
Figures are for this machine and this run only; compare ratios, not absolute numbers.
"""

import argparse
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench:post:5kb"
LOAD_KEYS = 1000


def five_kb_value() -> dict:
    paragraph = "<p>" + "SQLite is fast and close to the code. " * 10 + "</p>"
    value = {"slug": "bench", "title": "A post", "words": 1234, "html": ""}
    while len(json.dumps(value)) < 5 * 1024:
        value["html"] += paragraph
    return value


def setup_django(directory: str) -> None:
    os.environ.update(
        DEBUG="true",
        LOG_LEVEL="WARNING",
        DATABASE_URL=f"sqlite:///{directory}/site.sqlite3",
        CACHE_DATABASE_URL=f"sqlite:///{directory}/cache.sqlite3",
        DJANGO_SETTINGS_MODULE="litesite.settings",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def median_ns(call, iterations: int) -> float:
    for _ in range(min(1000, iterations)):  # warm up: statement caches, in-process tier, CPU
        call()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(iterations):
        started = clock()
        call()
        samples.append(clock() - started)
    return statistics.median(samples)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_get_median(text: str, iterations: int) -> float | None:
    server = shutil.which("redis-server")
    if server is None:
        print(
            "redis-server is not installed; for the comparison run "
            "`apt-get install -y redis-server` (Debian/Ubuntu) and `pip install redis`."
        )
        return None
    import redis

    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        client.set(KEY, text)
        assert client.get(KEY) == text.encode()
        return median_ns(lambda: client.get(KEY), iterations)
    finally:
        process.terminate()
        process.wait(timeout=10)


def hit_costs(iterations: int) -> None:
    from django.db import connections

    from cachedb.cachified import cachified

    value = five_kb_value()
    text = json.dumps(value, separators=(",", ":"))
    cachified(key=KEY, get_fresh_value=lambda: value, ttl=None)

    def hit():
        return cachified(key=KEY, get_fresh_value=lambda: None, ttl=None)

    assert hit() == value
    hit_ns = median_ns(hit, iterations)

    raw = sqlite3.connect(connections["cache"].settings_dict["NAME"])
    raw.execute("PRAGMA journal_mode=WAL")
    select = "SELECT value FROM cache_entry WHERE key = ?"
    assert json.loads(raw.execute(select, (KEY,)).fetchone()[0]) == value
    select_ns = median_ns(lambda: raw.execute(select, (KEY,)).fetchone(), iterations)
    redis_ns = redis_get_median(text, iterations)

    print(f"\nMedian cost of one read of a {len(text):,}-byte JSON value ({iterations:,} reads):")
    print(f"  cachified() hit           {hit_ns / 1000:8.2f} us")
    print(f"  raw sqlite3 SELECT        {select_ns / 1000:8.2f} us")
    if redis_ns is not None:
        print(f"  redis-py GET (loopback)   {redis_ns / 1000:8.2f} us")
    ratio = hit_ns / select_ns
    print(f"  hit / SELECT = {ratio:.2f}x (goal <= 3x): {'met' if ratio <= 3 else 'NOT met'}")
    if redis_ns is not None:
        speedup = redis_ns / hit_ns
        verdict = "met" if speedup >= 4 else "NOT met"
        print(f"  Redis GET / hit = {speedup:.1f}x (goal >= 4x): {verdict}")


def load_worker(directory: str, seconds: float, threads: int, results) -> None:
    """One process of the load test: `threads` threads reading 95% / writing 5%."""
    setup_django(directory)
    from django.db import connections

    from cachedb.cachified import cachified

    value = five_kb_value()
    ops = [0] * threads
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []
    deadline = time.monotonic() + seconds

    def run(slot: int) -> None:
        rng = random.Random(os.getpid() * 100 + slot)
        try:
            while time.monotonic() < deadline:
                key = f"bench:load:{rng.randrange(LOAD_KEYS)}"
                started = time.perf_counter()
                try:
                    if rng.random() < 0.05:
                        cachified(
                            key=key, get_fresh_value=lambda: value, ttl=None, force_fresh=True
                        )
                    else:
                        cachified(key=key, get_fresh_value=lambda: value, ttl=None)
                except Exception as error:
                    errors.append(repr(error))
                latencies[slot].append(time.perf_counter() - started)
                ops[slot] += 1
        finally:
            connections.close_all()

    workers = [threading.Thread(target=run, args=(slot,)) for slot in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    every = sorted(latency for slot in latencies for latency in slot)
    p99 = every[int(len(every) * 0.99)] if every else 0.0
    results.put((sum(ops), len(errors), errors[:3], p99, every[-1] if every else 0.0))


def load_test(directory: str, seconds: float, processes: int = 2, threads: int = 8) -> None:
    from cachedb.cachified import cachified

    value = five_kb_value()
    for n in range(LOAD_KEYS):
        cachified(key=f"bench:load:{n}", get_fresh_value=lambda: value, ttl=None)
    print(
        f"\nLoad: {processes} processes x {threads} threads, 95% reads / 5% writes over "
        f"{LOAD_KEYS:,} keys for {seconds:g} s ..."
    )
    context = get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(target=load_worker, args=(directory, seconds, threads, results))
        for _ in range(processes)
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    total = sum(outcome[0] for outcome in outcomes)
    errors = sum(outcome[1] for outcome in outcomes)
    p99 = max(outcome[3] for outcome in outcomes)
    worst = max(outcome[4] for outcome in outcomes)
    print(f"  {total:,} operations, {total / seconds:,.0f} ops/s ({elapsed:.1f} s incl. start-up)")
    print(f"  errors: {errors} (goal: 0): {'met' if errors == 0 else 'NOT met'}")
    print(
        f"  p99 call {p99 * 1000:.1f} ms, worst call {worst * 1000:.0f} ms (goal < 500 ms): "
        f"{'met' if worst < 0.5 else 'NOT met'}"
    )
    for _, _, samples, _, _ in outcomes:
        for sample in samples:
            print(f"    e.g. {sample}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=20_000, help="reads per median")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the load test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="litesite-bench-") as directory:
        setup_django(directory)
        from django.core.management import call_command

        call_command("migrate", database="cache", verbosity=0)
        hit_costs(args.iterations)
        load_test(directory, args.seconds)


if __name__ == "__main__":
    main()
