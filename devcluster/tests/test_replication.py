"""End to end through the emulated Fly edge: primary lhr-1 (region lhr), replica syd-1 (syd).

Every request goes through the edge the way a visitor's would; the application runs in real
gunicorn processes against emulated LiteFS mounts (devcluster).
"""

import pytest

from devcluster.tests.cluster_accounts import first_name, query, session_expiry, sign_in
from litesite import litefs

pytestmark = pytest.mark.cluster

SESSION_COOKIE = "litesite_session"


@pytest.fixture
def syd(cluster):
    return cluster.node("syd-1")


@pytest.fixture
def sydney_reader(cluster, request):
    """A signed-in visitor near Sydney, known to both nodes; (client, email)."""
    email = f"{request.node.name[:40]}@example.com"
    key = sign_in(cluster, email=email)
    cluster.replicate()
    client = cluster.client("syd")
    client.cookies[SESSION_COOKIE] = key
    return client, email


@pytest.fixture
def restored(cluster, syd):
    """Whatever a test does to syd-1's LiteFS files, the next test starts from a clean node."""
    yield
    syd.mount.set_primary_file(cluster.primary.id)
    cluster.replicate(syd)


def edit_name(client, name: str):
    token = client.csrf_token("/me")
    return client.post("/me", {"csrfmiddlewaretoken": token, "first_name": name})


def test_a_profile_edit_sent_to_a_replica_runs_on_the_primary_and_the_replica_then_shows_it(
    cluster, syd, sydney_reader
):
    client, email = sydney_reader
    response = edit_name(client, "Grace")
    assert response.status == 302
    assert response.route == ["syd-1", "lhr-1"]
    assert first_name(cluster.primary, email) == "Grace"
    assert first_name(syd, email) == "Ada"  # not replicated yet
    assert (
        litefs.parse_txid(client.cookies[litefs.TXID_COOKIE]) == cluster.primary.mount.read_pos()[0]
    )

    cluster.replicate()
    page = client.get("/me")
    assert page.route == ["syd-1"]
    assert page.served_by == "syd-1"
    assert 'value="Grace"' in page.text


def test_no_write_ever_reaches_a_replicas_file(cluster, syd, sydney_reader):
    client, _ = sydney_reader
    before = (syd.fingerprint(), syd.mount.read_pos())
    assert edit_name(client, "Katherine").status == 302
    assert client.post("/logout", {"csrfmiddlewaretoken": client.csrf_token("/me")}).status == 302
    assert (syd.fingerprint(), syd.mount.read_pos()) == before
    assert "BUG" not in syd.log()
    assert "readonly" not in syd.log()


def test_a_get_that_extends_a_session_on_a_replica_is_replayed_to_the_primary(cluster, syd):
    key = sign_in(cluster, email="extend@example.com", days=10)  # due for renewal
    cluster.replicate()
    before = session_expiry(cluster.primary, key)
    client = cluster.client("syd")
    client.cookies[SESSION_COOKIE] = key
    response = client.get("/me")
    assert response.status == 200
    assert response.route == ["syd-1", "lhr-1"]
    assert response.served_by == "lhr-1"
    assert session_expiry(cluster.primary, key) > before
    assert session_expiry(syd, key) == before
    assert litefs.TXID_COOKIE in client.cookies  # the GET wrote on the primary


def test_a_get_with_an_expired_session_on_a_replica_is_replayed_to_delete_it_on_the_primary(
    cluster, syd
):
    key = sign_in(cluster, email="expired@example.com", days=-1)
    cluster.replicate()
    client = cluster.client("syd")
    client.cookies[SESSION_COOKIE] = key
    response = client.get("/me")
    assert response.route == ["syd-1", "lhr-1"]
    assert response.status == 302  # signed out: off to the sign-in page
    assert not query(cluster.primary, "SELECT 1 FROM accounts_session WHERE session_key = ?", key)
    assert query(syd, "SELECT 1 FROM accounts_session WHERE session_key = ?", key)


def test_a_replica_behind_the_readers_last_write_waits_for_replication_that_arrives_in_time(
    cluster, syd, sydney_reader
):
    client, _ = sydney_reader
    assert edit_name(client, "Hedy").status == 302
    cluster.replicate_after(0.3, syd)  # well within LITEFS_TXID_WAIT_SECONDS (2 s)
    page = client.get("/me")
    assert page.route == ["syd-1"]
    assert 'value="Hedy"' in page.text


def test_a_replica_still_behind_after_the_bound_replays_the_read_to_the_primary(
    cluster, syd, sydney_reader
):
    client, _ = sydney_reader
    assert edit_name(client, "Radia").status == 302
    page = client.get("/me")  # nothing replicates: syd-1 waits 2 s, then replays
    assert page.route == ["syd-1", "lhr-1"]
    assert 'value="Radia"' in page.text


def test_a_disconnected_replica_serves_reads_and_answers_writes_with_503(
    cluster, syd, sydney_reader
):
    client, _ = sydney_reader
    token = client.csrf_token("/me")
    cluster.disconnect(syd)
    try:
        assert client.get("/me").served_by == "syd-1"
        response = client.post("/me", {"csrfmiddlewaretoken": token, "first_name": "Ida"})
        assert response.status == 503
        assert response.header("Retry-After") == "1"
        assert response.route == ["syd-1"]
    finally:
        cluster.reconnect(syd)
    assert edit_name(client, "Ida").route == ["syd-1", "lhr-1"]


def test_a_malformed_primary_file_makes_the_replica_refuse_writes_not_take_them(
    cluster, syd, sydney_reader, restored
):
    client, email = sydney_reader
    token = client.csrf_token("/me")
    syd.mount.write_raw(".primary", b"lhr-1")  # no newline
    response = client.post("/me", {"csrfmiddlewaretoken": token, "first_name": "Mary"})
    assert response.status == 503
    assert client.get("/me").status == 200
    assert first_name(syd, email) == first_name(cluster.primary, email) == "Ada"


def test_a_malformed_pos_file_makes_a_read_with_a_txid_cookie_go_to_the_primary(
    cluster, syd, sydney_reader, restored
):
    client, _ = sydney_reader
    assert edit_name(client, "Barbara").status == 302
    cluster.replicate()
    syd.mount.write_raw("site.sqlite3-pos", b"00000000000000zz/0000000000000000\n")
    assert client.get("/me").route == ["syd-1", "lhr-1"]


def test_a_malformed_txid_cookie_is_ignored_and_cleared(cluster, sydney_reader):
    client, _ = sydney_reader
    client.cookies[litefs.TXID_COOKIE] = "yesterday"
    page = client.get("/me")
    assert page.route == ["syd-1"]
    assert litefs.TXID_COOKIE not in client.cookies


def test_a_forged_txid_cookie_far_ahead_goes_to_the_primary_which_clears_it(cluster, sydney_reader):
    client, _ = sydney_reader
    client.cookies[litefs.TXID_COOKIE] = "f" * 16
    page = client.get("/me")
    assert page.status == 200
    assert page.route == ["syd-1", "lhr-1"]
    assert litefs.TXID_COOKIE not in client.cookies  # ahead of the primary itself
    assert client.get("/me").route == ["syd-1"]


def test_the_health_check_answers_for_the_replica_whatever_txid_cookie_it_carries(cluster, syd):
    client = cluster.client("syd")
    txid, _ = syd.mount.read_pos()
    client.cookies[litefs.TXID_COOKIE] = litefs.format_txid(txid + 1)
    response = client.get("/healthcheck")
    assert response.status == 200
    assert response.route == ["syd-1"]
