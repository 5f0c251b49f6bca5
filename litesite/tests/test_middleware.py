"""ReplicationMiddleware: writes replay to the primary, reads see the reader's own writes.

This process plays one node under an emulated LiteFS mount (the `fake_litefs` fixture): by
default replica syd-1 of primary lhr-1. The views below stand for any view of the site.
"""

import contextlib
import logging
import sqlite3
import threading
import types
import uuid

import pytest
from django.core.cache import cache
from django.db import connections
from django.db.utils import ConnectionHandler
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import path, resolve
from django.views.generic import RedirectView

from accounts.models import User
from cachedb import faults
from devcluster.backend.base import REFUSALS
from litesite import health, litefs, middleware

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


@contextlib.contextmanager
def refusing_writes(alias: str):
    """SQLite itself refuses every write on `alias`'s connection (SQLITE_READONLY) meanwhile."""
    database = connections[alias]
    database.ensure_connection()
    # On the sqlite3 connection itself: after the refused write Django lets no query through
    # its wrapper until the test's transaction ends, and the pragma must be undone before that.
    database.connection.execute("PRAGMA query_only = ON")
    try:
        yield
    finally:
        database.connection.execute("PRAGMA query_only = OFF")


def litefs_refusal(mode: str) -> sqlite3.OperationalError:
    """The error a real LiteFS replica's SQLite raises for a write (shared/LITEFS.md)."""
    code, name, message = REFUSALS[mode]
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode, error.sqlite_errorname = code, name
    return error


def readonly_write_view(request):
    """Writes to the site database while SQLite refuses it, as on a replica."""
    with refusing_writes("default"):
        User.objects.create(email="ro@example.com", first_name="R", team="RED")
    return HttpResponse("unreachable")


class CommitRefused(sqlite3.Connection):
    def commit(self):
        raise litefs_refusal("wal")


class SiteConnectionRefusedAtCommit(litefs.SiteDatabaseConnection, CommitRefused):
    """The site database's connection class over a COMMIT that LiteFS refuses."""


def refused_commit_view(request):
    """LiteFS in WAL mode often refuses at COMMIT, which reaches Django through the DB-API
    connection's commit(), never through a cursor (nor an execute wrapper)."""
    database = ConnectionHandler(
        {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": ":memory:",
                "OPTIONS": {"factory": SiteConnectionRefusedAtCommit},
            }
        }
    )["default"]
    try:
        database.set_autocommit(False)
        with database.cursor() as cursor:
            cursor.execute("CREATE TABLE note (text TEXT)")
        database.commit()
    finally:
        database.close()
    return HttpResponse("unreachable")


def cache_orm_write_view(request):
    """Writes to the cache database through Django's connection while it is read-only."""
    with refusing_writes("cache"), connections["cache"].cursor() as cursor:
        cursor.execute("DELETE FROM cache_entry")
    return HttpResponse("read")


def cache_raw_write_view(request):
    """Writes to the cache through the raw sqlite3 connection (the cache API's) while it is
    read-only."""
    with refusing_writes("cache"):
        cache.set("greeting", "hello")
    return HttpResponse("read")


def cache_disk_io_error_view(request):
    """The cache database's own `disk I/O error`, in the same words as LiteFS's refusal."""
    with connections["cache"].wrap_database_errors:
        raise litefs_refusal("wal")


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
    path("refused-commit", refused_commit_view),
    path("disk-io", disk_io_error_view),
    path("session-write", session_write_view),
    path("cache-orm-write", cache_orm_write_view),
    path("cache-raw-write", cache_raw_write_view),
    path("cache-disk-io", cache_disk_io_error_view),
    path("healthcheck", health.healthcheck, name="healthcheck"),
    path("class-based", RedirectView.as_view(url="/read")),
]


class AnswersReplayItselfMiddleware:
    """An inner middleware that answers with the replay itself instead of raising."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            litefs.ensure_primary("extending a session")
        except litefs.ReplayToPrimary as replay:
            return litefs.replay_to_primary(request, reason=replay.reason)
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
    return litefs.parse_replay_src(response["fly-replay"])


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
    client, fake_litefs, caplog
):
    with caplog.at_level(logging.ERROR, logger="litesite.middleware"):
        response = client.get("/readonly")
    assert response.status_code == 409
    assert replay_fields(response)["instance"] == "lhr-1"
    assert "BUG" in caplog.text
    assert "readonly_write_view" in caplog.text  # the log names the view to fix
    assert "attempt to write a readonly database" in caplog.text


@pytest.mark.parametrize(
    ("path", "view"),
    [
        ("/readonly", f"{__name__}.readonly_write_view"),
        ("/class-based", "django.views.generic.base.RedirectView"),
    ],
)
def test_the_bug_log_names_the_view_by_its_dotted_path(path, view):
    request = RequestFactory().get(path)
    request.resolver_match = resolve(path)
    assert middleware.view_path(request) == view


def test_a_disk_io_error_of_the_site_database_at_commit_on_a_replica_is_replayed_too(
    client, fake_litefs
):
    response = client.get("/refused-commit")
    assert response.status_code == 409
    assert replay_fields(response)["instance"] == "lhr-1"


@pytest.mark.django_db
@pytest.mark.parametrize("view", ["/cache-orm-write", "/cache-raw-write", "/cache-disk-io"])
def test_a_readonly_or_io_error_of_the_cache_database_is_not_replayed_nor_called_a_bug(
    client, fake_litefs, caplog, view
):
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="litesite.middleware"):
        response = client.get(view)
    # The cache is this machine's own file: the primary would not fix it. What the site answers
    # is the cache's business (it degrades); it must not be a replay.
    assert response.status_code != 409
    assert "fly-replay" not in response
    assert "BUG" not in caplog.text


def test_an_error_that_merely_reads_like_a_refusal_is_not_replayed(client, fake_litefs):
    # Raised by no database connection at all: nothing says the site database refused a write.
    client.raise_request_exception = False
    response = client.get("/disk-io")
    assert response.status_code == 500
    assert "fly-replay" not in response


@pytest.mark.parametrize(
    ("code", "message", "refused"),
    [
        (sqlite3.SQLITE_IOERR_WRITE, "disk I/O error", True),  # LiteFS, WAL mode
        (sqlite3.SQLITE_READONLY_DIRECTORY, "attempt to write a readonly database", True),
        (sqlite3.SQLITE_READONLY, "attempt to write a readonly database", True),  # mode=ro
        (sqlite3.SQLITE_IOERR_READ, "disk I/O error", False),  # a failing disk, not a refusal
        (sqlite3.SQLITE_BUSY, "database is locked", False),
        (None, "disk I/O error", True),  # no code (built by hand): the message decides
        (None, "no such table: x", False),
    ],
)
def test_sqlite_refusals_are_told_by_their_extended_code_then_their_message(code, message, refused):
    from django.db.utils import OperationalError

    error = sqlite3.OperationalError(message)
    if code is not None:
        error.sqlite_errorcode = code
    assert litefs.is_readonly_error(error) is refused
    wrapped = OperationalError(message)  # as Django re-raises it, the original as its cause
    wrapped.__cause__ = error
    assert litefs.is_readonly_error(wrapped) is refused


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
    with caplog.at_level(logging.WARNING, logger="litesite.litefs"):
        response = client.post("/write", headers={"fly-replay-src": src})
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert "fly-replay" not in response
    assert "Not replaying" in caplog.text


def test_a_request_is_not_replayed_to_the_primary_that_just_replayed_it_here(client, fake_litefs):
    response = client.post("/write", headers={"fly-replay-src": "instance=lhr-1;region=lhr;t=1"})
    assert response.status_code == 503


@pytest.mark.parametrize("instance", ["<script>x</script>", "lhr 2", "a,b", "é", "-x", "x" * 300])
def test_a_junk_instance_in_fly_replay_src_is_dropped_not_echoed(client, fake_litefs, instance):
    src = f"instance={instance};region=lhr;t=1;state=lhr-2"
    response = client.post("/write", headers={"fly-replay-src": src})
    assert response.status_code == 409
    assert replay_fields(response) == {"instance": "lhr-1", "state": "lhr-2+syd-1"}


def test_a_large_body_on_a_replica_gets_a_clear_error_instead_of_an_impossible_replay(
    client, fake_litefs, caplog
):
    body = b"x" * (litefs.MAX_REPLAY_BODY_BYTES + 1)
    with caplog.at_level(logging.WARNING, logger="litesite.litefs"):
        response = client.post("/write", data=body, content_type="application/octet-stream")
    assert response.status_code == 413
    assert "fly-force-instance-id: lhr-1" in response.content.decode()
    assert "fly-replay" not in response
    assert "cannot replay" in caplog.text


def test_a_chunked_body_of_unknown_size_on_a_replica_is_not_replayed_either(client, fake_litefs):
    from django.test import RequestFactory

    request = RequestFactory().post("/write", HTTP_TRANSFER_ENCODING="chunked")
    del request.META["CONTENT_LENGTH"]
    response = litefs.replay_to_primary(
        request, node=litefs.Node.from_settings(), reason="POST writes"
    )
    assert response.status_code == 413
    assert "fly-replay" not in response


def test_a_body_of_exactly_one_megabyte_is_still_replayed(client, fake_litefs):
    body = b"x" * litefs.MAX_REPLAY_BODY_BYTES
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


# --- What a forged `__txid` cookie may cost a replica ------------------------------------------
@pytest.fixture
def polls(monkeypatch):
    """Every wait's polls of `-pos`, recorded instead of slept."""
    slept = []
    clock = types.SimpleNamespace(monotonic=middleware.time.monotonic, sleep=slept.append)
    monkeypatch.setattr(middleware, "time", clock)
    return slept


@pytest.mark.parametrize("cookie", ["ffffffffffffffff", None])
def test_a_cookie_implausibly_far_ahead_replays_at_once_without_waiting(
    client, fake_litefs, settings, polls, cookie
):
    fake_litefs.make_replica("lhr-1", txid=10)
    wanted = 10 + settings.LITEFS_TXID_MAX_AHEAD + 1
    client.cookies[litefs.TXID_COOKIE] = cookie or litefs.format_txid(wanted)
    response = client.get("/read")
    assert response.status_code == 409
    assert replay_fields(response)["instance"] == "lhr-1"
    assert polls == []
    assert views_run == []


def test_a_cookie_as_far_ahead_as_replication_could_come_is_still_waited_for(
    client, fake_litefs, settings, monkeypatch
):
    fake_litefs.make_replica("lhr-1", txid=10)
    wanted = 10 + settings.LITEFS_TXID_MAX_AHEAD

    def replicate(seconds):
        fake_litefs.mount.write_pos(wanted, "0123456789abcdef")

    monkeypatch.setattr(
        middleware,
        "time",
        types.SimpleNamespace(monotonic=middleware.time.monotonic, sleep=replicate),
    )
    client.cookies[litefs.TXID_COOKIE] = litefs.format_txid(wanted)
    assert client.get("/read").status_code == 200
    assert views_run == ["read"]


def test_the_bound_is_what_litefs_could_commit_within_the_wait(settings):
    # About 100 transactions/s per database through LiteFS, counted at 250/s: 2 s -> 500.
    assert settings.LITEFS_TXID_WAIT_SECONDS == 2
    assert settings.LITEFS_TXID_MAX_AHEAD == 500
    assert settings.LITEFS_TXID_MAX_WAITERS == 2


class HeldPolls:
    """Polls of `-pos` that hold their thread until released, then see the replica caught up."""

    def __init__(self, fake_litefs, wanted: int):
        self.fake_litefs = fake_litefs
        self.wanted = wanted
        self.waiting = threading.Semaphore(0)  # one release per thread that started waiting
        self.released = threading.Event()
        self.threads: set[int] = set()
        self.writing = threading.Lock()  # the mount replaces -pos through one temporary file

    def sleep(self, seconds):
        me = threading.get_ident()
        if me not in self.threads:
            self.threads.add(me)
            self.waiting.release()
        self.released.wait(timeout=30)
        with self.writing:
            self.fake_litefs.mount.write_pos(self.wanted, "0123456789abcdef")


def test_only_max_waiters_requests_wait_at_once_and_the_next_replays_immediately(
    fake_litefs, settings, monkeypatch
):
    settings.LITEFS_TXID_MAX_WAITERS = 2
    settings.LITEFS_TXID_WAIT_SECONDS = 60  # the held waiters must not time out meanwhile
    fake_litefs.make_replica("lhr-1", txid=10)
    held = HeldPolls(fake_litefs, wanted=11)
    monkeypatch.setattr(
        middleware,
        "time",
        types.SimpleNamespace(monotonic=middleware.time.monotonic, sleep=held.sleep),
    )
    # One middleware, as in a gunicorn worker: its threads share the cap.
    replication = middleware.ReplicationMiddleware(lambda request: HttpResponse("read"))

    def get():
        request = RequestFactory().get("/read")
        request.COOKIES[litefs.TXID_COOKIE] = litefs.format_txid(11)
        return replication(request)

    answers = []
    waiters = [threading.Thread(target=lambda: answers.append(get())) for _ in range(2)]
    for thread in waiters:
        thread.start()
    try:
        for _ in waiters:
            assert held.waiting.acquire(timeout=30), "a request did not start waiting"
        response = get()  # both slots taken
        assert response.status_code == 409
        assert replay_fields(response)["instance"] == "lhr-1"
        assert threading.get_ident() not in held.threads  # it never polled
    finally:
        held.released.set()
        for thread in waiters:
            thread.join(timeout=30)
    assert [a.status_code for a in answers] == [200, 200]  # the waiters caught up and served

    # Their slots were given back: the next request behind the replica waits again.
    fake_litefs.make_replica("lhr-1", txid=10)
    assert get().status_code == 200
    assert threading.get_ident() in held.threads


def test_with_no_waiters_allowed_a_replica_behind_the_cookie_replays_at_once(
    client, fake_litefs, settings, polls
):
    settings.LITEFS_TXID_MAX_WAITERS = 0
    fake_litefs.make_replica("lhr-1", txid=10)
    client.cookies[litefs.TXID_COOKIE] = litefs.format_txid(11)
    assert client.get("/read").status_code == 409
    assert polls == []


@pytest.mark.django_db
def test_the_health_check_never_waits_on_a_cookie_nor_is_replayed(client, fake_litefs, polls):
    faults.forget()  # the cache faults earlier tests provoked would make it "degraded"
    fake_litefs.make_replica("lhr-1", txid=10)
    client.cookies[litefs.TXID_COOKIE] = litefs.format_txid(11)
    response = client.get("/healthcheck")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert "fly-replay" not in response
    assert polls == []
