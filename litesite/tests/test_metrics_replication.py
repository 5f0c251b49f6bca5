"""Replays by reason and outcome, and `__txid` waits by outcome, counted where the replication
middleware decides them. This process plays replica syd-1 of lhr-1 (the `fake_litefs` fixture)."""

import uuid

import pytest
from django.db import connections
from django.http import HttpResponse
from django.urls import path

from accounts.models import User
from litesite import litefs
from testing.metrics import sample

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


def read_view(request):
    return HttpResponse("read")


def write_view(request):
    User.objects.create(email=f"{uuid.uuid4().hex}@example.com", first_name="W", team="RED")
    return HttpResponse("written")


def ensure_primary_view(request):
    litefs.ensure_primary("extending a session")
    return write_view(request)


def disk_io_error_view(request):
    """A write to the site database that SQLite refuses, as LiteFS does on a replica."""
    connection = connections["default"]
    connection.ensure_connection()
    connection.connection.execute("PRAGMA query_only = ON")
    try:
        User.objects.create(email=f"{uuid.uuid4().hex}@example.com", first_name="R", team="RED")
    finally:
        connection.connection.execute("PRAGMA query_only = OFF")
    return HttpResponse("unreachable")


urlpatterns = [
    path("read", read_view),
    path("write", write_view),
    path("ensure", ensure_primary_view),
    path("disk-io", disk_io_error_view),
]


def replays(reason: str, outcome: str) -> float:
    return sample("litesite_replays_total", reason=reason, outcome=outcome)


def txid_waits(outcome: str) -> float:
    return sample("litesite_txid_wait_seconds_count", outcome=outcome)


@pytest.mark.parametrize(
    ("send", "reason"),
    [
        (lambda client: client.post("/write"), "write_method"),
        (lambda client: client.delete("/write"), "write_method"),
        (lambda client: client.get("/ensure"), "ensure_primary"),
        (lambda client: client.get("/disk-io"), "readonly_error"),
    ],
    ids=["post", "delete", "ensure-primary", "readonly-error"],
)
def test_a_replay_to_the_primary_is_counted_by_its_reason(client, fake_litefs, send, reason):
    before = replays(reason, "replayed")
    assert send(client).status_code == 409
    assert replays(reason, "replayed") == before + 1


def test_a_write_with_no_primary_to_replay_to_is_counted_as_no_primary(client, fake_litefs):
    fake_litefs.make_replica(None)
    before = replays("write_method", "no_primary")
    assert client.post("/write").status_code == 503
    assert replays("write_method", "no_primary") == before + 1


def test_a_replay_that_would_loop_is_counted_as_a_loop(client, fake_litefs):
    before = replays("write_method", "loop")
    src = "instance=lhr-1;region=lhr;t=1;state=syd-1+lhr-1"
    assert client.post("/write", headers={"fly-replay-src": src}).status_code == 503
    assert replays("write_method", "loop") == before + 1


def test_a_body_too_large_to_replay_is_counted_as_too_large(client, fake_litefs):
    before = replays("write_method", "too_large")
    body = b"x" * (litefs.MAX_REPLAY_BODY_BYTES + 1)
    response = client.post("/write", data=body, content_type="application/octet-stream")
    assert response.status_code == 413
    assert replays("write_method", "too_large") == before + 1


def test_a_replica_already_at_the_cookies_txid_counts_a_served_wait(client, fake_litefs):
    fake_litefs.make_replica("lhr-1", txid=10)
    before = txid_waits("served")
    assert client.get("/read").status_code == 200  # no cookie: nothing to wait for
    client.cookies[litefs.TXID_COOKIE] = litefs.format_txid(10)
    assert client.get("/read").status_code == 200
    assert txid_waits("served") == before + 1


def test_a_replica_that_stays_behind_counts_a_replayed_wait_and_a_replay(
    client, fake_litefs, settings
):
    settings.LITEFS_TXID_WAIT_SECONDS = 0.01
    fake_litefs.make_replica("lhr-1", txid=10)
    client.cookies[litefs.TXID_COOKIE] = litefs.format_txid(11)
    before_wait, before_replay = txid_waits("replayed"), replays("behind_last_write", "replayed")
    assert client.get("/read").status_code == 409
    assert txid_waits("replayed") == before_wait + 1
    assert replays("behind_last_write", "replayed") == before_replay + 1


def test_a_behind_replica_without_a_primary_counts_a_timed_out_wait_and_serves(
    client, fake_litefs, settings
):
    settings.LITEFS_TXID_WAIT_SECONDS = 0.01
    fake_litefs.make_replica(None, txid=1)
    client.cookies[litefs.TXID_COOKIE] = litefs.format_txid(5)
    before = txid_waits("timed_out")
    assert client.get("/read").status_code == 200
    assert txid_waits("timed_out") == before + 1
