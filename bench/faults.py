"""Faults injected for real against a running gunicorn: does any visitor get a 500, do readers
keep answering, and is every acknowledged write stored?

    .venv/bin/python bench/faults.py [--seconds 8] [--writers 8] [--readers 4]

Needs root (it mounts a 64 MB tmpfs for the databases, so that "disk full" is a real full disk).
Starts gunicorn (2 workers x 4 gthread threads) on 127.0.0.1 on a free port with the sample posts,
then, one fault at a time, runs reader threads (post page, home page, search) and writer threads
(read reports from new anonymous readers, each after opening the post page as a browser does)
while the fault is on:

  standings race   a side process records team members' reads (moving the standings version)
                   while the writers move the post's latest read
  cache deleted    the cache file and its side files removed, then the workers replaced (HUP)
  cache garbage    garbage written over the cache file in place, under the running workers
  cache locked     another process holds the cache file's write lock for the whole phase
  site locked      another process holds the site database's write lock for --lock-seconds
  disk full        the tmpfs filled to the last byte for the whole phase

For each it prints: responses >= 500 (goal 0), 503s (the clean answer to a write that cannot be
done now), reader p50/p99 during the fault (goal for "site locked": p99 under 1.5 s), and writes
acknowledged (201) against rows stored (goal: equal).
"""

import argparse
import contextlib
import http.cookiejar
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blog import environment  # noqa: E402
from devcluster.harness import free_port, migrate_databases  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
POST = "why-sqlite-in-production"
READER_PATHS = ["/", f"/blog/{POST}/", "/blog/?q=sqlite", "/blog/"]


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.reader_latencies: list[float] = []
        self.acknowledged = 0

    def add(self, status: int, *, latency: float | None = None, acknowledged: bool = False):
        with self.lock:
            self.statuses[status] += 1
            if latency is not None:
                self.reader_latencies.append(latency)
            self.acknowledged += acknowledged

    def percentile(self, share: float) -> float:
        ordered = sorted(self.reader_latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


def request(opener, url: str, *, data: bytes | None = None, headers=None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with opener.open(req, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 599, b""  # no answer at all


def reader_loop(base: str, stop: threading.Event, tally: Tally) -> None:
    opener = urllib.request.build_opener()
    n = 0
    while not stop.is_set():
        path = READER_PATHS[n % len(READER_PATHS)]
        n += 1
        started = time.perf_counter()
        status, _ = request(opener, base + path)
        tally.add(status, latency=time.perf_counter() - started)


def writer_loop(base: str, stop: threading.Event, tally: Tally) -> None:
    """A new anonymous reader each time: open the post as a browser does, then report the read."""
    while not stop.is_set():
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        status, body = request(opener, f"{base}/blog/{POST}/")
        tally.add(status)
        if status != 200:
            continue
        html = body.decode()
        token = re.search(r'<meta name="csrf-token" content="([^"]+)">', html).group(1)
        fields = {}
        ticket = re.search(r'<meta name="read-ticket" content="([^"]+)">', html)
        if ticket:
            fields["ticket"] = ticket.group(1)
        data = urllib.parse.urlencode(fields).encode()
        status, _ = request(
            opener,
            f"{base}/blog/{POST}/mark-read",
            data=data,
            headers={"X-CSRFToken": token, "Accept": "application/json", "Referer": base + "/"},
        )
        tally.add(status, acknowledged=status == 201)


def count_reads(site: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{site}?mode=ro", uri=True, timeout=30)) as db:
        return db.execute("SELECT COUNT(*) FROM blog_postread").fetchone()[0]


def hold_lock(path: Path, seconds: float) -> subprocess.Popen:
    """Another process holding `path`'s write lock for `seconds` (or until killed)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({str(path)!r}, isolation_level=None, timeout=30)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            f"time.sleep({seconds})\n"
            "c.execute('ROLLBACK')\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def member_reads(site: Path, stop: threading.Event, tally: Tally) -> None:
    """Team members' reads landing from another process, each moving the standings version."""
    with contextlib.closing(sqlite3.connect(site, isolation_level=None, timeout=30)) as db:
        users = [row[0] for row in db.execute("SELECT id FROM accounts_user")]
        n = 0
        while not stop.is_set():
            n += 1
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT INTO blog_postread (id, created_at, user_id, client_id, post_slug) "
                "VALUES (?, datetime('now'), ?, NULL, ?)",
                (uuid.uuid4().hex, users[n % len(users)], f"bench-{n}"),
            )
            db.execute(
                "INSERT INTO blog_standingsversion (id, version) VALUES (1, 1) "
                "ON CONFLICT (id) DO UPDATE SET version = version + 1"
            )
            db.execute("COMMIT")
            tally.add(201, acknowledged=True)
            stop.wait(0.01)


def make_members(site: Path) -> None:
    with contextlib.closing(sqlite3.connect(site, isolation_level=None, timeout=30)) as db:
        for n, team in enumerate(("RED", "BLUE", "YELLOW") * 4):
            db.execute(
                "INSERT INTO accounts_user (id, email, first_name, role, team, created_at, "
                "updated_at) VALUES (?, ?, ?, 'MEMBER', ?, datetime('now'), datetime('now'))",
                (str(uuid.uuid4()), f"member{n}@example.com", f"Member {n}", team),
            )


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb") as out:
        chunk = b"\0" * 65536
        with contextlib.suppress(OSError):
            while True:
                out.write(chunk)
                out.flush()
    return filler


def start_gunicorn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    """The site as deployed (bench/blog_wsgi.py), its log in a file: faults make it talkative,
    and a full pipe would stall the workers."""
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "--workers", "2", "--threads", "4", "--worker-class", "gthread",
        "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT), "--pythonpath", str(ROOT),
        "--log-level", "warning", "--graceful-timeout", "5", "--timeout", "60",
        "bench.blog_wsgi:application",
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))


def wait_until_up(base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited: {log.read_text()[-2000:]}")
        status, _ = request(urllib.request.build_opener(), base + "/healthcheck")
        if status == 200:
            return
        time.sleep(0.1)
    raise SystemExit("gunicorn did not answer within 30 s")


def run_phase(name, base, site, *, seconds, writers, readers, start, stop_fault, side=None):
    tally = Tally()
    stop = threading.Event()
    before = count_reads(site)
    start()
    threads = [
        threading.Thread(target=reader_loop, args=(base, stop, tally)) for _ in range(readers)
    ]
    threads += [
        threading.Thread(target=writer_loop, args=(base, stop, tally)) for _ in range(writers)
    ]
    if side is not None:
        threads.append(threading.Thread(target=side, args=(site, stop, tally)))
    for thread in threads:
        thread.start()
    time.sleep(seconds)  # the load runs for a fixed time; this is a benchmark, not a test
    stop.set()
    for thread in threads:
        thread.join()
    stop_fault()
    stored = count_reads(site) - before
    errors = sum(
        count for status, count in tally.statuses.items() if status >= 500 and status != 503
    )
    print(
        f"{name:<16} {errors:>6} {tally.statuses[503]:>6} {tally.percentile(0.5) * 1000:>8.0f} "
        f"{tally.percentile(0.99) * 1000:>8.0f} {tally.acknowledged:>7} {stored:>7}"
        f"  {'ok' if errors == 0 and stored == tally.acknowledged else 'NOT MET'}"
    )
    return errors == 0 and stored == tally.acknowledged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each phase")
    parser.add_argument("--lock-seconds", type=float, default=10.0)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--readers", type=int, default=4)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("Run as root: the disk-full fault mounts a small tmpfs.")
    with tempfile.TemporaryDirectory(prefix="litesite-faults-") as scratch:
        directory = Path(scratch) / "volume"
        directory.mkdir()
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(directory)], check=True
        )
        server = None
        try:
            port = free_port()
            env = environment(directory, port)
            env["DJANGO_SETTINGS_MODULE"] = "bench.faults_settings"  # writers report at once
            migrate_databases(env)
            site, cache = directory / "site.sqlite3", directory / "cache.sqlite3"
            make_members(site)
            log = Path(scratch) / "gunicorn.log"
            server = start_gunicorn(env, port, log)
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base, server, log)
            for path in READER_PATHS:  # warm
                request(urllib.request.build_opener(), base + path)

            def nothing():
                pass

            def delete_cache():
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{cache}{suffix}").unlink(missing_ok=True)
                server.send_signal(signal.SIGHUP)

            def garbage_cache():
                with open(cache, "r+b") as handle:
                    handle.write(b"this is not a database any more " * 512)

            holders = []

            def lock(path, seconds):
                return lambda: holders.append(hold_lock(path, seconds))

            def release():
                while holders:
                    holder = holders.pop()
                    holder.kill()
                    holder.wait()

            fillers = []

            def fill_disk():
                fillers.append(fill(directory))

            def free_disk():
                while fillers:
                    fillers.pop().unlink()

            print(f"\n{args.writers} writers + {args.readers} readers, {args.seconds:g} s a phase")
            columns = ("fault", ">=500", "503", "p50 ms", "p99 ms", "acked", "stored")
            print("{:<16} {:>6} {:>6} {:>8} {:>8} {:>7} {:>7}".format(*columns))
            phases = [
                ("standings race", nothing, nothing, member_reads, args.seconds),
                ("cache deleted", delete_cache, nothing, None, args.seconds),
                ("cache garbage", garbage_cache, nothing, None, args.seconds),
                ("cache locked", lock(cache, 3600), release, None, args.seconds),
                ("site locked", lock(site, args.lock_seconds), release, None, args.lock_seconds),
                ("disk full", fill_disk, free_disk, None, args.seconds),
            ]
            results = [
                run_phase(
                    name,
                    base,
                    site,
                    seconds=seconds,
                    writers=args.writers,
                    readers=args.readers,
                    start=start,
                    stop_fault=stop,
                    side=side,
                )  # fmt: skip
                for name, start, stop, side, seconds in phases
            ]
            with contextlib.closing(sqlite3.connect(site)) as db:
                check = db.execute("PRAGMA integrity_check").fetchone()[0]
            print(f"site database integrity_check after all faults: {check}")
            print("all goals met" if all(results) and check == "ok" else "some goals NOT met")
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
            subprocess.run(["umount", "--lazy", str(directory)], check=False)


if __name__ == "__main__":
    main()
