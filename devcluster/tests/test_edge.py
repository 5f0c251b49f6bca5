"""The emulated Fly edge itself, against tiny stand-in machines that script their answers.

The stand-ins echo what reached them; one named in `replay_from` answers with its fly-replay.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devcluster.client import Client
from devcluster.edge import MAX_HOPS, MAX_REPLAY_BODY_BYTES, Edge, Machine


class StandIn:
    def __init__(self, machine_id, region):
        self.id, self.region = machine_id, region
        self.replay: str | None = None  # the fly-replay this machine answers with, if any
        self.seen = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def handle_any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stand_in.seen.append({"headers": dict(self.headers), "body": body})
                data = json.dumps({"machine": stand_in.id, "method": self.command}).encode()
                self.send_response(409 if stand_in.replay else 200)
                if stand_in.replay:
                    self.send_header("fly-replay", stand_in.replay)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = handle_any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def machine(self):
        return Machine(self.id, self.region, self.server.server_address[1])


@pytest.fixture
def fleet():
    machines = {
        m.id: m for m in [StandIn("lhr-1", "lhr"), StandIn("syd-1", "syd"), StandIn("syd-2", "syd")]
    }
    edge = Edge(regions=["lhr", "syd"], machines=lambda: [m.machine for m in machines.values()])
    edge.start()
    yield edge, machines
    edge.stop()
    for machine in machines.values():
        machine.server.shutdown()
        machine.server.server_close()


def served_by(response):
    return json.loads(response.body)["machine"]


def test_a_request_goes_to_a_machine_in_the_region_the_visitor_is_near(fleet):
    edge, _ = fleet
    assert served_by(Client(edge.url("lhr")).get("/")) == "lhr-1"
    assert {served_by(Client(edge.url("syd")).get("/")) for _ in range(4)} == {"syd-1", "syd-2"}


def test_fly_prefer_region_and_fly_force_instance_id_choose_the_machine(fleet):
    edge, _ = fleet
    client = Client(edge.url("lhr"))
    assert served_by(client.get("/", headers={"fly-prefer-region": "syd"})).startswith("syd")
    assert served_by(client.get("/", headers={"fly-force-instance-id": "syd-2"})) == "syd-2"
    assert client.get("/", headers={"fly-force-instance-id": "nope"}).status == 503


def test_a_replay_to_an_instance_resends_the_request_with_fly_replay_src(fleet):
    edge, machines = fleet
    machines["syd-1"].replay = "instance=lhr-1;state=abc"
    response = Client(edge.url("syd")).post(
        "/x", body=b"payload", headers={"fly-force-instance-id": "syd-1"}
    )
    assert response.status == 200
    assert served_by(response) == "lhr-1"
    assert response.hops == 1
    assert response.route == ["syd-1", "lhr-1"]
    arrived = machines["lhr-1"].seen[-1]
    assert arrived["body"] == b"payload"
    src = dict(part.split("=", 1) for part in arrived["headers"]["fly-replay-src"].split(";"))
    assert (src["instance"], src["region"], src["state"]) == ("syd-1", "syd", "abc")
    assert int(src["t"]) > 0
    assert edge.history[-1].route == ["syd-1", "lhr-1"]


def test_a_replay_to_a_region_or_elsewhere_picks_another_machine(fleet):
    edge, machines = fleet
    client = Client(edge.url("syd"))
    machines["syd-1"].replay = "region=lhr"
    assert served_by(client.get("/", headers={"fly-force-instance-id": "syd-1"})) == "lhr-1"
    machines["syd-1"].replay = "elsewhere=true"
    assert served_by(client.get("/", headers={"fly-force-instance-id": "syd-1"})) == "syd-2"


def test_a_body_over_one_megabyte_is_not_replayed(fleet):
    edge, machines = fleet
    machines["syd-1"].replay = "instance=lhr-1"
    body = b"x" * (MAX_REPLAY_BODY_BYTES + 1)
    response = Client(edge.url("syd")).post(
        "/", body=body, headers={"fly-force-instance-id": "syd-1"}
    )
    assert response.status == 502
    assert "too large" in response.text
    assert machines["lhr-1"].seen == []


def test_a_client_never_sees_a_replay_loop_run_forever(fleet):
    edge, machines = fleet
    machines["lhr-1"].replay = "instance=syd-1"
    machines["syd-1"].replay = "instance=lhr-1"
    response = Client(edge.url("lhr")).get("/")
    assert response.status == 508
    assert response.hops == MAX_HOPS
