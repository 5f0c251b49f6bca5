import datetime as dt
import re
import threading

import pytest
import time_machine
from django.db import connections
from django.test import Client

from blog.models import PostRead
from blog.tests.conftest import BOTH_DATABASES, new_client_id

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES)


@pytest.fixture
def post(posts_dir):
    posts_dir.write("readable")
    posts_dir.write("work-in-progress", draft=True)
    return "/blog/readable/mark-read"


def anonymous_client(client_id=None, **kwargs) -> Client:
    client = Client(**kwargs)
    client.cookies["client_id"] = client_id or new_client_id()
    return client


def test_an_anonymous_read_is_recorded_once_within_a_week(post):
    client = anonymous_client()
    first = client.post(post)
    assert first.status_code == 201 and first.json() == {"recorded": True}
    again = client.post(post)
    assert again.status_code == 200 and again.json() == {"recorded": False}
    assert PostRead.objects.count() == 1


def test_a_signed_in_reader_is_recorded_under_their_account(post, client, make_user):
    user = make_user()
    client.force_login(user, backend="accounts.backends.MagicLinkBackend")
    assert client.post(post).status_code == 201
    read = PostRead.objects.get()
    assert read.user == user and read.client_id is None


def test_without_a_client_id_cookie_the_report_is_refused(post, client):
    response = client.post(post)
    assert response.status_code == 400
    assert "client_id" in response.json()["error"]
    assert not PostRead.objects.exists()


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
    assert anonymous_client().post(path).status_code == 404
    assert not PostRead.objects.exists()


def test_reading_is_reported_with_post_only(post):
    assert anonymous_client().get(post).status_code == 405


def test_the_report_needs_the_csrf_token_the_page_carries(post):
    client = anonymous_client(enforce_csrf_checks=True)
    assert client.post(post).status_code == 403
    page = client.get("/blog/readable/").content.decode()
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
    assert client.post(post, HTTP_X_CSRFTOKEN=token).status_code == 201


def test_a_week_later_the_same_reader_counts_again(post):
    client = anonymous_client()
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        assert client.post(post).status_code == 201
    with time_machine.travel(start + dt.timedelta(days=7, minutes=1), tick=False):
        assert client.post(post).status_code == 201
    assert PostRead.objects.count() == 2


@pytest.mark.django_db(transaction=True, databases=BOTH_DATABASES)
def test_concurrent_duplicate_reports_record_exactly_one_read(post):
    """Real threads, each with its own connection to the test database file."""
    client_id = new_client_id()
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    statuses = []
    errors = []

    def report():
        try:
            client = anonymous_client(client_id)
            barrier.wait()
            statuses.append(client.post(post).status_code)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=report) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sorted(statuses) == [200] * (threads_count - 1) + [201]
    assert PostRead.objects.filter(client_id=client_id).count() == 1


@pytest.mark.django_db(transaction=True, databases=BOTH_DATABASES)
def test_concurrent_reports_from_different_readers_are_all_recorded(post):
    threads_count = 6
    barrier = threading.Barrier(threads_count)
    statuses = []

    def report():
        try:
            client = anonymous_client()
            barrier.wait()
            statuses.append(client.post(post).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=report) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [201] * threads_count
    assert PostRead.objects.count() == threads_count
