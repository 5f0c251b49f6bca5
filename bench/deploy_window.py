"""What a deploy of the primary costs visitors: `.venv/bin/python bench/deploy_window.py`.

The emulated cluster (devcluster): primary lhr-1 (the only candidate) and replica syd-1. While
lhr-1 is deployed (its machine stopped, then booted as Fly and LiteFS do: it takes the lease
back, then runs its exec commands), two visitors keep going, each sending its next request when
the last one was answered:

- near lhr: GET /healthcheck. The edge sends it to lhr-1, the region's only machine, as soon as
  that machine is up again (to syd-1 while it is down);
- near syd: POST /logout. syd-1 replays it to the primary it names, lhr-1 throughout (it names
  the next primary a second after one appears, and lhr-1 is back within 2 s).

Printed per visitor, from the moment lhr-1 booted and took the lease: how many answers failed and
for how long (the edge's 502 for a closed port), and the slowest answer (a request held while the
new primary migrates). Compared: the deploy as litefs.yml has it (gunicorn binds first, then
migrates: `manage.py migrate_node` in its when_ready hook) and as it was before (`if-candidate`
`migrate` of the site database, then the cache's, then gunicorn, which binds last); on a
database with nothing to apply, and on a fresh volume (`--fresh`: every migration to apply, a
first deploy).
"""

import argparse
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devcluster.harness import Cluster, migrate_template  # noqa: E402
from devcluster.litefs_config import ExecCommand  # noqa: E402

# gunicorn.conf.py as it was: the same settings, without the hook that migrates after binding.
GUNICORN_WITHOUT_HOOK = """
import runpy
globals().update(
    {k: v for k, v in runpy.run_path(%r).items() if k != "when_ready" and not k.startswith("__")}
)
"""


@dataclass
class Answer:
    sent: float  # seconds since the deploy began
    seconds: float
    status: int


def before_exec(directory: Path) -> list[ExecCommand]:
    """litefs.yml's exec as it was before the app bound its port first."""
    config = directory / "gunicorn-without-hook.conf.py"
    config.write_text(GUNICORN_WITHOUT_HOOK % str(ROOT / "gunicorn.conf.py"))
    return [
        ExecCommand("python manage.py migrate --database default --noinput", if_candidate=True),
        ExecCommand("python manage.py migrate --database cache --noinput"),
        ExecCommand(f"gunicorn --config {config}"),
    ]


def visit(cluster, region, method, path, answers, stop, start):
    client = cluster.client(region)
    if method == "POST":
        token = client.csrf_token("/login")
    while not stop.is_set():
        sent = time.monotonic()
        if method == "POST":
            response = client.post(path, {"csrfmiddlewaretoken": token})
        else:
            response = client.get(path)
        answers.append(Answer(sent - start, time.monotonic() - sent, response.status))
        time.sleep(0.02)


def run(variant: str, *, fresh: bool, template: Path, scratch: Path) -> None:
    root = scratch / f"{variant}{'-fresh' if fresh else ''}"
    root.mkdir()
    commands = before_exec(root) if variant == "before" else None
    cluster = Cluster(root / "cluster", exec_commands=commands).start(template=template)
    try:
        primary = cluster.node("lhr-1")
        answers = {"lhr": [], "syd": []}
        stop = threading.Event()
        start = time.monotonic()
        visitors = [
            threading.Thread(
                target=visit,
                args=(cluster, "lhr", "GET", "/healthcheck", answers["lhr"], stop, start),
            ),
            threading.Thread(
                target=visit, args=(cluster, "syd", "POST", "/logout", answers["syd"], stop, start)
            ),
        ]
        for thread in visitors:
            thread.start()
        time.sleep(1)
        booted = {}

        def note_boot():
            while not primary.machine_up:
                time.sleep(0.002)
            booted["at"] = time.monotonic() - start

        cluster.stop_machine(primary)
        watcher = threading.Thread(target=note_boot)
        watcher.start()
        if fresh:
            cluster.empty_volume(primary)
        cluster.boot(primary)
        ready = time.monotonic() - start
        watcher.join()
        time.sleep(1)
        stop.set()
        for thread in visitors:
            thread.join()
        report(variant, fresh, answers, booted["at"], ready)
    finally:
        cluster.stop()


def report(variant, fresh, answers, booted, ready):
    what = "as litefs.yml has it" if variant == "after" else "as it was (migrations, then app)"
    database = "fresh volume" if fresh else "nothing to apply"
    print(f"== Deploy of lhr-1, {what}, {database}: booted at {booted:.2f}s, ready {ready:.2f}s")
    for region, label in (("lhr", "GET /healthcheck near lhr"), ("syd", "POST /logout near syd")):
        after = [a for a in answers[region] if a.sent >= booted]
        failed = [a for a in after if a.status >= 500]
        window = max(a.sent + a.seconds for a in failed) - booted if failed else 0.0
        slowest = max((a.seconds for a in after), default=0.0)
        statuses = statistics.multimode([a.status for a in after]) if after else []
        print(
            f"  {label:26}: {len(after)} answers after the boot, {len(failed)} failed "
            f"({', '.join(sorted({str(a.status) for a in failed})) or '-'}) over {window:.2f}s; "
            f"slowest {slowest:.2f}s; usual status {statuses}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variant", choices=["before", "after", "both"], default="both", help="which exec"
    )
    parser.add_argument("--fresh", action="store_true", help="only the fresh-volume deploys")
    parser.add_argument("--current", action="store_true", help="only the up-to-date deploys")
    args = parser.parse_args()
    variants = ["before", "after"] if args.variant == "both" else [args.variant]
    volumes = [False, True]
    if args.fresh != args.current:
        volumes = [args.fresh]
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as scratch:
        template = migrate_template(Path(scratch) / "template")
        for fresh in volumes:
            for variant in variants:
                run(variant, fresh=fresh, template=template, scratch=Path(scratch))


if __name__ == "__main__":
    main()
