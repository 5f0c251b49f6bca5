"""What a forged `__txid` cookie costs a replica: `.venv/bin/python bench/txid_abuse.py`.

A replica that gets a GET with a `__txid` cookie ahead of its own TXID waits for replication
before it serves (read-your-writes). The cookie is the client's to forge. This bench starts an
emulated cluster (primary lhr-1, replica syd-1: real gunicorn processes on 127.0.0.1, the
project's gunicorn.conf.py, 2 workers x 4 threads as in fly.toml), sends the replica 40
concurrent GETs straight (not through the edge, so that only the replica's work is measured),
and meanwhile asks it for `/healthcheck` on a fresh connection every 20 ms, as Fly's checker
would. It prints the health check's p50/p99/max under two loads:

- bursts: 40 requests at once on 40 connections, the next 40 when all are answered and at most
  every 0.5 s (what "40 requests in parallel" means; from a separate process);
- flood: wrk with 40 connections, each sending its next request as soon as the last is
  answered: as much as 40 clients can send, so the machine's CPU is the limit.

each with requests carrying:

1. no cookie (what that load costs anyway);
2. `__txid=ffffffffffffffff` (implausibly far ahead: replays at once);
3. a cookie just ahead of the replica's TXID (plausible, so some requests wait: at most
   LITEFS_TXID_MAX_WAITERS per process at once; the rest replay at once).

Goal: under 100 ms p99 for `/healthcheck` with 2 and 3. Nothing replicates during the run, so a
waiting request always waits the whole LITEFS_TXID_WAIT_SECONDS (2 s), the attacker's best case.
"""

import argparse
import collections
import http.client
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGE = "/blog/"
HEALTH = "/healthcheck"
PROBE_EVERY_SECONDS = 0.02
BURST_EVERY_SECONDS = 0.5


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def probe(port: int, stop: threading.Event, latencies: list[float], errors: list[str]) -> None:
    """GET /healthcheck on a new connection every PROBE_EVERY_SECONDS until `stop` is set."""
    while not stop.is_set():
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            connection.request("GET", HEALTH, headers={"Host": "127.0.0.1"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                errors.append(f"HTTP {response.status}")
        except OSError as exc:
            errors.append(str(exc))
        finally:
            connection.close()
        latencies.append((time.perf_counter() - started) * 1000)
        stop.wait(PROBE_EVERY_SECONDS)


def flood(url: str, *, seconds: int, connections: int, cookie: str | None) -> str:
    """wrk's summary line of a closed-loop flood: `connections` clients, back to back."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s"]
    if cookie is not None:
        command += ["-H", f"Cookie: __txid={cookie}"]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)
    total = re.search(r"(\d+) requests in", output).group(1)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    timeouts = re.search(r"timeout (\d+)", output)
    summary = f"{total} requests, {float(rps):.0f}/s"
    if non_2xx:
        summary += f", {non_2xx.group(1)} non-2xx (replays answer 409)"
    if timeouts:
        summary += f", {timeouts.group(1)} timed out"
    return summary


def bursts(port: int, *, seconds: int, connections: int, cookie: str | None, results) -> None:
    """`connections` requests at once, again when all are answered (at most every
    BURST_EVERY_SECONDS), for `seconds`; puts a summary on `results`. Runs in its own process,
    so that its threads never delay the prober's clock."""
    headers = {"Host": "127.0.0.1"}
    if cookie is not None:
        headers["Cookie"] = f"__txid={cookie}"
    statuses = collections.Counter()
    lock = threading.Lock()
    started = time.monotonic()
    go = threading.Barrier(connections)

    def send(connection: http.client.HTTPConnection) -> int:
        connection.request("GET", PAGE, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            go.wait()
            burst_started = time.monotonic()
            if burst_started - started >= seconds:
                return
            try:
                status = str(send(connection))
            except OSError:
                # gunicorn closes a keep-alive connection idle for 5 s (a slow burst): again on
                # a fresh one.
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                try:
                    status = str(send(connection))
                except OSError as exc:
                    status = type(exc).__name__
            with lock:
                statuses[status] += 1
            go.wait()  # all answered
            time.sleep(max(0.0, burst_started + BURST_EVERY_SECONDS - time.monotonic()))

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rounds = sum(statuses.values()) // connections
    counted = ", ".join(f"{count} x {status}" for status, count in sorted(statuses.items()))
    results.put(f"{rounds} bursts: {counted}")


def run(port: int, *, load: str | None, seconds: int, connections: int, cookie: str | None):
    latencies: list[float] = []
    errors: list[str] = []
    stop = threading.Event()
    prober = threading.Thread(target=probe, args=(port, stop, latencies, errors))
    if load is None:
        prober.start()
        time.sleep(seconds)
        summary = "no load"
    elif load == "flood":
        result: list[str] = []
        url = f"http://127.0.0.1:{port}{PAGE}"
        attacker = threading.Thread(
            target=lambda: result.append(
                flood(url, seconds=seconds, connections=connections, cookie=cookie)
            )
        )
        attacker.start()
        time.sleep(0.5)  # let the flood fill the workers before the first probe
        prober.start()
        attacker.join()
        summary = result[0] if result else "wrk failed"
    else:
        context = multiprocessing.get_context("fork")
        results = context.Queue()
        attacker = context.Process(
            target=bursts,
            args=(port,),
            kwargs={
                "seconds": seconds,
                "connections": connections,
                "cookie": cookie,
                "results": results,
            },
        )
        attacker.start()
        time.sleep(0.2)
        prober.start()
        attacker.join()
        summary = results.get() if attacker.exitcode == 0 else "the burst process failed"
    stop.set()
    prober.join()
    return latencies, errors, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each run")
    parser.add_argument("--connections", type=int, default=40, help="concurrent clients")
    parser.add_argument(
        "--load", choices=["bursts", "flood", "both"], default="both", help="what the clients do"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per machine")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    from devcluster.harness import Cluster

    with tempfile.TemporaryDirectory(prefix="bench-txid-") as scratch:
        cluster = Cluster(
            Path(scratch),
            extra_env={"DEBUG": "false"},
            workers=args.workers,
            threads=args.threads,
        )
        cluster.start(progress=print)
        cluster.collect_static()  # DEBUG is off, as in production
        try:
            replica = cluster.node("syd-1")
            txid, _ = replica.mount.read_pos()
            print(
                f"Replica {replica.id} at TXID {txid}; gunicorn {args.workers} workers x "
                f"{args.threads} threads; {args.connections} clients GET {PAGE} for "
                f"{args.seconds}s; GET {HEALTH} every {PROBE_EVERY_SECONDS * 1000:.0f} ms"
            )
            cookies = [
                ("no cookie", None),
                ("__txid=ffffffffffffffff", "f" * 16),
                (f"__txid={txid + 1:016x} (TXID + 1)", f"{txid + 1:016x}"),
            ]
            loads = ["bursts", "flood"] if args.load == "both" else [args.load]
            scenarios = [("no load", None, None)] + [
                (f"{load}, {label}", load, cookie) for load in loads for label, cookie in cookies
            ]
            for label, load, cookie in scenarios:
                latencies, errors, summary = run(
                    replica.port,
                    load=load,
                    seconds=args.seconds,
                    connections=args.connections,
                    cookie=cookie,
                )
                print(
                    f"  {label:42} {HEALTH}: p50 {statistics.median(latencies):7.1f} ms, "
                    f"p99 {percentile(latencies, 0.99):7.1f} ms, max {max(latencies):7.1f} ms "
                    f"(n={len(latencies)}{', errors: ' + str(len(errors)) if errors else ''}); "
                    f"{summary}",
                    flush=True,
                )
        finally:
            cluster.stop()


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "litesite.settings")
    main()
