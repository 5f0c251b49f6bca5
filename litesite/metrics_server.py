"""The metrics endpoint: one HTTP server in gunicorn's master that adds up every worker's numbers.

gunicorn runs several worker processes, and each counts what it serves (litesite.metrics). With
prometheus_client's multiprocess mode each worker writes its counts to memory-mapped files in
PROMETHEUS_MULTIPROC_DIR, and a scrape of this server sums the files of every worker, the
workers that have exited included (counters must never go down). So a scrape sees the whole
machine, whichever worker served what; a metrics view inside the app would instead answer from
one worker, and would sit on the public port.

The server listens on its own port (METRICS_PORT, 9091) at a private address (METRICS_HOST:
`::` on a Fly machine, where only Fly's private network reaches it and fly.toml's `[metrics]`
tells Fly to scrape it; 127.0.0.1 elsewhere). It is not the app's port, and no Fly service
routes the internet to it.

Called from gunicorn.conf.py's hooks, in the master, which never imports Django. prometheus_client
is imported only once PROMETHEUS_MULTIPROC_DIR is set: it chooses between in-memory and
file-backed values when it is first imported, and the workers inherit the master's choice when
they fork.
"""

import os
import shutil
import tempfile
from pathlib import Path

DEFAULT_PORT = 9091
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# The directory this master made for itself (removed when it exits), if it made one.
_own_directory: Path | None = None


def address(environ) -> tuple[str, int] | None:
    """(host, port) of the metrics server from the environment; None when METRICS_PORT is 0."""
    raw = environ.get("METRICS_PORT", str(DEFAULT_PORT)).strip()
    if not raw.isdigit() or int(raw) > 65535:
        raise ValueError(f"METRICS_PORT must be a port number (0 turns metrics off), not {raw!r}.")
    port = int(raw)
    if port == 0:
        return None
    # FLY_PRIVATE_IP is set on a real Fly machine only (the emulated cluster has no such
    # address). Fly's scraper reaches the machine over Fly's private network; `::` takes both its
    # IPv6 (6PN) and IPv4 addresses, as Fly's documentation asks for 0.0.0.0.
    default_host = "::" if environ.get("FLY_PRIVATE_IP") else "127.0.0.1"
    return environ.get("METRICS_HOST") or default_host, port


def prepare_directory(environ=os.environ) -> Path:
    """Give the workers an empty PROMETHEUS_MULTIPROC_DIR, before the first one forks.

    Files left by an earlier run would be added to this one's counts, so a given directory is
    emptied; without one, a fresh directory is made and removed on exit.
    """
    global _own_directory
    given = environ.get(MULTIPROC_VARIABLE)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for leftover in directory.glob("*.db"):
            leftover.unlink()
    else:
        directory = _own_directory = Path(tempfile.mkdtemp(prefix="litesite-metrics-"))
        environ[MULTIPROC_VARIABLE] = str(directory)
    return directory


def start(*, host: str, port: int, log) -> bool:
    """Serve the summed metrics on host:port from a daemon thread. A port that cannot be bound
    is logged and the site runs on without metrics: they must never keep it from serving."""
    from prometheus_client import CollectorRegistry, generate_latest, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        log.error("Metrics: cannot listen on %s (%s); serving without metrics", where, error)
        return False
    # Once now, so that whatever a scrape imports is imported before the workers fork from this
    # process: a fork while the server thread held an import lock would leave it held.
    generate_latest(registry)
    log.info("Metrics: listening at http://%s/metrics", where)
    return True


def worker_exited(pid: int) -> None:
    """A worker's counters stay (they are summed forever); its live gauges, if any, go."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def remove_own_directory() -> None:
    global _own_directory
    if _own_directory is not None:
        shutil.rmtree(_own_directory, ignore_errors=True)
        _own_directory = None
