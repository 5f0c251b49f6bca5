import datetime as dt
import re
import threading
import time

import pytest
import time_machine
from django.core import signing
from django.db import connections
from django.test import Client

from blog import tickets
from blog.models import PostRead
from testing.fixtures import new_client_id

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
# 460 words at 230 a minute: two minutes' reading, of which 60% (72 s) must pass before a report.
REQUIRED = dt.timedelta(seconds=72)
TICKET = re.compile(r'<meta name="read-ticket" content="([^"]+)">')


@pytest.fixture
def post(posts_dir, settings):
    settings.BLOG_WORDS_PER_MINUTE = 230
    settings.BLOG_READ_THRESHOLD = 0.6
    posts_dir.write("readable", body="word " * 460)
    posts_dir.write("another", body="word " * 460)
    posts_dir.write("work-in-progress", draft=True)
    return "/blog/readable/mark-read"


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def anonymous_client(client_id=None, **kwargs) -> Client:
    client = Client(**kwargs)
    client.cookies["client_id"] = client_id or new_client_id()
    return client


def open_page(client, slug="readable") -> str:
    """The read ticket of the post page, as the browser gets it."""
    return TICKET.search(client.get(f"/blog/{slug}/").content.decode()).group(1)


def report(client, ticket, path="/blog/readable/mark-read", **extra):
    return client.post(path, {"ticket": ticket}, **extra)


def refusal(response) -> str:
    assert response.status_code == 400
    return response.json()["reason"]


def past_ticket(client_id: str, slug="readable") -> str:
    """A ticket served an hour ago, for tests with threads (and no frozen clock)."""
    return tickets.issue(slug=slug, reader=f"client:{client_id}", served_at=time.time() - 3600)


def test_an_anonymous_read_is_recorded_once_within_a_week(post, clock):
    client = anonymous_client()
    ticket = open_page(client)
    clock.shift(REQUIRED)
    first = report(client, ticket)
    assert first.status_code == 201 and first.json() == {"recorded": True}
    ticket = open_page(client)  # read again the same day
    clock.shift(REQUIRED)
    again = report(client, ticket)
    assert again.status_code == 200 and again.json()["recorded"] is False
    assert PostRead.objects.count() == 1


def test_a_first_visit_earns_a_read_under_the_client_id_its_page_set(post, clock):
    client = Client()  # no cookie yet: ClientIdMiddleware sets one on the post page
    page = client.get("/blog/readable/")
    ticket = TICKET.search(page.content.decode()).group(1)
    clock.shift(REQUIRED)
    assert report(client, ticket).status_code == 201
    assert PostRead.objects.get().client_id == page.cookies["client_id"].value


def test_a_signed_in_reader_is_recorded_under_their_account(post, clock, client, make_user):
    user = make_user()
    client.force_login(user)
    ticket = open_page(client)
    clock.shift(REQUIRED)
    assert report(client, ticket).status_code == 201
    read = PostRead.objects.get()
    assert read.user == user and read.client_id is None


def test_a_page_opened_before_signing_in_counts_for_the_account(post, clock, make_user):
    client = anonymous_client()
    ticket = open_page(client)
    user = make_user()
    client.force_login(user)  # in another tab
    clock.shift(REQUIRED)
    assert report(client, ticket).status_code == 201
    assert PostRead.objects.get().user == user


def test_without_a_client_id_cookie_the_report_is_refused(post, client):
    response = client.post(post, {"ticket": past_ticket(new_client_id())})
    assert refusal(response) == "no-reader"
    assert "client_id" in response.json()["error"]
    assert not PostRead.objects.exists()


def test_a_report_too_early_is_refused_and_told_when_to_try_again(post, clock):
    client = anonymous_client()
    ticket = open_page(client)
    clock.shift(dt.timedelta(seconds=60))
    response = report(client, ticket)
    assert refusal(response) == "too-early"
    assert response.json()["retry_after_ms"] == 10_000  # 72 s, less 2 s for clock skew, less 60 s
    assert not PostRead.objects.exists()
    clock.shift(dt.timedelta(seconds=10))
    assert report(client, ticket).status_code == 201


def test_a_report_straight_after_opening_the_page_is_refused(post, clock):
    client = anonymous_client()
    assert refusal(report(client, open_page(client))) == "too-early"
    assert not PostRead.objects.exists()


@pytest.mark.parametrize(
    "forge",
    [
        lambda ticket: ticket[:-2] + ("AA" if not ticket.endswith("AA") else "BB"),
        lambda ticket: signing.Signer(key="not-the-site-key", salt=tickets.SALT).sign_object(
            signing.Signer(salt=tickets.SALT).unsign_object(ticket)
        ),
        lambda ticket: signing.Signer(salt="another-purpose").sign_object(
            signing.Signer(salt=tickets.SALT).unsign_object(ticket)
        ),
        lambda ticket: signing.Signer(salt=tickets.SALT).sign_object(["not", "a", "ticket"]),
        lambda ticket: "not a ticket at all",
    ],
    ids=["tampered", "other-key", "other-salt", "odd-payload", "garbage"],
)
def test_a_forged_ticket_is_refused(post, clock, forge):
    client = anonymous_client()
    ticket = open_page(client)
    clock.shift(REQUIRED)
    response = report(client, forge(ticket))
    assert refusal(response) == "forged"
    assert response.json()["error"]
    assert not PostRead.objects.exists()


def test_a_report_without_a_ticket_is_refused(post, clock):
    client = anonymous_client()
    assert refusal(client.post(post)) == "missing"
    assert refusal(report(client, "")) == "missing"
    assert not PostRead.objects.exists()


def test_a_ticket_for_another_post_is_refused(post, clock):
    client = anonymous_client()
    ticket = open_page(client, "another")
    clock.shift(REQUIRED)
    assert refusal(report(client, ticket)) == "other-post"
    assert not PostRead.objects.exists()


def test_another_readers_ticket_is_refused(post, clock, make_user):
    someone = anonymous_client()
    ticket = open_page(someone)
    signed_in = Client()
    signed_in.force_login(make_user())
    users_ticket = open_page(signed_in)
    clock.shift(REQUIRED)
    assert refusal(report(anonymous_client(), ticket)) == "other-reader"
    assert refusal(report(anonymous_client(), users_ticket)) == "other-reader"
    # A signed-in reader cannot spend a ticket some other browser was given either.
    assert refusal(report(signed_in, ticket)) == "other-reader"
    assert not PostRead.objects.exists()


def test_an_expired_ticket_is_refused(post, clock, settings):
    client = anonymous_client()
    ticket = open_page(client)
    clock.shift(dt.timedelta(seconds=settings.BLOG_READ_TICKET_MAX_AGE, milliseconds=1))
    response = report(client, ticket)
    assert refusal(response) == "expired"
    assert "reload" in response.json()["error"]
    assert not PostRead.objects.exists()


def test_a_replayed_ticket_is_not_counted_twice(post, clock, settings):
    client = anonymous_client()
    ticket = open_page(client)
    clock.shift(REQUIRED)
    assert report(client, ticket).status_code == 201
    replay = report(client, ticket)
    assert replay.status_code == 200
    assert replay.json()["recorded"] is False and replay.json()["reason"] == "already-read"
    # The last moment the ticket is valid is still within the read window of the first read...
    clock.move_to(START + dt.timedelta(seconds=settings.BLOG_READ_TICKET_MAX_AGE))
    assert report(client, ticket).json()["reason"] == "already-read"
    # ... and once that window is over, the ticket is long expired.
    clock.move_to(START + dt.timedelta(days=7, minutes=5))
    assert refusal(report(client, ticket)) == "expired"
    assert PostRead.objects.count() == 1


@pytest.mark.parametrize(
    "path",
    [
        "/blog/no-such-post/mark-read",
        "/blog/work-in-progress/mark-read",
        "/blog/Readable/mark-read",
        "/blog/..%2Freadable/mark-read",
    ],
)
def test_unknown_invalid_or_draft_posts_are_not_found(post, path):
    client_id = new_client_id()
    assert report(anonymous_client(client_id), past_ticket(client_id), path).status_code == 404
    assert not PostRead.objects.exists()


def test_reading_is_reported_with_post_only(post):
    assert anonymous_client().get(post).status_code == 405


def test_the_report_needs_the_csrf_token_the_page_carries(post, clock):
    client = anonymous_client(enforce_csrf_checks=True)
    page = client.get("/blog/readable/").content.decode()
    ticket = TICKET.search(page).group(1)
    clock.shift(REQUIRED)
    assert report(client, ticket).status_code == 403
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
    assert report(client, ticket, HTTP_X_CSRFTOKEN=token).status_code == 201


def test_a_week_later_the_same_reader_counts_again(post, clock):
    client = anonymous_client()
    ticket = open_page(client)
    clock.shift(REQUIRED)
    assert report(client, ticket).status_code == 201
    clock.move_to(START + dt.timedelta(days=7, minutes=1))
    ticket = open_page(client)
    clock.shift(REQUIRED)
    assert report(client, ticket).status_code == 201
    assert PostRead.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_reports_record_exactly_one_read(post):
    """Real threads, each with its own connection to the test database file."""
    client_id = new_client_id()
    ticket = past_ticket(client_id)
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    statuses = []
    errors = []

    def send():
        try:
            client = anonymous_client(client_id)
            barrier.wait()
            statuses.append(report(client, ticket).status_code)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sorted(statuses) == [200] * (threads_count - 1) + [201]
    assert PostRead.objects.filter(client_id=client_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_reports_from_different_readers_are_all_recorded(post):
    threads_count = 6
    barrier = threading.Barrier(threads_count)
    statuses = []

    def send():
        try:
            client_id = new_client_id()
            client = anonymous_client(client_id)
            barrier.wait()
            statuses.append(report(client, past_ticket(client_id)).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [201] * threads_count
    assert PostRead.objects.count() == threads_count
