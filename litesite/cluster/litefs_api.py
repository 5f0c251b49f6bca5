"""LiteFS's HTTP API for one emulated node: `GET /info`, the one call litesite/litefs.py makes.

It answers `{"id", "isPrimary", "candidate", "primary": {"hostname"}}` from the harness's view of
the node, and can be switched off to play a LiteFS that does not answer.
"""

import contextlib
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LiteFSAPI:
    def __init__(self, info: Callable[[], dict]):
        self.info = info
        self.answering = True
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/info" or not api.answering:
                    self.send_error(503 if self.path == "/info" else 404)
                    return
                body = json.dumps(api.info()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)  # the app may have given up waiting: that is its call

            def log_message(self, format, *args):  # quiet: the tests read the app's logs
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
