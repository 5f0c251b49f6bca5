"""Primary and replicas as separate gunicorn processes on 127.0.0.1, behind an emulated Fly edge.

    with Cluster(tmp_path, machines=[("lhr-1", "lhr"), ("syd-1", "syd")]) as cluster:
        client = cluster.client("syd")           # a visitor near Sydney
        client.post("/me", {...})                # replayed to the primary in lhr
        cluster.replicate()                      # ship the primary's state to the replicas

Each node has an emulated LiteFS mount (mount.py), its own LiteFS `/info` (litefs_api.py), its
own unreplicated cache database, and runs the project's litefs.yml `exec` commands (gunicorn with
gunicorn.conf.py) under devcluster.settings, so the application code and its start-up are exactly
what runs on Fly. Replication happens only when the caller asks: now (`replicate`), later
(`replicate_after`, with `.lag` showing the delay), not at all for a disconnected node
(`disconnect`), or to a new primary (`failover`), whose TXIDs continue from the old primary's.

Machines stop and boot as on Fly (`stop_machine`, `boot`, `deploy`): a booting machine joins the
cluster as LiteFS does (a candidate with `promote: true` takes the lease first; a non-candidate
waits for a primary), then runs the exec commands. The replicas see the primary come and go as on
LiteFS v0.5.14 (shared/LITEFS.md, "Observed"): `.primary` disappears `primary_lost_after` seconds
(2) after their primary is lost, and names a new one `primary_found_after` seconds (1) after it
appears.
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
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

from devcluster import litefs_config
from devcluster.client import Client
from devcluster.edge import Edge, Machine
from devcluster.litefs_api import LiteFSAPI, new_cluster_id
from devcluster.mount import Mount

BASE_DIR = Path(__file__).resolve().parents[1]
DB_NAME = "site.sqlite3"
CACHE_NAME = "cache.sqlite3"
APP_NAME = "litesite-local"
READY_TIMEOUT_SECONDS = 90
# Seen on LiteFS v0.5.14: a replica drops `.primary` about 2 s after losing its primary, and
# names the next one about 1 s after it appears.
PRIMARY_LOST_AFTER_SECONDS = 2.0
PRIMARY_FOUND_AFTER_SECONDS = 1.0
# Environment a node must not inherit from whoever started the harness.
_NODE_OWNED = (
    "DATABASE_URL",
    "CACHE_DATABASE_URL",
    "LITEFS_",
    "FLY_",
    "PRIMARY_REGION",
    "PORT",
    "DJANGO_SETTINGS_MODULE",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(**overrides) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NODE_OWNED)}
    env.update(
        # The site's settings with the emulated LiteFS backend for the site database.
        DJANGO_SETTINGS_MODULE="devcluster.settings",
        # DEBUG serves static files without a collectstatic manifest; nothing in the replication
        # layer depends on it.
        DEBUG="true",
        SECRET_KEY="emulated-cluster-secret-key",
        EMAIL_URL="consolemail://",
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
    migrate_databases(env)
    return directory


def migrate_databases(env: dict[str, str]) -> None:
    """`manage.py migrate` of the site and cache databases the environment `env` names."""
    for database in ("default", "cache"):
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--database", database, "--noinput"],
            cwd=BASE_DIR,
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )


def wait_for(condition, *, timeout: float, message: str, every: float = 0.05):
    """Poll `condition` until it returns something true; that value, or RuntimeError."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise RuntimeError(message)
        time.sleep(every)


class Node:
    """One machine: its mount, cache, LiteFS API and gunicorn process."""

    def __init__(self, cluster: "Cluster", machine_id: str, region: str):
        self.cluster = cluster
        self.id = machine_id
        self.region = region
        self.root = cluster.root / machine_id
        self.mount = Mount(self.root / "litefs", DB_NAME)
        self.data_dir = self.root / "litefs-data"  # LiteFS's own data directory: /info's `path`
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.cache_path = self.root / "data" / CACHE_NAME
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = self.root / "gunicorn.log"
        self.port = free_port()
        self.is_primary = False
        self.primary_id: str | None = None
        self.connected = True
        # The Fly machine is started (Fly's edge routes to it), whether or not its app listens.
        self.machine_up = False
        self.process: subprocess.Popen | None = None
        self.writer: sqlite3.Connection | None = None  # the harness's own way into the file
        self.api = LiteFSAPI(self.info, hostname=machine_id, cluster_id=cluster.cluster_id)
        self._log_file: BinaryIO | None = None

    def __repr__(self):
        return f"<Node {self.id} {self.region} {'primary' if self.is_primary else 'replica'}>"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @cached_property
    def litefs_config(self) -> dict:
        """litefs.yml as this machine's LiteFS reads it."""
        return litefs_config.load(
            {
                **self.env(),
                "HOSTNAME": self.id,
                "FLY_CONSUL_URL": "http://127.0.0.1:8500/emulated",
            }
        )

    @property
    def candidate(self) -> bool:
        """May this node hold the lease? litefs.yml's `lease.candidate`, as on Fly."""
        return self.litefs_config["lease"].get("candidate") is True

    def info(self) -> dict:
        """What LiteFS's GET /info says about this node."""
        return {
            "isPrimary": self.is_primary,
            "candidate": self.candidate,
            "path": str(self.data_dir),
            # LiteFS names the primary itself there too; "" when no primary is known.
            "primary": {"hostname": self.id if self.is_primary else self.primary_id or ""},
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
            FLY_APP_NAME=APP_NAME,
            BIND_HOST="127.0.0.1",
            PORT=str(self.port),
            WEB_CONCURRENCY=str(self.cluster.workers),
            GUNICORN_THREADS=str(self.cluster.threads),
            **self.cluster.extra_env,
        )

    def start(self) -> None:
        """Run the exec commands as LiteFS does once this node has joined the cluster: in order,
        `if-candidate` ones only on a candidate, each to completion but the last, the app, which
        keeps running."""
        commands = self.cluster.exec_commands or litefs_config.exec_commands(self.litefs_config)
        *steps, app = [c for c in commands if self.candidate or not c.if_candidate]
        if self._log_file is None:
            self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        for step in steps:
            result = subprocess.run(
                step.argv(),
                cwd=BASE_DIR,
                env=self.env(),
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                timeout=300,
            )
            if result.returncode != 0:
                raise RuntimeError(f"{self.id}: `{step.cmd}` failed:\n{self.log()[-3000:]}")
        self.process = subprocess.Popen(
            app.argv(),
            cwd=BASE_DIR,
            env=self.env(),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def listening(self) -> bool:
        """Does something accept connections on this node's port (answered or not yet)?"""
        with socket.socket() as sock:
            sock.settimeout(1)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and not self.running:
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
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
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
        exec_commands: list[litefs_config.ExecCommand] | None = None,
        primary_lost_after: float = PRIMARY_LOST_AFTER_SECONDS,
        primary_found_after: float = PRIMARY_FOUND_AFTER_SECONDS,
    ):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.primary_region = primary_region or machines[0][1]
        self.extra_env = dict(extra_env or {})
        self.workers, self.threads = workers, threads
        # None: litefs.yml's, as each machine reads it.
        self.exec_commands = exec_commands
        self.primary_lost_after = primary_lost_after
        self.primary_found_after = primary_found_after
        self.cluster_id = new_cluster_id()
        self.nodes = [Node(self, machine_id, region) for machine_id, region in machines]
        self.regions = list(dict.fromkeys(region for _, region in machines))
        self.edge = Edge(regions=self.regions, machines=self.running_machines)
        self._timers: list[threading.Timer] = []
        self._lock = threading.RLock()

    # --- Life cycle -------------------------------------------------------------------------
    def collect_static(self) -> None:
        """`collectstatic` for a cluster started with DEBUG off, whose pages need the static
        files' manifest, as in production (the nodes share the checkout's STATIC_ROOT)."""
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=BASE_DIR,
            env=self.primary.env(),
            check=True,
        )

    def start(self, *, template: Path | None = None, progress=None) -> "Cluster":
        """Build every node's files from a migrated template, then start everything."""
        say = progress or (lambda message: None)
        if template is None:
            say("Migrating a fresh database ...")
            template = migrate_template(self.root / "template")
        template_mount = Mount(template / "litefs", DB_NAME)
        first = next(n for n in self.nodes if n.candidate)
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
            node.machine_up = True
            node.api.start()
        self.edge.start()
        say(f"Starting {len(self.nodes)} gunicorn machines ...")
        starting = [threading.Thread(target=node.start) for node in self.nodes]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
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
        """The node holding the lease (or the last to hold it, if its machine is down)."""
        return next(n for n in self.nodes if n.is_primary)

    def node(self, machine_id: str) -> Node:
        return next(n for n in self.nodes if n.id == machine_id)

    def running_machines(self) -> list[Machine]:
        return [Machine(n.id, n.region, n.port) for n in self.nodes if n.machine_up]

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
        """Ship the primary's current state to the given replicas (default: connected ones).
        Nothing moves while the primary's machine is down."""
        with self._lock:
            primary = self.primary
            if not primary.machine_up:
                return
            targets = nodes or [
                n for n in self.nodes if not n.is_primary and n.connected and n.machine_up
            ]
            for node in targets:
                # Position first: the snapshot taken after it holds at least that transaction.
                txid, checksum = primary.mount.read_pos()
                assert node.writer is not None  # every booted node has one
                copy_database(primary.mount.db_path, node.writer)
                node.mount.write_pos(txid, checksum)
                node.mount.write_lag(0)

    def replicate_after(self, seconds: float, *nodes: Node) -> threading.Timer:
        """Replicate later; meanwhile the replicas' `.lag` shows the delay."""
        for node in nodes or [n for n in self.nodes if not n.is_primary and n.connected]:
            node.mount.write_lag(int(seconds * 1000))
        return self._later(seconds, self.replicate, *nodes)

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

    def failover(
        self, machine_id: str, *, catch_up: bool = True, announce_after: float = 0.0
    ) -> Node:
        """Make another node the primary. It catches up first (from a primary whose machine is
        up), so TXIDs continue; without `catch_up` it starts from what it had (the old primary's
        last writes are lost). The other replicas name it `announce_after` seconds later (0: at
        once, as a test wants)."""
        with self._lock:
            old, new = self.primary, self.node(machine_id)
            if new is old:
                return new
            if catch_up:
                self.replicate(new)
            old.is_primary, old.primary_id = False, new.id
            if old.machine_up:
                old.mount.make_replica(new.id)
            new.is_primary, new.primary_id, new.connected = True, None, True
            new.mount.make_primary()
            self._announce(new, after=announce_after)
            return new

    # --- Machines stopping and booting, as on Fly -------------------------------------------
    def stop_machine(self, node: Node) -> None:
        """Stop the machine: its app and its LiteFS. If it held the lease, the replicas lose
        their primary: their `.primary` disappears `primary_lost_after` seconds later (unless
        another primary appears first), and they answer writes 503 meanwhile."""
        with self._lock:
            node.machine_up = False
            node.api.answering = False
            node.stop()
            if node.is_primary:
                self._later(self.primary_lost_after, self._forget_primary, node)

    def boot(self, node: Node) -> None:
        """Start the machine as Fly does, and LiteFS on it: a candidate with `promote: true`
        takes the lease (from the current primary, caught up, if one is up); a non-candidate
        joins the primary, or waits for one (LiteFS never runs `exec` before it is ready);
        then the exec commands run. Returns once the app answers."""
        with self._lock:
            node.machine_up = True
            node.api.answering = True
            promote = node.litefs_config["lease"].get("promote") is True
            current = self.primary
            running = current if current is not node and current.machine_up else None
            if node.candidate and (promote or running is None):
                if running is None:
                    self._take_lease(node)
                else:  # a handoff: the primary streams what it has, then lets go
                    self.failover(node.id, announce_after=self.primary_found_after)
                joined = True
            else:
                joined = self._join(node)
        if not joined:
            wait_for(
                lambda: self._join(node),
                timeout=READY_TIMEOUT_SECONDS,
                message=f"{node.id} found no primary: LiteFS never became ready",
            )
        node.start()
        node.wait_ready()

    def deploy(self, node: Node, *, fresh_volume: bool = False) -> None:
        """A deploy of this machine: stop it, then boot it again (on an empty volume: no
        database, as for a first deploy)."""
        self.stop_machine(node)
        if fresh_volume:
            self.empty_volume(node)
        self.boot(node)

    def empty_volume(self, node: Node) -> None:
        """A stopped machine's volume, as new: no database (its app creates it)."""
        assert node.writer is not None  # every booted node has one
        node.writer.close()
        node.mount.remove_database()
        node.writer = sqlite3.connect(node.mount.db_path, isolation_level=None)

    def _take_lease(self, node: Node) -> None:
        for other in self.nodes:
            if other is not node:
                other.is_primary = False
        node.is_primary, node.primary_id, node.connected = True, None, True
        node.mount.make_primary()
        self._announce(node, after=self.primary_found_after)

    def _join(self, node: Node) -> bool:
        """The replica connects to a running primary and syncs; False when there is none."""
        with self._lock:
            primary = self.primary
            if primary is node or not primary.machine_up:
                return False
            node.is_primary, node.primary_id, node.connected = False, primary.id, True
            node.mount.make_replica(primary.id)
            self.replicate(node)
            return True

    def _announce(self, primary: Node, *, after: float) -> None:
        """The connected replicas name `primary` in `.primary`, `after` seconds from now."""

        def name_it():
            with self._lock:
                if not primary.is_primary or not primary.machine_up:
                    return
                for node in self.nodes:
                    if node is not primary and node.connected and node.machine_up:
                        node.primary_id = primary.id
                        node.mount.make_replica(primary.id)

        if after > 0:
            self._later(after, name_it)
        else:
            name_it()

    def _forget_primary(self, lost: Node) -> None:
        with self._lock:
            for node in self.nodes:
                if node is not lost and node.primary_id == lost.id and not lost.machine_up:
                    node.primary_id = None
                    node.mount.set_primary_file(None)

    def _later(self, seconds: float, function, *args) -> threading.Timer:
        timer = threading.Timer(seconds, function, args=args)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()
        return timer
