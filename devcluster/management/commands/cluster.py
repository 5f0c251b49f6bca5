"""Run the site as a small multi-region LiteFS cluster on this machine: `manage.py cluster`.

LiteFS and Fly's edge cannot run on a laptop, so this starts the emulation the tests use
(devcluster): a primary and a standby candidate in one region and a replica in another, each a
real gunicorn process started as litefs.yml says, with its own emulated LiteFS mount, behind a
loopback edge that honours fly-replay. Open a region's URL to be "a visitor near" it and watch
the X-Litesite-* headers say where each response was served.

While it runs it reads commands, one per line, from its standard input, to watch what visitors
see when machines come and go: `failover` stops the primary's machine and promotes a candidate;
`stop`/`start` a machine (the replicas drop `.primary` about 2 s after their primary stops, and
answer writes 503 until one returns); `status`. Everything lives in a temporary directory (or
--directory) and stops on Ctrl-C.
"""

import select
import signal
import sys
import tempfile
import threading
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from devcluster.harness import Cluster, Node

MACHINES = [("lhr-1", "lhr"), ("lhr-2", "lhr"), ("syd-1", "syd")]
COMMANDS = """Commands (type one and press Enter):
  failover [MACHINE]  stop the primary's machine and promote MACHINE (default: another candidate)
  stop MACHINE        stop a machine (its app and its LiteFS)
  start MACHINE       boot a stopped machine as Fly would (LiteFS, then litefs.yml's exec)
  status              who is primary, which machines run
  help                this list"""


class Command(BaseCommand):
    help = (
        "Start an emulated two-region LiteFS cluster (primary lhr-1, standby lhr-2, replica "
        "syd-1) behind a Fly-like edge on 127.0.0.1 and print its URLs; then read commands "
        "(failover, stop, start, status) from standard input. Ctrl-C stops it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--replicate-every",
            type=float,
            default=1.0,
            metavar="SECONDS",
            help="Ship the primary's changes to the replicas this often (0: never; default 1).",
        )
        parser.add_argument(
            "--directory",
            help="Keep the cluster's files here instead of a temporary directory.",
        )

    def handle(self, *args, replicate_every, directory, **options):
        if replicate_every < 0:
            raise CommandError(f"--replicate-every must be 0 or more, not {replicate_every}.")
        if directory and Path(directory).exists() and any(Path(directory).iterdir()):
            raise CommandError(f"{directory} is not empty; pick a new or empty directory.")
        with tempfile.TemporaryDirectory(prefix="litesite-cluster-") as scratch:
            root = Path(directory or scratch)
            cluster = Cluster(root, machines=MACHINES)
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            try:
                cluster.start(progress=self.stdout.write)
                self.describe(cluster, root, replicate_every)
                reader = threading.Thread(target=self.read_commands, args=(cluster, stop))
                reader.start()
                while not stop.wait(replicate_every or None):
                    cluster.replicate()
            except KeyboardInterrupt:
                pass
            except RuntimeError as exc:
                raise CommandError(str(exc)) from None
            finally:
                stop.set()
                self.stdout.write("Stopping the cluster ...")
                cluster.stop()
        self.stdout.write(self.style.SUCCESS("Stopped."))

    def describe(self, cluster: Cluster, root: Path, replicate_every: float) -> None:
        self.stdout.write(
            self.style.SUCCESS("The cluster is up. Visit the site as a visitor near:")
        )
        for region in cluster.regions:
            self.stdout.write(f"  {region}: {cluster.url(region)}/")
        self.stdout.write("Machines (direct, bypassing the edge):")
        for node in cluster.nodes:
            self.stdout.write(f"  {self.state(node)}: {node.url}  log: {node.log_path}")
        every = f"every {replicate_every:g}s" if replicate_every else "never (--replicate-every 0)"
        self.stdout.write(f"Replication from the primary: {every}. Files: {root}")
        self.stdout.write(
            "Try: curl -si -X POST <syd URL>/logout | grep -i x-  (replayed to lhr-1)"
        )
        self.stdout.write(COMMANDS)
        self.stdout.write("Press Ctrl-C to stop.")

    def state(self, node: Node) -> str:
        if not node.machine_up:
            role = "stopped"
        elif node.is_primary:
            role = "primary"
        elif node.primary_id:
            role = f"replica of {node.primary_id}"
        else:
            role = "replica, no primary known"
        candidate = ", candidate" if node.candidate else ""
        return f"{node.id} ({node.region}{candidate}, {role})"

    # --- Commands read from standard input -------------------------------------------------
    def read_commands(self, cluster: Cluster, stop: threading.Event) -> None:
        # Never blocked in a read when the command ends: Python cannot shut down while a
        # thread holds standard input's lock.
        while not stop.is_set():
            if not select.select([sys.stdin], [], [], 0.2)[0]:
                continue
            line = sys.stdin.readline()
            if not line:  # end of input: the cluster keeps running until Ctrl-C
                return
            words = line.split()
            if not words:
                continue
            try:
                self.run_command(cluster, words[0].lower(), words[1:])
            except CommandError as exc:
                self.stdout.write(self.style.ERROR(str(exc)))
            except RuntimeError as exc:  # a machine that would not start
                self.stdout.write(self.style.ERROR(str(exc)))

    def run_command(self, cluster: Cluster, command: str, args: list[str]) -> None:
        if command == "failover":
            self.failover(cluster, args[0] if args else None)
        elif command in ("stop", "start"):
            if len(args) != 1:
                raise CommandError(f"Usage: {command} MACHINE")
            node = self.machine(cluster, args[0])
            if command == "stop":
                self.stop_machine(cluster, node)
            else:
                self.start_machine(cluster, node)
        elif command == "status":
            for node in cluster.nodes:
                self.stdout.write(f"  {self.state(node)}")
        elif command == "help":
            self.stdout.write(COMMANDS)
        else:
            raise CommandError(f"Unknown command {command!r}; type help for the list.")

    def machine(self, cluster: Cluster, machine_id: str) -> Node:
        try:
            return cluster.node(machine_id)
        except StopIteration:
            names = ", ".join(n.id for n in cluster.nodes)
            raise CommandError(f"No machine {machine_id!r}; the machines are {names}.") from None

    def failover(self, cluster: Cluster, machine_id: str | None) -> None:
        old = cluster.primary
        if machine_id is None:
            others = [n for n in cluster.nodes if n.candidate and n is not old and n.machine_up]
            if not others:
                raise CommandError("No other candidate is running to take over.")
            new = others[0]
        else:
            new = self.machine(cluster, machine_id)
            if new is old or not new.candidate or not new.machine_up:
                raise CommandError(f"{new.id} cannot take over: pick a running candidate.")
        # A standby streams the primary's changes as they commit: it has them all.
        cluster.replicate(new)
        if old.machine_up:
            self.stop_machine(cluster, old)
        cluster.failover(new.id, catch_up=False, announce_after=cluster.primary_found_after)
        self.stdout.write(
            self.style.SUCCESS(
                f"{new.id} is the primary. The replicas name it in about "
                f"{cluster.primary_found_after:g}s. `start {old.id}` boots {old.id} again: a "
                "candidate with promote: true takes the lease back as it boots."
            )
        )

    def stop_machine(self, cluster: Cluster, node: Node) -> None:
        if not node.machine_up:
            raise CommandError(f"{node.id} is already stopped.")
        was_primary = node.is_primary
        cluster.stop_machine(node)
        self.stdout.write(f"Stopped {node.id}.")
        if was_primary:
            self.stdout.write(
                f"The replicas lose {node.id} in about {cluster.primary_lost_after:g}s and "
                "answer writes 503 until a primary returns (`failover`, or `start` it)."
            )

    def start_machine(self, cluster: Cluster, node: Node) -> None:
        if node.machine_up:
            raise CommandError(f"{node.id} is already running.")
        self.stdout.write(f"Booting {node.id} ...")
        cluster.boot(node)
        self.stdout.write(self.style.SUCCESS(f"Started {self.state(node)}."))
