"""gunicorn settings, from the environment (Fly, the Dockerfile and the emulated cluster).

gthread workers: SQLite calls release the GIL, and threads share one process's persistent
connections. The application is not preloaded in the master, so no database connection (and no
SQLite file descriptor) is ever opened before the fork; Django opens its connections lazily in
each worker anyway.
"""

import os

bind = f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"
wsgi_app = "litesite.wsgi:application"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
preload_app = False
# A replica may hold a GET for LITEFS_TXID_WAIT_SECONDS; uploads of calls take a while too.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
# Fly's proxy is the only client; it says who the visitor is in X-Forwarded-* headers.
forwarded_allow_ips = "*"
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "").lower() in ("1", "true") else None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# gunicorn 24+ opens a control socket at a fixed per-user path; several gunicorns on one machine
# (the emulated cluster) would fight over it, and nothing here uses it.
control_socket_disable = True
