"""What the replication layer costs: `.venv/bin/python bench/replication.py` prints figures.

1. A simple page (/healthcheck: one query on each database; `--page` for another) on an
   emulated LiteFS primary, through the full middleware stack vs. the same stack without
   ReplicationMiddleware (the replays and the X-Litesite-* headers). Goal: the middleware
   costs under 5% of the requests per second; the paired figure (each round's two runs back
   to back) is the one to read on a noisy machine.
2. What a replica adds to a GET whose `__txid` cookie it has already reached (one extra read of
   `-pos`), vs. the same GET without the cookie.

Each is measured twice: in process (Django's WSGI handler called in a loop: CPU per request, the
steadiest figure on a shared machine) and over HTTP with wrk against real gunicorn processes
(the project's gunicorn.conf.py, 2 workers x 4 threads) started from the emulated cluster's
files. Runs alternate between the variants; median and best are printed, since a shared machine
is noisy.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGE = "/healthcheck"
# The replication layer: the replays, and the headers saying where a response was served.
REPLICATION = {"litesite.middleware.ReplicationMiddleware"}


def make_app(with_replication: bool = True):
    """gunicorn app factory: the site, optionally without ReplicationMiddleware."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "litesite.settings")
    from django.conf import settings

    if not with_replication:
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m not in REPLICATION]
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def start_server(node, *, app: str, port: int) -> subprocess.Popen:
    env = {**node.env(), "PORT": str(port), "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4"}
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(ROOT / "gunicorn.conf.py"),
        "--pythonpath",
        str(ROOT / "bench"),
        app,
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{PAGE}", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"gunicorn on port {port} did not start")


def wrk(url: str, *, seconds: int, connections: int, headers=()) -> tuple[float, float]:
    """(requests per second, mean latency in µs) from one wrk run."""
    command = ["wrk", "-t2" if connections > 1 else "-t1", f"-c{connections}", f"-d{seconds}s"]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise SystemExit(f"wrk saw errors:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    value, unit = re.search(r"Latency\s+([\d.]+)(us|ms|s)", output).groups()
    latency_us = float(value) * {"us": 1, "ms": 1_000, "s": 1_000_000}[unit]
    return rps, latency_us


def in_process(node, *, rounds: int, number: int = 3000) -> tuple[float, float]:
    """Microseconds per request of PAGE through Django's WSGI handler on `node`, with and
    without ReplicationMiddleware: (with, without). CPU cost only, no network or server."""
    import timeit

    os.environ.update(node.env())
    import django
    from django.conf import settings

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    from litesite import litefs

    # The once-a-second GET /info is left to the wrk figures: here its server shares this
    # process's GIL with the timing loop and could miss its 0.25 s timeout.
    litefs.INFO_CACHE_SECONDS = 3600
    full = WSGIHandler()
    stack = list(settings.MIDDLEWARE)
    settings.MIDDLEWARE = [m for m in stack if m not in REPLICATION]
    bare = WSGIHandler()
    settings.MIDDLEWARE = stack
    environ = RequestFactory()._base_environ(
        PATH_INFO=PAGE, REQUEST_METHOD="GET", SERVER_NAME="127.0.0.1", HTTP_HOST="127.0.0.1"
    )

    def serve(handler):
        def one():
            chunks = handler(dict(environ), lambda status, headers: None)
            b"".join(chunks)
            chunks.close()

        return one

    timings = {"with": [], "without": []}
    for _ in range(rounds * 3):
        for name, handler in (("without", bare), ("with", full)):
            seconds = min(timeit.repeat(serve(handler), number=number, repeat=3))
            timings[name].append(seconds / number * 1e6)
    return min(timings["with"]), min(timings["without"]), full, environ


def in_process_replica(replica, full, environ, *, rounds: int, number: int = 3000):
    """Microseconds per request on `replica` (its mount, id and LiteFS API), without and with
    a `__txid` cookie it has already reached: (plain, with cookie)."""
    import timeit

    from django.test import override_settings

    txid, _ = replica.mount.read_pos()
    plain = dict(environ)
    cookie = dict(environ, HTTP_COOKIE=f"__txid={txid:016x}")

    def serve(request_environ):
        def one():
            chunks = full(dict(request_environ), lambda status, headers: None)
            b"".join(chunks)
            chunks.close()

        return one

    timings = {"plain": [], "cookie": []}
    with override_settings(
        LITEFS_DIR=str(replica.mount.path),
        LITEFS_API_URL=replica.api.url,
        FLY_MACHINE_ID=replica.id,
        FLY_REGION=replica.region,
    ):
        for _ in range(rounds * 3):
            for name, request_environ in (("plain", plain), ("cookie", cookie)):
                seconds = min(timeit.repeat(serve(request_environ), number=number, repeat=3))
                timings[name].append(seconds / number * 1e6)
    return min(timings["plain"]), min(timings["cookie"])


def main() -> None:
    global PAGE  # start_server() and in_process() measure the page chosen here
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per variant")
    parser.add_argument("--page", default=PAGE, help=f"the page to measure (default {PAGE})")
    args = parser.parse_args()
    PAGE = args.page
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    from litesite.cluster.harness import Cluster, free_port

    with tempfile.TemporaryDirectory(prefix="bench-replication-") as scratch:
        cluster = Cluster(Path(scratch), extra_env={"DEBUG": "false"}, workers=2, threads=4)
        cluster.start(progress=print)
        servers = []
        try:
            primary, replica = cluster.primary, cluster.node("syd-1")
            ports = {"with": free_port(), "without": free_port()}
            servers.append(
                start_server(primary, app="replication:make_app(True)", port=ports["with"])
            )
            servers.append(
                start_server(primary, app="replication:make_app(False)", port=ports["without"])
            )
            print(f"Page {PAGE}, {args.rounds} alternating rounds of {args.seconds}s, wrk -c16")
            rps = {"with": [], "without": []}
            for _ in range(args.rounds):
                for variant in ("without", "with"):
                    url = f"http://127.0.0.1:{ports[variant]}{PAGE}"
                    rps[variant].append(wrk(url, seconds=args.seconds, connections=16)[0])
            for label, pick in (("median", statistics.median), ("best", max)):
                without, with_ = pick(rps["without"]), pick(rps["with"])
                print(
                    f"  {label:6}: without ReplicationMiddleware {without:6.0f} req/s, with "
                    f"{with_:6.0f} req/s: cost {(1 - with_ / without) * 100:+.1f}% (goal: < 5%)"
                )
            print(f"  runs without: {[round(r) for r in rps['without']]}")
            print(f"  runs with:    {[round(r) for r in rps['with']]}")
            # Each round's two runs are back to back: their ratio cancels the slow swings of a
            # shared machine's speed, which medians of the separate lists do not.
            paired = [(1 - w / wo) * 100 for wo, w in zip(rps["without"], rps["with"], strict=True)]
            print(
                f"  cost per round (back-to-back runs): {[round(p, 1) for p in paired]}; "
                f"median {statistics.median(paired):+.1f}% (goal: < 5%)"
            )

            with_us, without_us, full, environ = in_process(primary, rounds=args.rounds)
            print(f"In process (Django's WSGI handler, {PAGE}, best of interleaved runs):")
            print(f"  without ReplicationMiddleware: {without_us:6.1f} µs per request")
            print(f"  with ReplicationMiddleware:    {with_us:6.1f} µs per request")
            print(
                f"  cost of the middleware: {with_us - without_us:+.1f} µs, "
                f"{(with_us / without_us - 1) * 100:+.1f}% (goal: < 5%)"
            )

            txid, _ = replica.mount.read_pos()
            cookie = f"Cookie: __txid={txid:016x}"
            url = f"{replica.url}{PAGE}"
            latency = {"plain": [], "cookie": []}
            print(f"Replica {replica.id} at TXID {txid}, GET {PAGE}, one connection (wrk -c1)")
            for _ in range(args.rounds):
                latency["plain"].append(wrk(url, seconds=args.seconds, connections=1)[1])
                latency["cookie"].append(
                    wrk(url, seconds=args.seconds, connections=1, headers=[cookie])[1]
                )
            plain, with_cookie = (
                statistics.median(latency["plain"]),
                statistics.median(latency["cookie"]),
            )
            print(f"  replica GET without __txid:            {plain:8.0f} µs mean latency")
            print(f"  replica GET with a satisfied __txid:   {with_cookie:8.0f} µs mean latency")
            print(f"  added by the satisfied cookie: {with_cookie - plain:+.0f} µs (wrk, noisy)")
            plain, with_cookie = in_process_replica(replica, full, environ, rounds=args.rounds)
            print(f"In process on replica {replica.id}:")
            print(f"  GET without __txid:          {plain:6.1f} µs per request")
            print(f"  GET with a satisfied __txid: {with_cookie:6.1f} µs per request")
            print(f"  added by the satisfied cookie: {with_cookie - plain:+.1f} µs")
        finally:
            for server in servers:
                os.killpg(server.pid, 15)
                server.wait()
            cluster.stop()


if __name__ == "__main__":
    main()
