"""End to end: the primary moves while visitors keep writing, and nothing loops.

Three machines: lhr-1 (primary) and lhr-2 (a candidate) in region lhr, syd-1 in region syd.
"""

import pytest

from devcluster.harness import Cluster
from devcluster.tests.cluster_accounts import first_name, sign_in
from litesite import litefs

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster(tmp_path, cluster_template):
    machines = [("lhr-1", "lhr"), ("lhr-2", "lhr"), ("syd-1", "syd")]
    running = Cluster(tmp_path / "cluster", machines=machines).start(template=cluster_template)
    try:
        yield running
    finally:
        running.stop()


def visitor(cluster, region, session_key):
    client = cluster.client(region)
    client.cookies["litesite_session"] = session_key
    return client


def edit_name(client, name):
    token = client.csrf_token("/me")
    return client.post("/me", {"csrfmiddlewaretoken": token, "first_name": name})


def test_requests_follow_the_primary_when_it_moves_and_txids_continue(cluster):
    key = sign_in(cluster, email="move@example.com")
    cluster.replicate()
    client = visitor(cluster, "syd", key)
    assert edit_name(client, "Before").route == ["syd-1", "lhr-1"]
    txid_before = litefs.parse_txid(client.cookies[litefs.TXID_COOKIE])

    new_primary = cluster.failover("lhr-2")
    response = edit_name(client, "After")
    assert response.status == 302
    assert response.route == ["syd-1", "lhr-2"]
    assert first_name(new_primary, "move@example.com") == "After"
    assert litefs.parse_txid(client.cookies[litefs.TXID_COOKIE]) > txid_before

    # The old primary is a replica now: a write reaching it is replayed, once.
    old = cluster.client("lhr")
    old.cookies["litesite_session"] = key
    for _ in range(2):  # the lhr edge alternates between lhr-1 and lhr-2
        response = edit_name(old, "Again")
        assert response.status == 302
        assert response.route[-1] == "lhr-2"
        assert response.hops <= 1
    assert "BUG" not in cluster.node("lhr-1").log()


def test_a_replica_with_a_stale_view_forwards_once_more_and_never_loops(cluster):
    key = sign_in(cluster, email="stale@example.com")
    cluster.replicate()
    client = visitor(cluster, "syd", key)
    token = client.csrf_token("/me")
    cluster.failover("lhr-2")
    syd = cluster.node("syd-1")
    syd.mount.set_primary_file("lhr-1")  # syd-1 has not heard of the failover yet

    response = client.post("/me", {"csrfmiddlewaretoken": token, "first_name": "Hop"})
    assert response.route == ["syd-1", "lhr-1", "lhr-2"]
    assert response.status == 302

    # Split views: lhr-1 believes syd-1 is primary, syd-1 believes lhr-1 is.
    cluster.node("lhr-1").mount.set_primary_file("syd-1")
    response = client.post("/me", {"csrfmiddlewaretoken": token, "first_name": "Loop"})
    assert response.status == 503
    assert response.header("Retry-After") == "1"
    assert response.route == ["syd-1", "lhr-1"]
    assert first_name(cluster.node("lhr-2"), "stale@example.com") == "Hop"


def test_a_txid_cookie_from_before_a_lossy_failover_is_cleared_by_the_new_primary(cluster):
    key = sign_in(cluster, email="lossy@example.com")
    cluster.replicate()
    client = visitor(cluster, "syd", key)
    assert edit_name(client, "Lost").status == 302  # never reaches lhr-2
    cluster.failover("lhr-2", catch_up=False)
    cluster.replicate()

    page = client.get("/me")  # syd-1 waits, then replays; lhr-2 is behind the cookie
    assert page.route == ["syd-1", "lhr-2"]
    assert page.status == 200
    assert litefs.TXID_COOKIE not in client.cookies
    assert client.get("/me").route == ["syd-1"]
