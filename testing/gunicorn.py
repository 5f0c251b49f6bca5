"""The project's gunicorn.conf.py serving the site on a free 127.0.0.1 port, for tests that need
the real server (its worker processes, its forwarded-header rules, its connection handling).

The site runs as testing.local_site sets it up (production settings, without the emulated
LiteFS, on SQLite files in the test's folder). gunicorn runs under `timeout`, which ends it by
itself should the test process die before it can stop it.
"""

import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from devcluster.harness import BASE_DIR, free_port, migrate_databases
from testing import local_site

LIFETIME_SECONDS = 180
START_SECONDS = 60


class Gunicorn:
    """One gunicorn master; `variables` override the environment it starts with."""

    def __init__(self, root: Path, **variables: str) -> None:
        self.root = root
        self.port = free_port()
        self.log = root / "gunicorn.log"
        self.env = local_site.environment(root, self.port, secret_key="gunicorn-test-secret-key")
        self.env |= {
            "BIND_HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
            **variables,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def migrate(self) -> None:
        migrate_databases(self.env)

    def start(self) -> None:
        """Start gunicorn and return once it answers HTTP (whatever the status)."""
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                ["timeout", str(LIFETIME_SECONDS), sys.executable, "-m", "gunicorn"]
                + ["-c", str(BASE_DIR / "gunicorn.conf.py")],
                cwd=BASE_DIR,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_SECONDS
        while not self.answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"gunicorn did not answer in {START_SECONDS} s:\n{self.output()}"
                )
            time.sleep(0.05)

    def answers(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", "/healthcheck")
            connection.getresponse().read()
            return True
        except ConnectionRefusedError:
            return False
        finally:
            connection.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)

    def __enter__(self) -> "Gunicorn":
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
