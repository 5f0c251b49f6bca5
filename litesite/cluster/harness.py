"""Primary and replicas as separate gunicorn processes on 127.0.0.1, behind an emulated Fly edge.

    with Cluster(tmp_path, machines=[("lhr-1", "lhr"), ("syd-1", "syd")]) as cluster:
        client = cluster.client("syd")           # a visitor near Sydney
        client.post("/me", {...})                # replayed to the primary in lhr
        cluster.replicate()                      # ship the primary's state to the replicas

Each node has an emulated LiteFS mount (mount.py), its own LiteFS `/info` (litefs_api.py), its
own unreplicated cache database, and runs the project's gunicorn.conf.py with the emulated
backend (backend/), so the application code is exactly what runs on Fly. Replication happens
only when the caller asks: now (`replicate`), later (`replicate_after`, with `.lag` showing the
delay), not at all for a disconnected node (`disconnect`), or to a new primary (`failover`),
whose TXIDs continue from the old primary's.
"""

import contextlib
import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from litesite.cluster.client import Client
from litesite.cluster.edge import Edge, Machine
from litesite.cluster.litefs_api import LiteFSAPI
from litesite.cluster.mount import Mount

BASE_DIR = Path(__file__).resolve().parents[2]
DB_NAME = "site.sqlite3"
CACHE_NAME = "cache.sqlite3"
READY_TIMEOUT_SECONDS = 90
# Environment a node must not inherit from whoever started the harness.
_NODE_OWNED = ("DATABASE_URL", "CACHE_DATABASE_URL", "LITEFS_", "FLY_", "PRIMARY_REGION", "PORT")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(**overrides) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NODE_OWNED)}
    env.update(
        DJANGO_SETTINGS_MODULE="litesite.settings",
        # DEBUG serves static files without a collectstatic manifest; nothing in the replication
        # layer depends on it.
        DEBUG="true",
        SECRET_KEY="emulated-cluster-secret-key",
        EMAIL_URL="consolemail://",
        LITEFS_EMULATION="true",
        LITEFS_DB_NAME=DB_NAME,
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def copy_database(source: Path, target: sqlite3.Connection) -> None:
    """A consistent copy through SQLite's backup API, whatever the source is doing."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        src.backup(target)
    finally:
        src.close()


def migrate_template(directory: Path) -> Path:
    """A migrated site database (in an emulated primary mount) and cache, for nodes to copy."""
    mount = Mount(directory / "litefs", DB_NAME)
    mount.make_primary()
    mount.ensure_pos()
    env = base_env(
        DATABASE_URL=f"sqlite:///{mount.db_path}",
        CACHE_DATABASE_URL=f"sqlite:///{directory / CACHE_NAME}",
        LITEFS_DIR=str(mount.path),
    )
    for database in ("default", "cache"):
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--database", database, "--noinput"],
            cwd=BASE_DIR,
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return directory


class Node:
    """One machine: its mount, cache, LiteFS API and gunicorn process."""

    def __init__(self, cluster: "Cluster", machine_id: str, region: str):
        self.cluster = cluster
        self.id = machine_id
        self.region = region
        self.root = cluster.root / machine_id
        self.mount = Mount(self.root / "litefs", DB_NAME)
        self.cache_path = self.root / "data" / CACHE_NAME
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = self.root / "gunicorn.log"
        self.port = free_port()
        self.is_primary = False
        self.primary_id: str | None = None
        self.connected = True
        self.process: subprocess.Popen | None = None
        self.writer: sqlite3.Connection | None = None  # the harness's own way into the file
        self.api = LiteFSAPI(self.info)

    def __repr__(self):
        return f"<Node {self.id} {self.region} {'primary' if self.is_primary else 'replica'}>"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def info(self) -> dict:
        """What LiteFS's GET /info says about this node."""
        return {
            "id": self.id,
            "isPrimary": self.is_primary,
            "candidate": self.region == self.cluster.primary_region,
            "path": str(self.mount.path),
            "primary": {"hostname": "" if self.is_primary else (self.primary_id or "")},
        }

    def env(self) -> dict[str, str]:
        return base_env(
            SITE_URL=self.cluster.site_url,
            DATABASE_URL=f"sqlite:///{self.mount.db_path}",
            CACHE_DATABASE_URL=f"sqlite:///{self.cache_path}",
            LITEFS_DIR=str(self.mount.path),
            LITEFS_API_URL=self.api.url,
            FLY_MACHINE_ID=self.id,
            FLY_REGION=self.region,
            PRIMARY_REGION=self.cluster.primary_region,
            FLY_APP_NAME="litesite-local",
            BIND_HOST="127.0.0.1",
            PORT=str(self.port),
            WEB_CONCURRENCY=str(self.cluster.workers),
            GUNICORN_THREADS=str(self.cluster.threads),
            **self.cluster.extra_env,
        )

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(BASE_DIR / "gunicorn.conf.py")],
            cwd=BASE_DIR,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._log_file = log

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"{self.id} exited during start-up:\n{self.log()[-3000:]}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/healthcheck", timeout=5) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(
            f"{self.id} did not answer within {READY_TIMEOUT_SECONDS}s:\n{self.log()[-3000:]}"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process is not None:
            self._log_file.close()
        self.process = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def fingerprint(self) -> str:
        """A hash of the database file and its WAL: changes only when something writes them."""
        digest = hashlib.sha256()
        for path in (self.mount.db_path, Path(f"{self.mount.db_path}-wal")):
            with contextlib.suppress(FileNotFoundError):
                digest.update(path.read_bytes())
        return digest.hexdigest()


class Cluster:
    def __init__(
        self,
        root: Path,
        *,
        machines=(("lhr-1", "lhr"), ("syd-1", "syd")),
        primary_region: str | None = None,
        extra_env: dict[str, str] | None = None,
        workers: int = 1,
        threads: int = 4,
    ):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.primary_region = primary_region or machines[0][1]
        self.extra_env = dict(extra_env or {})
        self.workers, self.threads = workers, threads
        self.nodes = [Node(self, machine_id, region) for machine_id, region in machines]
        self.regions = list(dict.fromkeys(region for _, region in machines))
        self.edge = Edge(regions=self.regions, machines=self.running_machines)
        self._timers: list[threading.Timer] = []
        self._lock = threading.RLock()

    # --- Life cycle -------------------------------------------------------------------------
    def start(self, *, template: Path | None = None, progress=None) -> "Cluster":
        """Build every node's files from a migrated template, then start everything."""
        say = progress or (lambda message: None)
        if template is None:
            say("Migrating a fresh database ...")
            template = migrate_template(self.root / "template")
        template_mount = Mount(template / "litefs", DB_NAME)
        first = next(n for n in self.nodes if n.region == self.primary_region)
        for node in self.nodes:
            node.writer = sqlite3.connect(node.mount.db_path, isolation_level=None)
            copy_database(template_mount.db_path, node.writer)
            node.mount.write_pos(*template_mount.read_pos())
            cache = sqlite3.connect(node.cache_path)
            copy_database(template / CACHE_NAME, cache)
            cache.close()
            node.is_primary = node is first
            node.primary_id = None if node is first else first.id
            if node is first:
                node.mount.make_primary()
            else:
                node.mount.write_lag(0)
                node.mount.make_replica(first.id)
            node.api.start()
        self.edge.start()
        say(f"Starting {len(self.nodes)} gunicorn machines ...")
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            node.wait_ready()
        return self

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        for node in self.nodes:
            node.stop()
            node.api.stop()
            if node.writer is not None:
                node.writer.close()
            # Leave files removable by whoever cleans up (a 0555 directory is not, for non-root).
            node.mount.path.chmod(0o755)
        self.edge.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- Looking around ---------------------------------------------------------------------
    @property
    def site_url(self) -> str:
        return self.edge.url(self.primary_region)

    @property
    def primary(self) -> Node:
        return next(n for n in self.nodes if n.is_primary)

    def node(self, machine_id: str) -> Node:
        return next(n for n in self.nodes if n.id == machine_id)

    def running_machines(self) -> list[Machine]:
        return [Machine(n.id, n.region, n.port) for n in self.nodes if n.running]

    def url(self, region: str) -> str:
        return self.edge.url(region)

    def client(self, region: str) -> Client:
        """A visitor whose requests reach Fly's edge in `region`."""
        return Client(self.url(region))

    def manage(self, node: Node, *args: str) -> subprocess.CompletedProcess:
        """Run a management command on a node, as `fly ssh console -C` would."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=node.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )

    def shell(self, node: Node, code: str) -> str:
        """Run Python on a node with Django set up (`manage.py shell -c`); its stdout."""
        result = self.manage(node, "shell", "-c", code)
        if result.returncode != 0:
            raise RuntimeError(f"shell on {node.id} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    # --- Replication under control ----------------------------------------------------------
    def replicate(self, *nodes: Node) -> None:
        """Ship the primary's current state to the given replicas (default: connected ones)."""
        with self._lock:
            primary = self.primary
            targets = nodes or [n for n in self.nodes if not n.is_primary and n.connected]
            for node in targets:
                # Position first: the snapshot taken after it holds at least that transaction.
                txid, checksum = primary.mount.read_pos()
                copy_database(primary.mount.db_path, node.writer)
                node.mount.write_pos(txid, checksum)
                node.mount.write_lag(0)

    def replicate_after(self, seconds: float, *nodes: Node) -> threading.Timer:
        """Replicate later; meanwhile the replicas' `.lag` shows the delay."""
        for node in nodes or [n for n in self.nodes if not n.is_primary and n.connected]:
            node.mount.write_lag(int(seconds * 1000))
        timer = threading.Timer(seconds, self.replicate, args=nodes)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()
        return timer

    def disconnect(self, node: Node) -> None:
        """The replica loses its primary: `.primary` disappears and nothing arrives any more."""
        with self._lock:
            node.connected = False
            node.primary_id = None
            node.mount.set_primary_file(None)

    def reconnect(self, node: Node) -> None:
        with self._lock:
            node.connected = True
            node.primary_id = self.primary.id
            node.mount.set_primary_file(self.primary.id)
            self.replicate(node)

    def failover(self, machine_id: str, *, catch_up: bool = True) -> Node:
        """Make another node the primary. It catches up first, so TXIDs continue; without
        `catch_up` it starts from what it had (the old primary's last writes are lost)."""
        with self._lock:
            old, new = self.primary, self.node(machine_id)
            if new is old:
                return new
            if catch_up:
                self.replicate(new)
            old.is_primary, old.primary_id = False, new.id
            old.mount.make_replica(new.id)
            new.is_primary, new.primary_id, new.connected = True, None, True
            new.mount.make_primary()
            for node in self.nodes:
                if node is not new and node.connected:
                    node.primary_id = new.id
                    node.mount.set_primary_file(new.id)
            return new
