"""How fast are the blog's pages and read reports, next to a bare view in the same server?

    .venv/bin/python bench/blog.py [--seconds 10] [--connections 16] [--ranking-reads 500000]

Starts gunicorn (2 workers x 4 gthread threads) on 127.0.0.1 on a free port, with throwaway
databases in a temporary directory and the sample posts from content/, then drives it with wrk:
  (a) a bare Django view returning fixed bytes through the same middleware (bench/blog_wsgi.py);
  (b) an anonymous post page with a warm cache;
  (c) mark-as-read POSTs from distinct anonymous readers (bench/blog_reads.lua: a new client_id
      cookie per request with a read ticket for that client_id, served an hour earlier, and the
      CSRF cookie + X-CSRFToken header, as the page's script sends them).
Prints requests/s with p50 and p99 latency for each, (b) as a share of (a), and for (c) the
recorded reads per second, the errors, and whether the table holds exactly one row per accepted
report. Goals: (b) >= 40% of (a); (c) >= 1,000 reads/s, zero errors, rows == accepted reports.

Then it fills the site database with --ranking-reads generated reads by 8,000 users and times
the overall team ranking computed from scratch (no cache): the goal is under 150 ms.

Figures are for this machine and this run only; compare ratios, not absolute numbers. wrk and
gunicorn share the machine's cores with the server, as they would in CI.
"""

import argparse
import datetime as dt
import http.cookiejar
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # before bench/, whose blog.py would hide the blog app

from devcluster.harness import free_port, migrate_databases  # noqa: E402
from testing import local_site  # noqa: E402
from testing.local_site import stop  # noqa: E402

BENCH = Path(__file__).resolve().parent
POST_SLUG = "why-sqlite-in-production"
TEAMS = ("RED", "BLUE", "YELLOW")
USERS = 8_000
WRK_THREADS = 2
# Read tickets made per wrk thread and second of the run: more than the server can take, so
# every report is a new reader (should they run out, the script starts again: duplicates).
TICKETS_PER_THREAD_SECOND = 4_000


def environment(directory: Path, port: int) -> dict[str, str]:
    return local_site.environment(directory, port, secret_key="bench-only-secret-key")


def start_gunicorn(env: dict[str, str], port: int, access_log: Path | None = None):
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "--workers", "2", "--threads", "4", "--worker-class", "gthread",
        "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT), "--pythonpath", str(ROOT),
        "--log-level", "warning", "--graceful-timeout", "5",
        "bench.blog_wsgi:application",
    ]  # fmt: skip
    if access_log is not None:
        command[1:1] = [
            "--access-logfile",
            str(access_log),
            "--access-logformat",
            "%(s)s %(m)s %(U)s",
        ]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_until_up(base: str, server: subprocess.Popen, within: float = 30.0) -> None:
    local_site.wait_until_up(
        base + "/bench/bare", server, lambda: server.stderr.read().decode(), within=within
    )


LATENCY_LINE = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def setup_django(env: dict[str, str]) -> None:
    """Django in this process, on the bench's databases (once): tickets, the ranking."""
    import django
    from django.apps import apps

    if apps.ready:
        return
    os.environ.update(env)
    django.setup()


def write_tickets(directory: Path, *, per_thread: int) -> str:
    """One file of `client_id ticket` lines per wrk thread, for the client ids the script makes
    (thread number and counter), each ticket served an hour ago: past any post's threshold."""
    from blog import tickets

    served_at = time.time() - 3600
    for thread in range(1, WRK_THREADS + 1):
        with (directory / f"tickets-{thread}.txt").open("w") as lines:
            for sent in range(1, per_thread + 1):
                client_id = f"{thread:08x}-0000-4000-8000-{sent:012x}"
                ticket = tickets.issue(
                    slug=POST_SLUG, reader=f"client:{client_id}", served_at=served_at
                )
                lines.write(f"{client_id} {ticket}\n")
    return str(directory / "tickets-")


def wrk(url: str, *, seconds: int, connections: int, script: list[str] | None = None) -> dict:
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["--timeout", "5s"]
    if script:
        command += ["-s", script[0], url, "--", *script[1:]]
    else:
        command.append(url)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {p: float(v) * UNIT[u] for p, v, u in LATENCY_LINE.findall(output)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": rps,
        "p50": latency.get("50"),
        "p99": latency.get("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "none",
        "output": output,
    }


def csrf_for(base: str) -> tuple[str, str]:
    """What a browser has after opening the post page: the CSRF cookie, and the page's token."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/blog/{POST_SLUG}/") as response:
        html = response.read().decode()
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', html).group(1)
    cookie = next(c.value for c in jar if c.name == "csrftoken")
    return cookie, token


def line(name: str, result: dict, extra: str = "") -> None:
    print(
        f"  {name:<44} {result['rps']:>9,.0f} req/s   p50 {result['p50']:>7.2f} ms"
        f"   p99 {result['p99']:>7.2f} ms{extra}"
    )


def bench_pages(env: dict[str, str], port: int, args) -> float:
    base = f"http://127.0.0.1:{port}"
    server = start_gunicorn(env, port)
    try:
        wait_until_up(base, server)
        post_url = f"{base}/blog/{POST_SLUG}/"
        for _ in range(20):  # warm both workers' caches and connections
            urllib.request.urlopen(post_url).read()
        print(f"gunicorn 2 workers x 4 threads on {base}; wrk -t2 -c{args.connections}")
        bare = wrk(f"{base}/bench/bare", seconds=args.seconds, connections=args.connections)
        line("(a) bare view, fixed bytes", bare)
        page = wrk(post_url, seconds=args.seconds, connections=args.connections)
    finally:
        stop(server)
    share = page["rps"] / bare["rps"]
    goal = "met" if share >= 0.40 else "MISSED"
    line("(b) anonymous post page, warm cache", page, f"   = {share:.0%} of (a), goal 40%: {goal}")
    if bare["non_2xx"] or page["non_2xx"]:
        print(f"  errors: bare {bare['non_2xx']}, page {page['non_2xx']} non-2xx responses")
    return bare["rps"]


def bench_reads(env: dict[str, str], port: int, directory: Path, args, *, bare_rps: float) -> None:
    """Run (c) on a server of its own that logs every response, so that the reports it accepted
    (status 201) can be counted exactly, including any still in flight when wrk stopped."""
    base = f"http://127.0.0.1:{port}"
    access_log = directory / "access.log"
    setup_django(env)
    tickets = write_tickets(directory, per_thread=args.seconds * TICKETS_PER_THREAD_SECOND)
    server = start_gunicorn(env, port, access_log=access_log)
    try:
        wait_until_up(base, server)
        csrf_cookie, csrf_token = csrf_for(base)
        path = f"/blog/{POST_SLUG}/mark-read"
        reads = wrk(
            base,
            seconds=args.seconds,
            connections=args.connections,
            script=[str(BENCH / "blog_reads.lua"), path, csrf_cookie, csrf_token, tickets],
        )
    finally:
        stop(server)
    seen = dict(re.findall(r"(created|duplicate|failed)=(\d+)", reads["output"]))
    statuses: dict[str, int] = {}
    for entry in access_log.read_text().splitlines():
        status, method, logged_path = entry.split(" ", 2)
        if method == "POST" and logged_path == path:
            statuses[status] = statuses.get(status, 0) + 1
    accepted = statuses.pop("201", 0)
    errors = sum(statuses.values())
    with sqlite3.connect(directory / "site.sqlite3") as db:
        rows, distinct = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT client_id) FROM blog_postread"
        ).fetchone()
    exact = rows == accepted == distinct
    per_second = accepted / args.seconds
    goal = "met" if per_second >= 1000 and errors == 0 and exact else "MISSED"
    line(
        "(c) mark-as-read POSTs, distinct readers",
        reads,
        f"   = {per_second:,.0f} recorded reads/s, goal 1,000: {goal}",
    )
    if bare_rps:
        print(f"      recorded reads/s = {per_second / bare_rps:.0%} of (a) in this run")
    print(
        f"      server accepted {accepted:,} reports (201), other statuses {statuses or 'none'}; "
        f"wrk saw {seen.get('created')} created, {seen.get('duplicate')} duplicate, "
        f"{seen.get('failed')} failed, socket errors {reads['socket_errors']}"
    )
    print(
        f"      rows in blog_postread: {rows:,} ({distinct:,} distinct readers): "
        f"{'exactly one row per accepted report' if exact else 'MISMATCH'}"
    )


def bench_server(directory: Path, args) -> None:
    port = free_port()
    env = environment(directory, port)
    migrate_databases(env)
    load = os.getloadavg()[0]
    print(f"load average before the run: {load:.2f} on {os.cpu_count()} cores")
    bare_rps = bench_pages(env, port, args)
    bench_reads(env, port, directory, args, bare_rps=bare_rps)
    print(f"load average after the run: {os.getloadavg()[0]:.2f}")


def generate_reads(directory: Path, count: int) -> None:
    """USERS users spread over the teams, and `count` reads over the last two years, a fifth of
    them anonymous, written straight to the file (far faster than the ORM)."""
    rng = random.Random(5)
    now = dt.datetime.now(dt.UTC)
    slugs = [path.name for path in (ROOT / "content" / "blog").iterdir() if path.is_dir()]
    with sqlite3.connect(directory / "site.sqlite3") as db:
        db.execute("DELETE FROM blog_postread")
        users = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(USERS)]
        stamp = now.strftime("%Y-%m-%d %H:%M:%S")
        db.executemany(
            "INSERT INTO accounts_user (id, email, first_name, role, team, created_at, updated_at)"
            " VALUES (?, ?, ?, 'MEMBER', ?, ?, ?)",
            [
                (user, f"bench{n}@example.com", f"Reader {n}", TEAMS[n % 3], stamp, stamp)
                for n, user in enumerate(users)
            ],
        )

        def rows():
            for _ in range(count):
                at = now - dt.timedelta(seconds=rng.randrange(2 * 365 * 24 * 3600))
                anonymous = rng.random() < 0.2
                yield (
                    str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    at.strftime("%Y-%m-%d %H:%M:%S.%f"),
                    None if anonymous else rng.choice(users),
                    str(uuid.UUID(int=rng.getrandbits(128), version=4)) if anonymous else None,
                    rng.choice(slugs),
                )

        db.executemany(
            "INSERT INTO blog_postread (id, created_at, user_id, client_id, post_slug)"
            " VALUES (?, ?, ?, ?, ?)",
            rows(),
        )
        db.execute("ANALYZE")


def bench_ranking(directory: Path, reads: int) -> None:
    setup_django(environment(directory, 8000))
    from blog import leaderboard

    started = time.perf_counter()
    generate_reads(directory, reads)
    print(
        f"\nGenerated {reads:,} reads by {USERS:,} users in {time.perf_counter() - started:.1f} s"
    )
    timings = []
    for _ in range(7):
        started = time.perf_counter()
        standings = leaderboard.compute_overall()
        timings.append((time.perf_counter() - started) * 1000)
    first, median = timings[0], statistics.median(timings[1:])
    goal = "met" if max(first, median) < 150 else "MISSED"
    print(
        f"  overall ranking from scratch (no cache): first {first:.1f} ms, then median "
        f"{median:.1f} ms; goal < 150 ms: {goal}"
    )
    for row in standings["teams"]:
        print(
            f"    {row['name']:<7} reads {row['reads']:>7,}  active {row['active']:>5,}  "
            f"ranking {row['ranking']:.2f}"
        )


def ensure_wrk() -> None:
    """wrk is a bench-only tool: installed here (Debian's package) when missing and root."""
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0:
        raise SystemExit("wrk is not installed: install it (e.g. apt-get install wrk) and rerun.")
    print("Installing wrk with apt-get ...")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--ranking-reads", type=int, default=500_000)
    args = parser.parse_args()
    ensure_wrk()
    directory = Path(tempfile.mkdtemp(prefix="litesite-bench-blog-"))
    try:
        bench_server(directory, args)
        bench_ranking(directory, args.ranking_reads)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
