"""LiteFS's HTTP API for one emulated node: `GET /info`, as LiteFS v0.5.14 answers it.

Seen on a real cluster (shared/LITEFS.md, "Observed"): 200, `Content-Type: text/plain;
charset=utf-8`, the node's `Litefs-Id` and the cluster's `Litefs-Cluster-Id` headers, and a body
of pretty-printed JSON (Go's MarshalIndent, two spaces) followed by a newline:

    {
      "clusterID": "LFSC8D5E2A4B0C1F3E97",
      "isPrimary": false,
      "candidate": true,
      "path": "/var/lib/litefs",
      "primary": {
        "hostname": "lhr-1"
      }
    }

`path` is LiteFS's data directory; `primary.hostname` is the primary's hostname, this node's own
on the primary, and "" when no primary is known. `answering = False` plays a LiteFS that does
not answer (or a machine that is down).
"""

import contextlib
import hashlib
import json
import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def node_id(hostname: str) -> str:
    """A LiteFS node ID (16 upper-case hex digits), the same for a hostname every time."""
    return hashlib.blake2b(hostname.encode(), digest_size=8).hexdigest().upper()


def new_cluster_id() -> str:
    """A LiteFS cluster ID: "LFSC" and 16 upper-case hex digits."""
    return "LFSC" + secrets.token_hex(8).upper()


def info_body(info: dict) -> bytes:
    """/info's body: the fields in LiteFS's order, indented as Go does, and a newline."""
    ordered = {
        "clusterID": info.get("clusterID", ""),
        "isPrimary": info["isPrimary"],
        "candidate": info.get("candidate", False),
        "path": info.get("path", ""),
        "primary": {"hostname": (info.get("primary") or {}).get("hostname", "")},
    }
    if not ordered["clusterID"]:
        del ordered["clusterID"]  # `omitempty` in LiteFS's NodeInfo
    return (json.dumps(ordered, indent=2) + "\n").encode()


class LiteFSAPI:
    def __init__(self, info: Callable[[], dict], *, hostname: str, cluster_id: str = ""):
        self.info = info
        self.node_id = node_id(hostname)
        self.cluster_id = cluster_id
        self.answering = True
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/info" or not api.answering:
                    self.send_error(503 if self.path == "/info" else 404)
                    return
                body = info_body({"clusterID": api.cluster_id, **api.info()})
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Litefs-Id", api.node_id)
                if api.cluster_id:
                    self.send_header("Litefs-Cluster-Id", api.cluster_id)
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
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
