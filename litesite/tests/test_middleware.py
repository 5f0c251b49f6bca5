"""ReplicationMiddleware: writes replay to the primary, reads see the reader's own writes.

This process plays one node under an emulated LiteFS mount (the `fake_litefs` fixture): by
default replica syd-1 of primary lhr-1. The views below stand for any view of the site.
"""

import logging
import sqlite3
import types
import uuid

import pytest
from django.http import HttpResponse
from django.urls import path

from accounts.models import User
from litesite import litefs, middleware

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]

views_run = []


def read_view(request):
    views_run.append("read")
    return HttpResponse("read")


def write_view(request):
    views_run.append("write")
    User.objects.create(email=f"{uuid.uuid4().hex}@example.com", first_name="W", team="RED")
    return HttpResponse("written")


def ensure_primary_view(request):
    litefs.ensure_primary("extending a session")
    return write_view(request)


def readonly_write_view(request):
    """Writes the way a replica's database refuses them: SQLite's own read-only error."""
    db_path = request.GET["db"]
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        connection.execute("CREATE TABLE t (x)")
    finally:
        connection.close()
    return HttpResponse("unreachable")


def session_write_view(request):
    """Changes the session in a GET: Django saves it after the view, on the way out."""
    request.session["seen"] = True
    return HttpResponse("read")


def disk_io_error_view(request):
    raise sqlite3.OperationalError("disk I/O error")  # what LiteFS's WAL refusal looks like


urlpatterns = [
    path("read", read_view),
    path("write", write_view),
    path("ensure", ensure_primary_view),
    path("readonly", readonly_write_view, name="readonly-write"),
    path("disk-io", disk_io_error_view),
    path("session-write", session_write_view),
]


class AnswersReplayItselfMiddleware:
    """An inner middleware that answers with the replay itself instead of raising."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            litefs.ensure_primary("extending a session")
        except litefs.ReplayToPrimary as replay:
            return middleware.replay_to_primary(request, reason=replay.reason)
        return self.get_response(request)


class EnsurePrimaryMiddleware:
    """An inner middleware that writes during a GET, as the session middleware does."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        litefs.ensure_primary("extending a session")
        return self.get_response(request)


@pytest.fixture(autouse=True)
def _forget_views():
    views_run.clear()


def replay_fields(response) -> dict[str, str]:
    return middleware.parse_replay_src(response["fly-replay"])


# --- Writes on a replica ------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_an_unsafe_request_on_a_replica_is_replayed_to_the_primary_before_the_view(
    client, fake_litefs, method
):
    response = getattr(client, method)("/write")
    assert response.status_code == 409
    assert replay_fields(response) == {"instance": "lhr-1", "state": "syd-1"}
    assert "primary" in response.content.decode()
    assert views_run == []


@pytest.mark.parametrize("method", ["get", "head", "options"])
def test_safe_requests_are_served_by_the_replica(client, fake_litefs, method):
    response = getattr(client, method)("/read")
    assert response.status_code == 200
    assert "fly-replay" not in response


def test_ensure_primary_in_a_get_on_a_replica_becomes_a_replay(client, fake_litefs):
    response = client.get("/ensure")
    assert response.status_code == 409
    assert replay_fields(response)["instance"] == "lhr-1"
    assert not User.objects.exists()


def test_ensure_primary_in_an_inner_middleware_still_becomes_a_replay(
    client, fake_litefs, settings
):
    position = settings.MIDDLEWARE.index("litesite.middleware.ReplicationMiddleware")
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[: position + 1],
        f"{__name__}.EnsurePrimaryMiddleware",
        *settings.MIDDLEWARE[position + 1 :],
    ]
    client.raise_request_exception = False  # Django logs the inner 500 it turned it into
    response = client.get("/read")
    assert response.status_code == 409
    assert replay_fields(response)["instance"] == "lhr-1"
    assert views_run == []


def test_a_middleware_can_answer_with_the_replay_itself_without_a_500_on_the_way(
    client, fake_litefs, settings, caplog
):
    position = settings.MIDDLEWARE.index("litesite.middleware.ReplicationMiddleware")
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[: position + 1],
        f"{__name__}.AnswersReplayItselfMiddleware",
        *settings.MIDDLEWARE[position + 1 :],
    ]
    with caplog.at_level(logging.ERROR):
        response = client.get("/read")
    assert response.status_code == 409
    assert replay_fields(response)["instance"] == "lhr-1"
    assert "Internal Server Error" not in caplog.text


def test_a_readonly_database_error_on_a_replica_is_replayed_and_logged_as_a_bug(
    client, fake_litefs, caplog, tmp_path
):
    db_path = tmp_path / "replica.sqlite3"
    sqlite3.connect(db_path).close()
    with caplog.at_level(logging.ERROR, logger="litesite.middleware"):
        response = client.get("/readonly", {"db": str(db_path)})
    assert response.status_code == 409
    assert replay_fields(response)["instance"] == "lhr-1"
    assert "BUG" in caplog.text
    assert "readonly_write_view" in caplog.text  # the log names the view to fix
    assert "attempt to write a readonly database" in caplog.text


def test_a_disk_io_error_on_a_replica_is_replayed_too(client, fake_litefs):
    response = client.get("/disk-io")
    assert response.status_code == 409


def test_a_session_that_cannot_be_saved_on_a_replica_is_replayed_not_a_400(
    client, fake_litefs, monkeypatch
):
    from django.contrib.sessions.backends.base import UpdateError

    def save_on_a_replica(self, must_create=False):
        # What happens there: the UPDATE fails with SQLite's read-only error, which the
        # middleware's execute wrapper notes, and the session store turns it into UpdateError
        # (Django then answers 400 itself, on the way out).
        litefs.current_state().readonly_error = sqlite3.OperationalError(
            "attempt to write a readonly database"
        )
        raise UpdateError

    monkeypatch.setattr("accounts.sessions.SessionStore.save", save_on_a_replica)
    response = client.get("/session-write")
    assert response.status_code == 409
    assert replay_fields(response)["instance"] == "lhr-1"


def test_a_readonly_error_on_the_primary_stays_an_error(client, fake_litefs):
    fake_litefs.make_primary()
    client.raise_request_exception = False
    assert client.get("/disk-io").status_code == 500


def test_a_replica_that_lost_its_primary_answers_writes_with_503_and_retry_after(
    client, fake_litefs
):
    fake_litefs.make_replica(None)
    response = client.post("/write")
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert "fly-replay" not in response
    assert views_run == []


def test_a_replica_that_lost_its_primary_still_serves_reads(client, fake_litefs):
    fake_litefs.make_replica(None)
    assert client.get("/read").status_code == 200


def test_a_replayed_request_is_replayed_again_when_the_primary_has_moved(client, fake_litefs):
    # lhr-2 sent it here believing we were primary; we know the primary is lhr-1.
    response = client.post("/write", headers={"fly-replay-src": "instance=lhr-2;region=lhr;t=1"})
    assert response.status_code == 409
    assert replay_fields(response) == {"instance": "lhr-1", "state": "lhr-2+syd-1"}


def test_a_request_never_goes_back_to_a_node_it_was_replayed_from(client, fake_litefs, caplog):
    src = "instance=lhr-1;region=lhr;t=1;state=syd-1+lhr-1"
    with caplog.at_level(logging.WARNING, logger="litesite.middleware"):
        response = client.post("/write", headers={"fly-replay-src": src})
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert "fly-replay" not in response
    assert "Not replaying" in caplog.text


def test_a_request_is_not_replayed_to_the_primary_that_just_replayed_it_here(client, fake_litefs):
    response = client.post("/write", headers={"fly-replay-src": "instance=lhr-1;region=lhr;t=1"})
    assert response.status_code == 503


def test_a_large_body_on_a_replica_gets_a_clear_error_instead_of_an_impossible_replay(
    client, fake_litefs, caplog
):
    body = b"x" * (middleware.MAX_REPLAY_BODY_BYTES + 1)
    with caplog.at_level(logging.WARNING, logger="litesite.middleware"):
        response = client.post("/write", data=body, content_type="application/octet-stream")
    assert response.status_code == 413
    assert "fly-force-instance-id: lhr-1" in response.content.decode()
    assert "fly-replay" not in response
    assert "cannot replay" in caplog.text


def test_a_chunked_body_of_unknown_size_on_a_replica_is_not_replayed_either(client, fake_litefs):
    from django.test import RequestFactory

    request = RequestFactory().post("/write", HTTP_TRANSFER_ENCODING="chunked")
    del request.META["CONTENT_LENGTH"]
    response = middleware.ReplicationMiddleware.to_primary(
        request, litefs.Node.from_settings(), reason="POST writes"
    )
    assert response.status_code == 413
    assert "fly-replay" not in response


def test_a_body_of_exactly_one_megabyte_is_still_replayed(client, fake_litefs):
    body = b"x" * middleware.MAX_REPLAY_BODY_BYTES
    response = client.post("/write", data=body, content_type="application/octet-stream")
    assert response.status_code == 409


def test_writes_run_on_the_primary(client, fake_litefs):
    fake_litefs.make_primary()
    assert client.post("/write").status_code == 200
    assert User.objects.count() == 1


# --- Where a response was served ----------------------------------------------------------------
def test_every_response_says_where_it_was_served(client, fake_litefs):
    replica = client.get("/read")
    assert (replica["X-Litesite-Instance"], replica["X-Litesite-Region"]) == ("syd-1", "syd")
    assert replica["X-Litesite-Primary"] == "false"
    replayed = client.post("/write")
    assert replayed["X-Litesite-Instance"] == "syd-1"
    fake_litefs.make_primary()
    assert client.get("/read")["X-Litesite-Primary"] == "true"


def test_https_redirects_say_where_they_were_served_too(client, fake_litefs, settings):
    # SecurityMiddleware (like WhiteNoise for static files) answers before ReplicationMiddleware.
    settings.SECURE_SSL_REDIRECT = True
    redirect = client.get("/read")
    assert redirect.status_code == 301
    assert redirect["X-Litesite-Instance"] == "syd-1"


def test_standalone_every_request_is_served_here_and_says_so(client, settings):
    settings.LITEFS_DIR = ""
    settings.FLY_MACHINE_ID = "laptop"
    response = client.post("/write")
    assert response.status_code == 200
    assert response["X-Litesite-Instance"] == "laptop"
    assert response["X-Litesite-Primary"] == "true"
    assert litefs.TXID_COOKIE not in response.cookies  # no replicas, nothing to wait for


# --- Read-your-writes -----------------------------------------------------------------------------
def test_a_write_on_the_primary_sets_the_txid_cookie_as_litefs_does(client, fake_litefs):
    fake_litefs.make_primary(txid=0x2DF417)
    response = client.post("/write")
    cookie = response.cookies[litefs.TXID_COOKIE]
    assert cookie.value == "00000000002df417"
    assert cookie["path"] == "/"
    assert cookie["httponly"]
    assert cookie["max-age"] == 300
    assert not cookie["secure"]


def test_the_txid_cookie_is_secure_and_lax_in_production(client, fake_litefs, settings):
    settings.SESSION_COOKIE_SECURE = True
    fake_litefs.make_primary()
    cookie = client.post("/write").cookies[litefs.TXID_COOKIE]
    assert cookie["secure"]
    assert cookie["samesite"] == "Lax"


def test_a_write_during_a_get_on_the_primary_sets_the_cookie_too(client, fake_litefs):
    fake_litefs.make_primary()
    assert litefs.TXID_COOKIE in client.get("/ensure").cookies


def test_a_request_that_did_not_write_sets_no_cookie(client, fake_litefs):
    fake_litefs.make_primary()
    assert litefs.TXID_COOKIE not in client.post("/read").cookies


def test_a_replica_already_past_the_cookie_serves_at_once(client, fake_litefs):
    fake_litefs.make_replica("lhr-1", txid=10)
    client.cookies[litefs.TXID_COOKIE] = litefs.format_txid(10)
    response = client.get("/read")
    assert response.status_code == 200
    assert views_run == ["read"]


def test_a_replica_behind_the_cookie_replays_to_the_primary_after_the_bound(
    client, fake_litefs, settings
):
    settings.LITEFS_TXID_WAIT_SECONDS = 0.05
    fake_litefs.make_replica("lhr-1", txid=10)
    client.cookies[litefs.TXID_COOKIE] = litefs.format_txid(11)
    response = client.get("/read")
    assert response.status_code == 409
    assert replay_fields(response)["instance"] == "lhr-1"
    assert views_run == []


def test_a_replica_that_catches_up_while_waiting_serves_the_read(client, fake_litefs, monkeypatch):
    fake_litefs.make_replica("lhr-1", txid=10)
    polls = []

    def replicate_instead_of_sleeping(seconds):
        polls.append(seconds)
        fake_litefs.mount.write_pos(10 + len(polls), "0123456789abcdef")

    clock = types.SimpleNamespace(
        monotonic=middleware.time.monotonic, sleep=replicate_instead_of_sleeping
    )
    monkeypatch.setattr(middleware, "time", clock)
    client.cookies[litefs.TXID_COOKIE] = litefs.format_txid(13)
    response = client.get("/read")
    assert response.status_code == 200
    assert len(polls) == 3  # it polled -pos until it reached the cookie's TXID
    assert views_run == ["read"]


def test_a_replica_with_an_unreadable_position_replays_rather_than_guess(client, fake_litefs):
    fake_litefs.mount.write_raw("site.sqlite3-pos", b"garbage\n")
    client.cookies[litefs.TXID_COOKIE] = litefs.format_txid(1)
    assert client.get("/read").status_code == 409


def test_a_disconnected_replica_behind_the_cookie_serves_what_it_has(client, fake_litefs):
    fake_litefs.make_replica(None, txid=1)
    client.cookies[litefs.TXID_COOKIE] = litefs.format_txid(5)
    assert client.get("/read").status_code == 200


@pytest.mark.parametrize("value", ["not-a-txid", "00000000002DF417", "2df417", "0" * 17])
def test_a_malformed_cookie_is_ignored_and_cleared(client, fake_litefs, value):
    client.cookies[litefs.TXID_COOKIE] = value
    response = client.get("/read")
    assert response.status_code == 200
    assert response.cookies[litefs.TXID_COOKIE].value == ""
    assert response.cookies[litefs.TXID_COOKIE]["max-age"] == 0


def test_a_write_with_a_malformed_cookie_gets_the_fresh_cookie(client, fake_litefs):
    fake_litefs.make_primary(txid=7)
    client.cookies[litefs.TXID_COOKIE] = "garbage"
    response = client.post("/write")
    assert response.cookies[litefs.TXID_COOKIE].value == "0000000000000007"
    assert response.cookies[litefs.TXID_COOKIE]["max-age"] == 300


def test_a_cookie_ahead_of_the_primary_itself_is_cleared_not_waited_on(client, fake_litefs):
    fake_litefs.make_primary(txid=5)  # a new primary after a failover: TXIDs went backwards
    client.cookies[litefs.TXID_COOKIE] = litefs.format_txid(900)
    response = client.get("/read")
    assert response.status_code == 200
    assert response.cookies[litefs.TXID_COOKIE]["max-age"] == 0


def test_a_cookie_the_primary_has_reached_is_left_alone(client, fake_litefs):
    fake_litefs.make_primary(txid=5)
    client.cookies[litefs.TXID_COOKIE] = litefs.format_txid(5)
    assert litefs.TXID_COOKIE not in client.get("/read").cookies
