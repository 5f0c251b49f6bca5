"""Run the site as a small multi-region LiteFS cluster on this machine: `manage.py cluster`.

LiteFS and Fly's edge cannot run on a laptop, so this starts the emulation the tests use
(litesite/cluster): a primary and a replica in one region and a replica in another, each a real
gunicorn process with its own emulated LiteFS mount, behind a loopback edge that honours
fly-replay. Open a region's URL to be "a visitor near" it and watch the X-Litesite-* headers
say where each response was served. Everything lives in a temporary directory (or --directory)
and stops on Ctrl-C.
"""

import signal
import tempfile
import threading
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from litesite.cluster.harness import Cluster

MACHINES = [("lhr-1", "lhr"), ("lhr-2", "lhr"), ("syd-1", "syd")]


class Command(BaseCommand):
    help = (
        "Start an emulated two-region LiteFS cluster (primary lhr-1, replicas lhr-2 and syd-1) "
        "behind a Fly-like edge on 127.0.0.1 and print its URLs. Ctrl-C stops it."
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
                while not stop.wait(replicate_every or None):
                    cluster.replicate()
            except KeyboardInterrupt:
                pass
            except RuntimeError as exc:
                raise CommandError(str(exc)) from None
            finally:
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
            role = "primary" if node.is_primary else f"replica of {node.primary_id}"
            self.stdout.write(
                f"  {node.id} ({node.region}, {role}): {node.url}  log: {node.log_path}"
            )
        every = f"every {replicate_every:g}s" if replicate_every else "never (--replicate-every 0)"
        self.stdout.write(f"Replication from the primary: {every}. Files: {root}")
        self.stdout.write(
            "Try: curl -si -X POST <syd URL>/logout | grep -i x-  (replayed to lhr-1)"
        )
        self.stdout.write("Press Ctrl-C to stop.")
