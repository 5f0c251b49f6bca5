"""A loopback proxy that behaves like Fly's edge, for the emulated cluster.

- One listening port per region: a client "near" that region connects to its port. The request
  goes to a running machine of that region (round-robin), or of any region if it has none;
  `fly-prefer-region` picks another region and `fly-force-instance-id` one machine.
- A response carrying `fly-replay` is never shown to the client: the original request is sent
  again to the machine it names (`instance=`), to a region (`region=`, a comma list; `any`), to any
  other machine (`elsewhere=true`), with `fly-replay-src: instance=;region=;t=;state=` added.
- Fly cannot replay a body over 1 MB; here that is a 502 with a clear message.
- Fly has no hop limit. This emulation stops after MAX_HOPS so a buggy app fails a test instead
  of hanging it, and records every exchange (route and hops) in `history`.
"""

import http.client
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_REPLAY_BODY_BYTES = 1_000_000
MAX_HOPS = 10
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "fly-replay-src",
    "host",
    "content-length",
}


@dataclass(frozen=True)
class Machine:
    id: str
    region: str
    port: int


@dataclass
class Exchange:
    """One client request as the edge handled it."""

    method: str
    path: str
    route: list[str] = field(default_factory=list)  # machine ids, in the order tried
    status: int = 0

    @property
    def hops(self) -> int:
        """How many times the request was replayed."""
        return max(len(self.route) - 1, 0)


def parse_replay(value: str) -> dict[str, str]:
    fields = {}
    for part in value.split(";"):
        key, sep, val = part.strip().partition("=")
        if sep:
            fields[key.strip().lower()] = val.strip()
    return fields


class Edge:
    def __init__(self, *, regions: list[str], machines: Callable[[], list[Machine]]):
        self.regions = regions
        self.machines = machines  # the machines running right now, asked per request
        self.history: list[Exchange] = []
        self._lock = threading.Lock()
        self._round_robin = {region: itertools.count() for region in regions}
        self.servers = {region: self._server(region) for region in regions}
        self.threads = [
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            for server in self.servers.values()
        ]

    def url(self, region: str) -> str:
        host, port = self.servers[region].server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()

    # --- Routing ----------------------------------------------------------------------------
    def pick(self, *, region: str, exclude: str | None = None) -> Machine | None:
        running = [m for m in self.machines() if m.id != exclude]
        here = [m for m in running if m.region == region] if region != "any" else running
        candidates = here or running
        if not candidates:
            return None
        with self._lock:
            counter = self._round_robin.setdefault(region, itertools.count())
            return candidates[next(counter) % len(candidates)]

    def machine(self, machine_id: str) -> Machine | None:
        return next((m for m in self.machines() if m.id == machine_id), None)

    def replay_target(self, fields: dict[str, str], current: Machine) -> Machine | None:
        elsewhere = fields.get("elsewhere", "").lower() == "true"
        exclude = current.id if elsewhere else None
        if "instance" in fields:
            target = self.machine(fields["instance"])
            return None if target is None or target.id == exclude else target
        if "region" in fields:
            for region in fields["region"].split(","):
                region = region.strip()
                running = self.machines()
                if region == "any" or any(m.region == region for m in running):
                    target = self.pick(region=region, exclude=exclude)
                    if target is not None:
                        return target
            return None
        if elsewhere:
            return self.pick(region=current.region, exclude=current.id)
        return None

    # --- One request ------------------------------------------------------------------------
    def handle(self, region: str, method: str, path: str, headers, body: bytes):
        """Returns (status, [(header, value)], body) for the client."""
        exchange = Exchange(method=method, path=path)
        with self._lock:
            self.history.append(exchange)
        forced = headers.get("fly-force-instance-id")
        if forced:
            machine = self.machine(forced.strip())
            if machine is None:
                return self.error(exchange, 503, f"fly-force-instance-id: no machine {forced!r}")
        else:
            machine = self.pick(region=headers.get("fly-prefer-region") or region)
            if machine is None:
                return self.error(exchange, 503, "no machine is running")

        forward_headers = [(k, v) for k, v in headers.items() if k.lower() not in _HOP_BY_HOP]
        forward_headers += [
            ("Fly-Region", region),
            ("Fly-Client-IP", "127.0.0.1"),
            ("X-Forwarded-For", "127.0.0.1"),
            ("X-Forwarded-Proto", "http"),
        ]
        host = headers.get("Host") or "127.0.0.1"  # the public name, passed on as Fly does
        replay_src = None
        while True:
            exchange.route.append(machine.id)
            sent = forward_headers + ([("fly-replay-src", replay_src)] if replay_src else [])
            status, response_headers, response_body = self.forward(
                machine, method, path, host, sent, body
            )
            replay = next((v for k, v in response_headers if k.lower() == "fly-replay"), None)
            if replay is None:
                break
            if len(body) > MAX_REPLAY_BODY_BYTES:
                return self.error(
                    exchange, 502, "fly-replay: the request body is too large to replay"
                )
            if exchange.hops >= MAX_HOPS:
                return self.error(exchange, 508, f"fly-replay: gave up after {MAX_HOPS} replays")
            fields = parse_replay(replay)
            target = self.replay_target(fields, machine)
            if target is None:
                return self.error(exchange, 502, f"fly-replay: no machine for {replay!r}")
            replay_src = f"instance={machine.id};region={machine.region};t={time.time_ns() // 1000}"
            if fields.get("state"):
                replay_src += f";state={fields['state']}"
            machine = target

        exchange.status = status
        # The edge speaks for itself: the machine's Server and Date are replaced by its own.
        response_headers = [
            (k, v)
            for k, v in response_headers
            if k.lower() not in _HOP_BY_HOP and k.lower() not in ("server", "date")
        ]
        response_headers += [
            ("X-Edge-Route", ",".join(exchange.route)),
            ("X-Edge-Hops", str(exchange.hops)),
        ]
        return status, response_headers, response_body

    def forward(self, machine: Machine, method: str, path: str, host: str, headers, body: bytes):
        connection = http.client.HTTPConnection("127.0.0.1", machine.port, timeout=60)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", host)
            for key, value in headers:
                connection.putheader(key, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        except OSError as exc:
            return (
                502,
                [("Content-Type", "text/plain")],
                f"edge: {machine.id} failed: {exc}".encode(),
            )
        finally:
            connection.close()

    def error(self, exchange: Exchange, status: int, message: str):
        exchange.status = status
        return (
            status,
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("X-Edge-Route", ",".join(exchange.route)),
                ("X-Edge-Hops", str(exchange.hops)),
            ],
            (message + "\n").encode(),
        )

    def _server(self, region: str) -> ThreadingHTTPServer:
        edge = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def proxy(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, data = edge.handle(
                    region, self.command, self.path, self.headers, body
                )
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = proxy

            def log_message(self, format, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        return server
