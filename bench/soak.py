"""Does a worker's memory stay put under a long mixed load?

    .venv/bin/python bench/soak.py [--warm-up 20000] [--requests 200000] [--connections 16]

Starts gunicorn (2 workers x 4 gthread threads) on 127.0.0.1 on a free port with throwaway
databases and the sample posts, sends --warm-up requests, notes each worker's resident memory
(VmRSS), then sends --requests more in slices, printing every worker's RSS after each slice. The
mix (bench/soak_paths.lua over a list of paths) is the home page, the post index and its pages and
categories, every post, 600 distinct searches (so that the in-process page memo, bounded at
blog.fragments.MAX_PAGES, fills), the feeds, the sitemap, the calls page, the sign-in page and
/healthcheck. Goal: no worker grows more than 10% after the warm-up.
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blog import environment, start_gunicorn, wait_until_up  # noqa: E402
from devcluster.harness import free_port, migrate_databases  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).with_name("soak_paths.lua")
WORDS = [
    "sqlite", "litefs", "replica", "primary", "cache", "wal", "checkpoint", "fly", "region",
    "django", "read", "write", "lock", "backup", "vacuum", "search", "index", "post", "team",
    "leaderboard", "podcast", "call", "episode", "session", "cookie", "magic", "link", "fts5",
    "query", "page", "memory", "thread", "worker", "gunicorn", "proxy", "replay", "txid",
]  # fmt: skip


def paths() -> list[str]:
    slugs = sorted(
        folder.name
        for folder in (ROOT / "content" / "blog").iterdir()
        # Drafts are 404s with DEBUG off: leave them out of a mix meant to be all 200s.
        if folder.is_dir() and "\ndraft: true" not in (folder / "index.md").read_text()
    )
    searches = [f"/blog/?q={a}+{b}" for a in WORDS for b in WORDS if a != b][:600]
    fixed = ["/", "/blog/", "/blog/?page=2", "/blog/rss.xml", "/blog.json", "/sitemap.xml",
             "/calls/", "/login", "/healthcheck", "/blog/?category=SQLite"]  # fmt: skip
    return fixed * 20 + [f"/blog/{slug}/" for slug in slugs] * 10 + searches


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return sorted(int(pid) for pid in out.split())


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


def send(base: str, path_file: Path, count: int, connections: int) -> int:
    """Send about `count` requests (wrk runs by time: slices of 5 s until the count is reached)."""
    sent = 0
    while sent < count:
        output = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", "-d5s", "-s", str(SCRIPT), base, "--",
             str(path_file)],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        sent += int(re.search(r"(\d+) requests in", output).group(1))
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
        if errors:
            print(f"  ({errors.group(1)} non-2xx/3xx responses in that slice)")
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm-up", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="litesite-soak-") as directory:
        port = free_port()
        env = environment(Path(directory), port)
        migrate_databases(env)
        path_file = Path(directory) / "paths.txt"
        path_file.write_text("\n".join(paths()) + "\n")
        server = start_gunicorn(env, port)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base, server)
            sent = send(base, path_file, args.warm_up, args.connections)
            pids = worker_pids(server.pid)
            after_warm_up = {pid: rss_kb(pid) for pid in pids}
            sizes = ", ".join(f"{pid}: {kb / 1024:.1f} MB" for pid, kb in after_warm_up.items())
            print(f"after warm-up ({sent:,} requests), by worker: {sizes}")
            total = 0
            slice_size = args.requests // 5
            while total < args.requests:
                total += send(base, path_file, slice_size, args.connections)
                print(f"  +{total:,}: " + ", ".join(
                    f"{rss_kb(pid) / 1024:.1f} MB" for pid in pids))  # fmt: skip
            worst = max(rss_kb(pid) / after_warm_up[pid] - 1 for pid in pids)
            verdict = "met" if worst <= 0.10 else "NOT met"
            print(f"largest growth after the warm-up: {worst:+.1%} (goal <= +10%): {verdict}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
