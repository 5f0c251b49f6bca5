"""The metrics endpoint under the real gunicorn: 2 workers, one scrape that sums them all.

gunicorn runs the project's gunicorn.conf.py on free 127.0.0.1 ports (the app's and the metrics
server's), with `timeout` ending it should this test process die first. Which worker takes a
connection is the kernel's choice, so the tests choose for it: a worker stopped with SIGSTOP
accepts nothing, and the other serves every request until it is resumed.
"""

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from devcluster.harness import free_port
from testing.gunicorn import Gunicorn

START_SECONDS = 60


def children(pid: int) -> set[int]:
    """The live processes whose parent is `pid`, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            # pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) == pid and state != "Z":
                found.add(int(entry.name))
    return found


def wait_for(condition, *, what: str, log: Path, seconds: float = START_SECONDS):
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what}:\n{log.read_text(errors='replace')}"
        time.sleep(0.05)
    return result


def get(port: int, path: str) -> int | None:
    """GET on a connection of its own; the status, or None while nothing listens."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": "127.0.0.1", "Connection": "close"})
        response = connection.getresponse()
        response.read()
        return response.status
    except ConnectionRefusedError:
        return None
    finally:
        connection.close()


class Server(Gunicorn):
    """Two workers, and the metrics server on a port of its own."""

    def __init__(self, root: Path):
        self.metrics_port = free_port()
        self.metrics_dir = root / "metrics"
        super().__init__(
            root,
            WEB_CONCURRENCY="2",
            METRICS_PORT=str(self.metrics_port),
            PROMETHEUS_MULTIPROC_DIR=str(self.metrics_dir),
        )

    def start(self) -> None:
        super().start()
        wait_for(lambda: len(self.workers()) == 2, what="two workers never ran", log=self.log)

    @property
    def master(self) -> int:
        (master,) = children(self.process.pid)  # `timeout`'s one child
        return master

    def workers(self) -> set[int]:
        return children(self.master)

    def scrape(self) -> dict[tuple[str, tuple], float]:
        """Every sample of the metrics endpoint: (name, sorted labels) -> value."""
        connection = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=30)
        try:
            connection.request("GET", "/metrics")
            response = connection.getresponse()
            assert response.status == 200
            text = response.read().decode()
        finally:
            connection.close()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def count(self, name: str, **labels) -> float:
        return self.scrape().get((name, tuple(sorted(labels.items()))), 0.0)

    def served_by(self, worker: int, requests: int) -> None:
        """Make `requests` GET /healthcheck while every other worker is stopped."""
        others = self.workers() - {worker}
        for pid in others:
            os.kill(pid, signal.SIGSTOP)
        try:
            for _ in range(requests):
                assert get(self.port, "/healthcheck") == 200
        finally:
            for pid in others:
                os.kill(pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("metrics-gunicorn")
    server = Server(root)
    server.metrics_dir.mkdir()
    # A file left by an earlier run of gunicorn, holding counts of its own.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from prometheus_client import Counter\n"
            "Counter('litesite_requests', '', ['view', 'status'])"
            ".labels('healthcheck', '200').inc(1000)\n",
        ],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(server.metrics_dir)},
        check=True,
    )
    assert list(server.metrics_dir.glob("counter_*.db"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


HEALTHCHECKS = {"name": "litesite_requests_total", "view": "healthcheck", "status": "200"}


def test_a_scrape_sums_the_requests_each_worker_served_and_not_an_earlier_runs(server):
    first, second = sorted(server.workers())
    before = server.count(**HEALTHCHECKS)
    assert before < 1000  # the earlier run's file was emptied at start-up
    server.served_by(first, 3)
    server.served_by(second, 4)
    assert server.count(**HEALTHCHECKS) == before + 7
    files = {path.name for path in server.metrics_dir.glob("*.db")}
    assert {f"counter_{first}.db", f"counter_{second}.db"} <= files
    timed = server.count("litesite_request_duration_seconds_count", view="healthcheck")
    assert timed == server.count(**HEALTHCHECKS)


def test_counts_of_a_worker_that_exited_stay_in_the_sum(server):
    gone = min(server.workers())
    server.served_by(gone, 2)
    before = server.count(**HEALTHCHECKS)
    os.kill(gone, signal.SIGTERM)
    wait_for(
        lambda: gone not in server.workers() and len(server.workers()) == 2,
        what="gunicorn did not replace the worker",
        log=server.log,
    )
    assert server.count(**HEALTHCHECKS) == before
    server.served_by(max(server.workers()), 1)
    assert server.count(**HEALTHCHECKS) == before + 1


def test_the_metrics_listen_only_on_their_own_address_and_port(server):
    # The public app has no metrics page (its 404 page needs collectstatic's manifest, which
    # this server lacks, hence a 500: either way, not the metrics).
    assert get(server.port, "/metrics") in (404, 500)
    assert server.scrape()  # 127.0.0.1, METRICS_HOST's default off Fly
    stranger = socket.socket()
    try:
        with pytest.raises(ConnectionRefusedError):
            stranger.connect(("127.0.0.2", server.metrics_port))  # METRICS_HOST is 127.0.0.1
    finally:
        stranger.close()
