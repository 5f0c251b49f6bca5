"""What the metrics cost a request: `.venv/bin/python bench/metrics.py` prints figures.

1. One counter increment and one histogram observation (the request middleware does one of
   each), in prometheus_client's multiprocess mode (file-backed, as under gunicorn) and in its
   in-memory mode; `labels()` looked up afresh, which the middleware avoids by keeping its
   labelled children; and the whole middleware around a view that does nothing.
2. Django's WSGI handler on /healthcheck (the floor: no template) and /login (a page), with and
   without RequestMetricsMiddleware, called in a loop in this process: the CPU of Django alone,
   so the strictest ratio. Two identical handlers differ by a couple of µs here.

Each mode runs in a process of its own (prometheus_client chooses its mode when first imported),
on throwaway databases. Runs alternate between the variants; the best batch is kept, since a
shared machine is noisy.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before bench/, whose blog.py would hide the blog app

from devcluster.harness import migrate_databases  # noqa: E402

METRICS_MIDDLEWARE = "litesite.metrics.RequestMetricsMiddleware"
PAGES = ("/healthcheck", "/login")


def environment(work: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PROMETHEUS_", "LITEFS_"))},
        "DJANGO_SETTINGS_MODULE": "litesite.settings",
        "DEBUG": "true",  # static files without collectstatic's manifest
        "DATABASE_URL": f"sqlite:///{work}/site.sqlite3",
        "CACHE_DATABASE_URL": f"sqlite:///{work}/cache.sqlite3",
    }


def measure(rounds: int) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from prometheus_client import values
    from replication import best_of_interleaved, wsgi_get

    from litesite import metrics

    mode = "multiprocess" if values.ValueClass is not values.MutexValue else "in-memory"
    counter = metrics.REQUESTS.labels("bench", "200")
    timer = metrics.REQUEST_SECONDS.labels("bench")
    # The middleware's own work, around a view that does nothing.
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.urls import resolve

    request = RequestFactory().get("/healthcheck")
    request.resolver_match = resolve("/healthcheck")
    answer = HttpResponse()
    middleware = metrics.RequestMetricsMiddleware(lambda request: answer)
    ops = best_of_interleaved(
        {
            "counter inc": counter.inc,
            "histogram observe": lambda: timer.observe(0.012),
            "labels() lookup": lambda: metrics.REQUESTS.labels("bench", "200"),
            "the middleware": lambda: middleware(request),
        },
        rounds=rounds,
    )
    print(f"== prometheus_client, {mode} mode ==")
    for name, micros in ops.items():
        print(f"  {name:18}: {micros:6.2f} µs")

    full = WSGIHandler()
    stack = list(settings.MIDDLEWARE)
    settings.MIDDLEWARE = [m for m in stack if m != METRICS_MIDDLEWARE]
    bare = WSGIHandler()
    settings.MIDDLEWARE = stack
    for page in PAGES:
        best = best_of_interleaved(
            {"without": wsgi_get(bare, page), "with": wsgi_get(full, page)}, rounds=rounds
        )
        cost = best["with"] - best["without"]
        print(
            f"  {page}: without RequestMetricsMiddleware {best['without']:7.1f} µs, with "
            f"{best['with']:7.1f} µs per request: {cost:+.1f} µs, "
            f"{cost / best['without'] * 100:+.1f}%"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.rounds)
        return
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as work:
        env = environment(Path(work))
        migrate_databases(env)
        multiproc = Path(work) / "prometheus"
        multiproc.mkdir()
        for extra in ({"PROMETHEUS_MULTIPROC_DIR": str(multiproc)}, {}):
            subprocess.run(
                [sys.executable, __file__, "--measure", "--rounds", str(args.rounds)],
                cwd=ROOT,
                env={**env, **extra},
                check=True,
            )


if __name__ == "__main__":
    main()
