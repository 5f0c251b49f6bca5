"""Signing in (/magic for a reader, /signup for a new one) moves the browser's anonymous post
reads to the account: the blog's `user_logged_in` receiver (blog/apps.py)."""

import secrets

import pytest
from django.conf import settings

from accounts import magic_links
from accounts.models import Team
from blog import leaderboard
from blog.models import PostRead
from testing.fixtures import new_client_id

pytestmark = pytest.mark.django_db


def open_sign_in_link(client, email: str):
    """What a reader does: ask for a link in this browser, then open it in the same browser."""
    client.get("/login")  # the first visit hands out the client_id cookie
    key = secrets.token_urlsafe(32)
    client.cookies[magic_links.BROWSER_COOKIE] = key
    token = magic_links.request_link(
        email=email, client_address="127.0.0.1", browser_key=key, next_url=""
    )
    return client.get(f"/magic?token={token}")


def browser_client_id(client) -> str:
    return client.cookies[settings.CLIENT_ID_COOKIE].value


def test_signing_in_claims_the_browsers_anonymous_reads(client, make_user):
    reader = make_user(Team.BLUE, email="reader@example.com")
    client.get("/login")
    PostRead.objects.create(client_id=browser_client_id(client), post_slug="hello-world")
    PostRead.objects.create(client_id=new_client_id(), post_slug="someone-elses")

    assert open_sign_in_link(client, "reader@example.com")["Location"] == "/me"
    assert list(PostRead.objects.filter(user=reader).values_list("post_slug", flat=True)) == [
        "hello-world"
    ]
    assert PostRead.objects.filter(user__isnull=True).count() == 1


def test_a_new_reader_gets_the_browsers_reads_when_the_account_is_created(client):
    client.get("/login")
    PostRead.objects.create(client_id=browser_client_id(client), post_slug="hello-world")
    open_sign_in_link(client, "new@example.com")
    assert PostRead.objects.filter(user__isnull=False).count() == 0  # not signed in yet

    client.post("/signup", {"first_name": "Nia", "team": "YELLOW"})
    assert list(PostRead.objects.values_list("user__email", "post_slug")) == [
        ("new@example.com", "hello-world")
    ]


def test_claimed_reads_count_for_the_readers_team_at_once(client, make_user):
    make_user(Team.YELLOW, email="reader@example.com")
    client.get("/login")
    PostRead.objects.create(client_id=browser_client_id(client), post_slug="hello-world")
    assert leaderboard.overall_standings()["leader"] is None  # cached now, with no reads

    open_sign_in_link(client, "reader@example.com")
    assert leaderboard.overall_standings()["leader"] == "YELLOW"


def test_a_sign_in_without_a_browser_client_id_claims_nothing(client, make_user):
    reader = make_user()
    PostRead.objects.create(client_id=new_client_id(), post_slug="hello-world")
    client.force_login(reader)  # no request cookie
    assert not PostRead.objects.filter(user=reader).exists()
