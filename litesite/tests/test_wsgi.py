"""The WSGI application under a real gunicorn: HEAD answers carry GET's headers and no body.

gunicorn drops body bytes on a HEAD response itself, but logs a warning for each one; the
application must not send them.
"""

import http.client

import pytest

from testing.gunicorn import Gunicorn

# Headers that differ between two requests by design.
PER_REQUEST_HEADERS = {"date", "set-cookie", "server-timing"}


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    """The project's gunicorn.conf.py on 127.0.0.1, one worker with one thread (requests are
    handled one after another, so the log is complete once the last answer arrives)."""
    # DEBUG serves static files from the source folders, without a collectstatic run.
    server = Gunicorn(tmp_path_factory.mktemp("gunicorn"), DEBUG="true")
    server.migrate()
    with server:
        yield server.port, server.log


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
