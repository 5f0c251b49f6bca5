"""The WSGI application under a real gunicorn: HEAD answers carry GET's headers and no body.

gunicorn drops body bytes on a HEAD response itself, but logs a warning for each one; the
application must not send them.
"""

import contextlib
import http.client
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devcluster.harness import BASE_DIR, base_env, free_port, migrate_databases

READY_TIMEOUT_SECONDS = 90
# Headers that differ between two requests by design.
PER_REQUEST_HEADERS = {"date", "set-cookie", "server-timing"}


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    """The project's gunicorn.conf.py on 127.0.0.1, one worker with one thread (requests are
    handled one after another, so the log is complete once the last answer arrives)."""
    root = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    env = base_env(
        # DEBUG serves static files from the source folders, without a collectstatic run.
        DEBUG="true",
        DJANGO_SETTINGS_MODULE="litesite.settings",  # standalone: no emulated LiteFS
        SITE_URL="http://127.0.0.1",
        DATABASE_URL=f"sqlite:///{root / 'site.sqlite3'}",
        CACHE_DATABASE_URL=f"sqlite:///{root / 'cache.sqlite3'}",
        BIND_HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="1",
    )
    migrate_databases(env)
    log_path = root / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(BASE_DIR / "gunicorn.conf.py")],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(port, process, log_path)
        yield port, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(port: int, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log_path.read_text(errors='replace')}")
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthcheck")
            if connection.getresponse().status == 200:
                connection.close()
                return
        time.sleep(0.05)
    raise RuntimeError(f"gunicorn did not answer:\n{log_path.read_text(errors='replace')}")


def exchange(connection, method: str, path: str) -> tuple[int, dict[str, str], bytes, bool]:
    connection.request(method, path)
    response = connection.getresponse()
    body = response.read()
    headers = {name.lower(): value for name, value in response.getheaders()}
    return response.status, headers, body, response.will_close


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/blog/hello-litesite/",
        "/static/css/site.css",  # WhiteNoise
        "/blog/litefs-replication-explained/replication.svg",  # a FileResponse, sent by sendfile
    ],
)
def test_a_head_request_gets_the_get_headers_and_no_warning_in_the_log(gunicorn, path):
    port, log_path = gunicorn
    log_before = log_path.stat().st_size
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    get_status, get_headers, get_body, _ = exchange(connection, "GET", path)
    head_status, head_headers, head_body, closes = exchange(connection, "HEAD", path)
    # The same connection answers once more: the HEAD request was over, its log lines written.
    assert not closes
    assert exchange(connection, "GET", "/healthcheck")[0] == 200
    connection.close()

    assert get_status == head_status == 200
    assert get_body and head_body == b""
    assert int(head_headers["content-length"]) == len(get_body)
    for name in set(get_headers) - PER_REQUEST_HEADERS:
        assert head_headers.get(name) == get_headers[name], name
    with open(log_path, "rb") as log:
        log.seek(log_before)
        assert b"sent body bytes" not in log.read()
