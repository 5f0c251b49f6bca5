"""/me: the reader's profile."""

import datetime as dt

import pytest
from django.test import Client

from accounts.models import Session, User
from blog.models import PostRead

pytestmark = pytest.mark.django_db


def another_browser(user):
    browser = Client()
    browser.force_login(user, backend="accounts.backends.MagicLinkBackend")
    return browser


def test_anonymous_visitors_are_sent_to_sign_in_and_back(client):
    assert client.get("/me")["Location"] == "/login?next=/me"


def test_the_profile_shows_email_team_and_name(signed_in_client):
    html = signed_in_client.get("/me").content.decode()
    assert "reader@example.com" in html and "Blue" in html and 'value="Rita"' in html
    assert 'class="team-blue"' in html


def test_the_first_name_can_be_changed(signed_in_client, reader):
    response = signed_in_client.post("/me", {"first_name": "  Margarita "}, follow=True)
    assert b"Your name is saved." in response.content
    reader.refresh_from_db()
    assert reader.first_name == "Margarita"


@pytest.mark.parametrize(
    ("name", "message"),
    [("", b"Please tell us your first name."), ("y" * 61, b"60 characters or fewer")],
)
def test_a_bad_name_is_refused_with_a_message(signed_in_client, reader, name, message):
    response = signed_in_client.post("/me", {"first_name": name})
    assert response.status_code == 400 and message in response.content
    reader.refresh_from_db()
    assert reader.first_name == "Rita"


def test_other_sessions_are_counted_and_can_be_signed_out(signed_in_client, reader):
    phone, laptop = another_browser(reader), another_browser(reader)
    stranger = another_browser(
        User.objects.create(email="s@example.com", first_name="S", team="RED")
    )
    assert b"also signed in on 2 other browsers" in signed_in_client.get("/me").content
    response = signed_in_client.post("/me/sessions/sign-out-others", follow=True)
    assert b"Signed out of 2 other sessions." in response.content
    assert b"You are signed in only here." in response.content
    assert phone.get("/me").status_code == 302 and laptop.get("/me").status_code == 302
    assert signed_in_client.get("/me").status_code == 200
    assert stranger.get("/me").status_code == 200
    assert Session.objects.filter(user=reader).count() == 1


def test_the_reads_are_listed_newest_first_by_title_with_links(signed_in_client, reader):
    # Posts from the sample content in content/.
    older = PostRead.objects.create(user=reader, post_slug="hello-litesite")
    PostRead.objects.filter(pk=older.pk).update(created_at=older.created_at - dt.timedelta(days=3))
    PostRead.objects.create(user=reader, post_slug="why-sqlite-in-production")
    PostRead.objects.create(
        client_id="5b1e3f4c-0000-4000-8000-000000000000", post_slug="team-leaderboards-math"
    )
    html = signed_in_client.get("/me").content.decode()
    newer = '<a href="/blog/why-sqlite-in-production/">Why we run this site on SQLite</a>'
    assert html.index(newer) < html.index('<a href="/blog/hello-litesite/">Hello, litesite</a>')
    assert "team-leaderboards-math" not in html and "arithmetic behind" not in html
    assert "2 posts read" in html


def test_a_read_of_a_post_that_is_gone_shows_its_slug_without_a_link(signed_in_client, reader):
    PostRead.objects.create(user=reader, post_slug="a-post-taken-down")
    html = signed_in_client.get("/me").content.decode()
    assert 'a-post-taken-down <span class="muted">(no longer on the site)</span>' in html
    assert 'href="/blog/a-post-taken-down/"' not in html


def test_a_reader_without_reads_is_pointed_to_the_blog(signed_in_client):
    assert b"None yet." in signed_in_client.get("/me").content
