"""What the replication layer costs: `.venv/bin/python bench/replication.py` prints figures.

1. A simple page (the sign-in page, /login: a template with a form; `--page` for another) on
   an emulated LiteFS primary, through the full middleware stack vs. the same stack without
   ReplicationMiddleware (the replays and the X-Litesite-* headers). Goal: the middleware
   costs under 5% of the requests per second; the paired figure (each round's two runs back
   to back) is the one to read on a noisy machine. The same for /healthcheck (no template, a
   one-row query on each database), the floor where the middleware's fixed cost weighs most:
   on the primary, its one look at LiteFS (a stat of `.primary`) releases the GIL, and under
   gunicorn's threads that usually means a thread switch.
2. What a replica adds to a GET whose `__txid` cookie it has already reached (one extra read of
   `-pos`), vs. the same GET without the cookie, on /healthcheck, whose steadier timings show
   a few microseconds that a page's own noise would hide.

Each is measured twice: over HTTP with wrk against real gunicorn servers (the project's
gunicorn.conf.py, one worker with one thread, started on the emulated cluster's files), and in
process (Django's WSGI handler called in a loop: the CPU of Django alone, without the HTTP
server's share, so the strictest ratio; two identical handlers differ by about 2 µs there).
Runs alternate between the variants; median and best are printed, since a shared machine is
noisy.
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

PAGE = "/login"
FLOOR_PAGE = "/healthcheck"
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
    # One worker with one thread, so that every run measures the same thing. With several gthread
    # workers, how wrk's keep-alive connections happen to split between them decides the
    # throughput: all of them on one worker (whose threads then fight over the GIL) gives a third
    # of an even split, from one run to the next, whatever the code.
    env = {**node.env(), "PORT": str(port), "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "1"}
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
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/healthcheck", timeout=2
            ) as response:
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


def best_of_interleaved(calls: dict, *, rounds: int) -> dict[str, float]:
    """Microseconds per call of each of `calls` (name -> function), the best of `rounds`
    batches taken in turn, each batch about a fifth of a second."""
    import timeit

    numbers = {
        name: max(50, int(0.2 / timeit.timeit(call, number=20) * 20))
        for name, call in calls.items()
    }
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            seconds = min(timeit.repeat(call, number=numbers[name], repeat=3))
            best[name] = min(best[name], seconds / numbers[name] * 1e6)
    return best


def wsgi_get(handler, page: str, **headers):
    """A function that GETs `page` from a Django WSGI handler and reads the whole body."""
    from django.test import RequestFactory

    environ = RequestFactory()._base_environ(
        PATH_INFO=page,
        REQUEST_METHOD="GET",
        SERVER_NAME="127.0.0.1",
        HTTP_HOST="127.0.0.1",
        **headers,
    )

    def get():
        chunks = handler(dict(environ), lambda status, response_headers: None)
        b"".join(chunks)
        chunks.close()

    return get


def django_handlers(node):
    """Django's WSGI handler on `node` with and without ReplicationMiddleware."""
    os.environ.update(node.env())
    import django
    from django.conf import settings

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    from litesite import litefs

    # The once-a-second GET /info is left to the wrk figures: here its server shares this
    # process's GIL with the timing loop and could miss its 0.25 s timeout.
    litefs.INFO_CACHE_SECONDS = 3600
    full = WSGIHandler()
    stack = list(settings.MIDDLEWARE)
    settings.MIDDLEWARE = [m for m in stack if m not in REPLICATION]
    bare = WSGIHandler()
    settings.MIDDLEWARE = stack
    return full, bare


def compare_over_http(ports: dict, page: str, args) -> None:
    """wrk runs on `page` alternating between the servers with and without the middleware."""
    print(
        f"Page {page}, {args.rounds} alternating rounds of {args.seconds}s, wrk -c16, "
        "gunicorn 1 worker x 1 thread"
    )
    rps = {"with": [], "without": []}
    for _ in range(args.rounds):
        for variant in ("without", "with"):
            url = f"http://127.0.0.1:{ports[variant]}{page}"
            rps[variant].append(wrk(url, seconds=args.seconds, connections=16)[0])
    for label, pick in (("median", statistics.median), ("best", max)):
        without, with_ = pick(rps["without"]), pick(rps["with"])
        print(
            f"  {label:6}: without ReplicationMiddleware {without:6.0f} req/s, with "
            f"{with_:6.0f} req/s: cost {(1 - with_ / without) * 100:+.1f}%"
        )
    print(f"  runs without: {[round(r) for r in rps['without']]}")
    print(f"  runs with:    {[round(r) for r in rps['with']]}")
    # Each round's two runs are back to back: their ratio cancels the slow swings of a
    # shared machine's speed, which medians of the separate lists do not.
    paired = [(1 - w / wo) * 100 for wo, w in zip(rps["without"], rps["with"], strict=True)]
    print(
        f"  cost per round (back-to-back runs): {[round(p, 1) for p in paired]}; "
        f"median {statistics.median(paired):+.1f}%"
    )


def compare_in_process(full, bare, page: str, *, rounds: int) -> None:
    best = best_of_interleaved(
        {"without": wsgi_get(bare, page), "with": wsgi_get(full, page)}, rounds=rounds * 3
    )
    print("  in process (Django's WSGI handler alone, best of interleaved batches):")
    print(
        f"    without {best['without']:6.1f} µs, with {best['with']:6.1f} µs per request: "
        f"cost {best['with'] - best['without']:+.1f} µs, "
        f"{(best['with'] / best['without'] - 1) * 100:+.1f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating runs per variant")
    parser.add_argument("--page", default=PAGE, help=f"the simple page (default {PAGE})")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    from devcluster.harness import Cluster, free_port

    with tempfile.TemporaryDirectory(prefix="bench-replication-") as scratch:
        cluster = Cluster(Path(scratch), extra_env={"DEBUG": "false"}, workers=1, threads=1)
        cluster.start(progress=print)
        cluster.collect_static()  # DEBUG is off, as in production
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
            full, bare = django_handlers(primary)
            for page, what in ((args.page, "goal: < 5%"), (FLOOR_PAGE, "the floor")):
                print(f"== The middleware's cost on {page} ({what}) ==")
                compare_over_http(ports, page, args)
                compare_in_process(full, bare, page, rounds=args.rounds)

            txid, _ = replica.mount.read_pos()
            cookie = f"__txid={txid:016x}"
            url = f"{replica.url}{FLOOR_PAGE}"
            latency = {"plain": [], "cookie": []}
            print(f"== Replica {replica.id} at TXID {txid}, GET {FLOOR_PAGE} ==")
            for _ in range(args.rounds):
                latency["plain"].append(wrk(url, seconds=args.seconds, connections=1)[1])
                latency["cookie"].append(
                    wrk(url, seconds=args.seconds, connections=1, headers=[f"Cookie: {cookie}"])[1]
                )
            plain, with_cookie = map(statistics.median, (latency["plain"], latency["cookie"]))
            print(
                f"  wrk -c1, mean latency: without __txid {plain:.0f} µs, with a satisfied one "
                f"{with_cookie:.0f} µs: {with_cookie - plain:+.0f} µs (noisy)"
            )

            from django.test import override_settings

            with override_settings(
                LITEFS_DIR=str(replica.mount.path),
                LITEFS_API_URL=replica.api.url,
                FLY_MACHINE_ID=replica.id,
                FLY_REGION=replica.region,
            ):
                best = best_of_interleaved(
                    {
                        "plain": wsgi_get(full, FLOOR_PAGE),
                        "cookie": wsgi_get(full, FLOOR_PAGE, HTTP_COOKIE=cookie),
                    },
                    rounds=args.rounds * 3,
                )
            print(
                f"  in process: without __txid {best['plain']:.1f} µs, with a satisfied one "
                f"{best['cookie']:.1f} µs: {best['cookie'] - best['plain']:+.1f} µs"
            )
        finally:
            for server in servers:
                os.killpg(server.pid, 15)
                server.wait()
            cluster.stop()


if __name__ == "__main__":
    main()
