import datetime as dt

import pytest
import time_machine
from django.test import RequestFactory

from accounts.models import Team
from blog.models import PostRead
from blog.reads import Reader, claim_anonymous_reads, reader_from_request, record_read
from testing.fixtures import add_read, new_client_id

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


def test_a_reader_counts_once_per_post_per_seven_days(make_user):
    reader = Reader(user=make_user())
    with time_machine.travel(NOW, tick=False):
        assert record_read(reader=reader, slug="post") is True
        assert record_read(reader=reader, slug="post") is False
        assert record_read(reader=reader, slug="another") is True
    with time_machine.travel(NOW + dt.timedelta(days=6, hours=23), tick=False):
        assert record_read(reader=reader, slug="post") is False
    with time_machine.travel(NOW + dt.timedelta(days=7, seconds=1), tick=False):
        assert record_read(reader=reader, slug="post") is True
    assert PostRead.objects.of_post("post").count() == 2


def test_anonymous_and_signed_in_readers_are_counted_separately(make_user):
    client_id = new_client_id()
    assert record_read(reader=Reader(client_id=client_id), slug="post")
    assert record_read(reader=Reader(user=make_user()), slug="post")
    assert record_read(reader=Reader(client_id=new_client_id()), slug="post")
    assert not record_read(reader=Reader(client_id=client_id), slug="post")
    assert PostRead.objects.count() == 3


def test_recording_without_any_reader_is_refused():
    with pytest.raises(ValueError, match="client_id"):
        record_read(reader=Reader(), slug="post")


def test_sign_in_moves_the_visitors_anonymous_reads_to_the_user(make_user):
    user = make_user(Team.BLUE)
    client_id = new_client_id()
    other_client = new_client_id()
    add_read(slug="one", client_id=client_id, at=NOW - dt.timedelta(days=30))
    add_read(slug="two", client_id=client_id, at=NOW - dt.timedelta(days=1))
    add_read(slug="one", client_id=other_client, at=NOW)

    assert claim_anonymous_reads(client_id=client_id, user=user) == 2
    assert set(PostRead.objects.filter(user=user).values_list("post_slug", flat=True)) == {
        "one",
        "two",
    }
    assert PostRead.objects.filter(client_id=other_client, user__isnull=True).count() == 1
    assert claim_anonymous_reads(client_id=client_id, user=user) == 0


def test_sign_in_drops_an_anonymous_read_the_user_already_has_that_week(make_user):
    user = make_user()
    client_id = new_client_id()
    add_read(slug="same", user=user, at=NOW - dt.timedelta(days=2))
    add_read(slug="same", client_id=client_id, at=NOW - dt.timedelta(days=1))
    add_read(slug="same", client_id=client_id, at=NOW - dt.timedelta(days=20))

    assert claim_anonymous_reads(client_id=client_id, user=user) == 1
    assert PostRead.objects.filter(user=user, post_slug="same").count() == 2
    assert not PostRead.objects.filter(user__isnull=True).exists()


def test_sign_in_merge_makes_the_reads_count_for_the_users_team(make_user):
    from blog import leaderboard

    user = make_user(Team.YELLOW)
    client_id = new_client_id()
    with time_machine.travel(NOW, tick=False):
        record_read(reader=Reader(client_id=client_id), slug="post")
        assert leaderboard.overall_standings()["leader"] is None
        claim_anonymous_reads(client_id=client_id, user=user)
        assert leaderboard.overall_standings()["leader"] == "YELLOW"


def test_the_reader_is_the_user_else_the_client_id_cookie_the_browser_sent(make_user, settings):
    factory = RequestFactory()
    user = make_user()

    request = factory.get("/")
    request.user = user
    request.COOKIES[settings.CLIENT_ID_COOKIE] = new_client_id()
    assert reader_from_request(request) == Reader(user=user)

    client_id = new_client_id()
    request = factory.get("/", HTTP_COOKIE=f"{settings.CLIENT_ID_COOKIE}={client_id}")
    assert reader_from_request(request) == Reader(client_id=client_id)

    # A fresh id minted by the middleware for a cookie-less visitor identifies nobody yet.
    request = factory.get("/")
    request.client_id = new_client_id()
    assert not reader_from_request(request).known

    request = factory.get("/", HTTP_COOKIE=f"{settings.CLIENT_ID_COOKIE}=x' OR 1=1")
    assert not reader_from_request(request).known
