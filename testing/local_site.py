"""The site as production runs it (DEBUG off) on throwaway databases, served on this machine's
loopback: what scripts/screenshots.py and the benchmarks in bench/ start.

Nothing here imports Django: the site runs in other processes (manage.py, gunicorn).
"""

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# Variables of the calling shell's environment that would change the site started here (Fly's,
# LiteFS's, another settings module, the metrics server).
NOT_INHERITED = (
    "FLY_",
    "TRUST_FLY",
    "FORWARDED_ALLOW",
    "DJANGO",
    "LITEFS_",
    "METRICS_",
    "PROMETHEUS_",
)


def environment(folder: Path, port: int, *, secret_key: str) -> dict[str, str]:
    """This process's environment (less NOT_INHERITED) plus the site's settings for production
    (DEBUG off), served at http://127.0.0.1:`port`, with its site and cache databases in
    `folder`."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)},
        "DEBUG": "false",
        "SECRET_KEY": secret_key,
        "SITE_URL": f"http://127.0.0.1:{port}",
        "DATABASE_URL": f"sqlite:///{folder}/site.sqlite3",
        "CACHE_DATABASE_URL": f"sqlite:///{folder}/cache.sqlite3",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "litesite.settings",
    }


def manage(env: dict[str, str], *args: str) -> None:
    """`manage.py ARGS` in the environment `env`, its output kept back."""
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )


def wait_until_up(
    url: str, server: subprocess.Popen, output: Callable[[], str], *, within: float = 30.0
) -> None:
    """Poll `url` until it answers 200. Should the server exit first, or not answer within
    `within` seconds (it is stopped then), SystemExit with the end of its `output()`."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{output()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    stop(server)
    raise SystemExit(f"gunicorn did not answer within {within:g} s:\n{output()[-3000:]}")


def stop(server: subprocess.Popen) -> None:
    """Terminate the server, killed should it take more than 15 s to stop."""
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
