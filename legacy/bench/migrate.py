"""Benchmark: migrate_from_postgres against `db-to-sqlite --all` on the same real Postgres.

    .venv/bin/python legacy/bench/migrate.py [--reads 480000] [--users 8000] [--sessions 9000]
        [--calls 30] [--call-seconds 25] [--ours-only]

Starts a throwaway PostgreSQL server (as legacy/tests/pg_server.py does for the tests), fills
it with the old site's schema and 480,000 post reads, 8,000 users, 9,000 sessions and 30 calls of
about 1.5 MB of base64 each, then times, in one run and on the same source:

- this project's command, verification included, into a fresh SQLite file;
- db-to-sqlite --all (a popular generic copier), installed for the benchmark only into a
  virtualenv under var/bench/ with pip.

It prints wall time and the peak resident memory of each child process (wait4's ru_maxrss),
and the ratio. Goals: ours at most 0.3x db-to-sqlite's wall time, peak memory under 200 MB.
Never part of the test run.
"""

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

PROJECT_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_DIR))

from legacy.tests.pg_server import sine_recording, start_postgres  # noqa: E402

TOOLS_VENV = PROJECT_DIR / "var" / "bench" / "db-to-sqlite-venv"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=480_000)
    parser.add_argument("--users", type=int, default=8_000)
    parser.add_argument("--sessions", type=int, default=9_000)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument(
        "--call-seconds",
        type=int,
        default=25,
        help="length of each recording (25 s is ~1.5 MB of base64; 220 s is the site's 10 MB)",
    )
    parser.add_argument(
        "--ours-only", action="store_true", help="skip db-to-sqlite (for profiling this command)"
    )
    return parser.parse_args()


def db_to_sqlite() -> Path:
    """db-to-sqlite and its Postgres driver, in a virtualenv of their own (bench only)."""
    executable = TOOLS_VENV / "bin" / "db-to-sqlite"
    if not executable.exists():
        print("Installing db-to-sqlite (SQLAlchemy + psycopg2-binary) into", TOOLS_VENV)
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS_VENV)], check=True)
        subprocess.run(
            [
                str(TOOLS_VENV / "bin" / "pip"),
                "install",
                "--quiet",
                "db-to-sqlite>=1.5,<2",
                "psycopg2-binary>=2.9,<3",
            ],
            check=True,
        )
    return executable


def fill(url: str, args, audio: bytes) -> None:
    data_url = "data:audio/wav;base64," + base64.b64encode(audio).decode()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO "User" (id, "createdAt", "updatedAt", email, "firstName", "discordId",
                                   role, team)
               SELECT md5('u' || i)::uuid::text,
                      timestamp '2021-01-01' + i * interval '17 minutes 3.217 seconds',
                      timestamp '2023-01-01' + i * interval '1 minute 0.5 seconds',
                      'reader' || i || '@example.com', 'Reader ' || i,
                      CASE WHEN i %% 3 = 0 THEN (100000000 + i)::text END,
                      CASE WHEN i %% 500 = 0 THEN 'ADMIN' ELSE 'MEMBER' END::"Role",
                      (ARRAY['RED', 'BLUE', 'YELLOW'])[1 + i %% 3]::"Team"
               FROM generate_series(1, %(users)s) i""",
            {"users": args.users},
        )
        conn.execute(
            """INSERT INTO "Session" (id, "createdAt", "userId", "expirationDate")
               SELECT md5('s' || i)::uuid::text,
                      timestamp '2024-01-01' + i * interval '3 minutes 1.001 seconds',
                      md5('u' || (1 + i %% %(users)s))::uuid::text,
                      timestamp '2025-06-01' + i * interval '3 minutes 1.001 seconds'
               FROM generate_series(1, %(sessions)s) i""",
            {"users": args.users, "sessions": args.sessions},
        )
        conn.execute(
            """INSERT INTO "Call" (id, "createdAt", "updatedAt", title, description, keywords,
                                   "userId", "base64")
               SELECT md5('c' || i)::uuid::text, timestamp '2023-03-01' + i * interval '1 day',
                      timestamp '2023-03-02' + i * interval '1 day', 'Call number ' || i,
                      'A question about testing, number ' || i, 'testing,sqlite',
                      md5('u' || (1 + i %% %(users)s))::uuid::text, %(data_url)s
               FROM generate_series(1, %(calls)s) i""",
            {"users": args.users, "calls": args.calls, "data_url": data_url},
        )
        conn.execute(
            """INSERT INTO "PostRead" (id, "createdAt", "userId", "clientId", "postSlug")
               SELECT md5('r' || i)::uuid::text,
                      timestamp '2021-06-01' + i * interval '61.123 seconds',
                      CASE WHEN i %% 3 <> 0 THEN md5('u' || (1 + i %% %(users)s))::uuid::text END,
                      CASE WHEN i %% 3 = 0 THEN md5('client' || (i %% 40000))::uuid::text END,
                      'post-' || (i %% 250)
               FROM generate_series(1, %(reads)s) i""",
            {"users": args.users, "reads": args.reads},
        )
        conn.execute("VACUUM ANALYZE")
        # Both tools are timed against a settled server: without this, the fill's dirty pages
        # are still being written out while the first of them runs.
        conn.execute("CHECKPOINT")


def timed(
    command: list[str], *, env: dict | None = None, cwd: Path | None = None
) -> tuple[float, float, float, str]:
    """(wall seconds, peak RSS in MB, CPU seconds, output) of one child process (and its own
    children, e.g. ffprobe; the Postgres server's work is in neither tool's figures)."""
    started = time.monotonic()
    child = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=False
    )
    assert child.stdout is not None  # stdout=PIPE
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.stdout.write(output.decode("utf-8", "replace"))
        raise SystemExit(f"{command[0]} failed with exit status {child.returncode}")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, usage.ru_maxrss / 1024, cpu, output.decode("utf-8", "replace")


def main() -> None:
    args = parse_args()
    tool = None if args.ours_only else db_to_sqlite()
    server = start_postgres(settings={"shared_buffers": "256MB", "work_mem": "64MB"})
    try:
        with tempfile.TemporaryDirectory(prefix="litesite-bench-") as temporary:
            folder = Path(temporary)
            name = server.create_database()
            url = server.url(name)
            print(
                f"Filling Postgres: {args.users:,} users, {args.sessions:,} sessions, "
                f"{args.calls} calls, {args.reads:,} post reads ..."
            )
            # Mono 22 kHz WAV: 25 s is about 1.1 MB, a data URL of about 1.5 MB of base64.
            audio = sine_recording(
                folder,
                seconds=args.call_seconds,
                codec=["-ac", "1", "-ar", "22050"],
                name="call.wav",
            )
            fill(url, args, audio)

            env = dict(
                os.environ,
                SECRET_KEY=os.environ.get("SECRET_KEY", "bench-secret-key"),
                DATABASE_URL=f"sqlite:///{folder / 'site.sqlite3'}",
                CACHE_DATABASE_URL=f"sqlite:///{folder / 'cache.sqlite3'}",
                LITEFS_DIR="",
            )
            ours_wall, ours_rss, ours_cpu, ours_output = timed(
                [sys.executable, "manage.py", "migrate_from_postgres", "--source", url],
                env=env,
                cwd=PROJECT_DIR,
            )
            print(ours_output)
            ours_size = (folder / "site.sqlite3").stat().st_size / 1e6
            if args.ours_only:
                print(
                    f"migrate_from_postgres: {ours_wall:.1f}s wall, {ours_cpu:.1f}s CPU, "
                    f"peak RSS {ours_rss:.0f} MB"
                )
                return
            theirs_wall, theirs_rss, theirs_cpu, _ = timed(
                [
                    str(tool),
                    url.replace("postgresql://", "postgresql+psycopg2://"),
                    str(folder / "db-to-sqlite.db"),
                    "--all",
                ]
            )
            theirs_size = (folder / "db-to-sqlite.db").stat().st_size / 1e6
    finally:
        server.stop()

    print()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min) at the end: {load} on {os.cpu_count()} cores")
    print(f"{'':<34} {'wall':>8} {'CPU':>8} {'peak RSS':>10} {'file':>9}")
    print(
        f"{'migrate_from_postgres (verified)':<34} {ours_wall:>7.1f}s {ours_cpu:>7.1f}s "
        f"{ours_rss:>8.0f}MB {ours_size:>7.0f}MB"
    )
    print(
        f"{'db-to-sqlite --all':<34} {theirs_wall:>7.1f}s {theirs_cpu:>7.1f}s "
        f"{theirs_rss:>8.0f}MB {theirs_size:>7.0f}MB"
    )
    ratio = ours_wall / theirs_wall
    print()
    print(
        f"wall time ratio: {ratio:.2f}x db-to-sqlite's (goal <= 0.30x): "
        f"{'met' if ratio <= 0.3 else 'NOT met'}"
    )
    print(f"CPU time ratio: {ours_cpu / theirs_cpu:.2f}x (this process and its children only)")
    print(
        f"peak memory: {ours_rss:.0f} MB (goal < 200 MB): {'met' if ours_rss < 200 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
