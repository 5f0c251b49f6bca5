"""gunicorn settings, from the environment (Fly, the Dockerfile and the emulated cluster).

gthread workers: SQLite calls release the GIL, and threads share one process's persistent
connections. The application is not preloaded in the master, so no database connection (and no
SQLite file descriptor) is ever opened before the fork; Django opens its connections lazily in
each worker anyway.

The master binds its port first and migrates second (`when_ready`): on Fly, LiteFS starts
gunicorn right after promoting this machine, and requests replayed here meanwhile wait in the
listen backlog instead of meeting a closed port.
"""

import os
import subprocess
import sys
from pathlib import Path

from litesite import metrics_server as _metrics_server

MANAGE_PY = Path(__file__).resolve().with_name("manage.py")

bind = f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"
wsgi_app = "litesite.wsgi:application"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
preload_app = False
# A replica may hold a GET for settings.LITEFS_TXID_WAIT_SECONDS; uploads of calls take a while too.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
# Whom to believe about X-Forwarded-Proto (wsgi.url_scheme, hence Django's HTTPS redirect).
# On Fly, its proxy: the machine's port is reachable from outside only through it, and it connects
# from Fly's internal network at addresses Fly does not publish. Off Fly, only a proxy on this
# machine (gunicorn's own default); anyone else could skip the redirect by sending the header.
# FORWARDED_ALLOW_IPS overrides both. "On Fly" is decided as settings.TRUST_FLY_PROXY is.


def _behind_fly_proxy() -> bool:
    on_fly = bool(os.environ.get("FLY_APP_NAME") and os.environ.get("FLY_MACHINE_ID"))
    raw = os.environ.get("TRUST_FLY_PROXY", str(on_fly)).strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"TRUST_FLY_PROXY must be true or false, not {raw!r}.")


forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or (
    "*" if _behind_fly_proxy() else "127.0.0.1,::1"
)
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "").lower() in ("1", "true") else None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# gunicorn 24+ opens a control socket at a fixed per-user path; several gunicorns on one machine
# (the emulated cluster) would fight over it, and nothing here uses it.
control_socket_disable = True

# Prometheus metrics (litesite/metrics_server.py; README "Metrics for operators"): the master
# serves every worker's counts, summed, on METRICS_PORT (9091; 0 turns it off) at METRICS_HOST
# (`::` on a Fly machine, whose private network Fly scrapes from; else 127.0.0.1), never on the
# public port. Hooks, not module code: this file is read again on every reload (HUP), and by tests.
_metrics_address = _metrics_server.address(os.environ)


def on_starting(server):
    if _metrics_address:
        _metrics_server.prepare_directory(os.environ)  # before any worker forks


def when_ready(server):
    """Listening, no worker yet: bring this machine's databases up to date (manage.py
    migrate_node: the cache always, the site database only on the primary), in a process of its
    own so that the master never opens a database. Connections made meanwhile are answered once
    the workers start; if migrating fails, gunicorn stops, and LiteFS with it. Then the metrics
    exposition starts."""
    result = subprocess.run([sys.executable, str(MANAGE_PY), "migrate_node"], check=False)
    if result.returncode != 0:
        server.halt(reason="manage.py migrate_node failed", exit_status=1)
    if _metrics_address:
        host, port = _metrics_address
        _metrics_server.start(host=host, port=port, log=server.log)


def child_exit(server, worker):
    if _metrics_address:
        _metrics_server.worker_exited(worker.pid)


def on_exit(server):
    _metrics_server.remove_own_directory()
