"""/magic: opening an emailed sign-in link."""

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from accounts import magic_links
from accounts.models import MagicLink, Session
from testing.fixtures import ask_for_link

# Signing in moves anonymous reads, which refreshes cached standings in the cache database.
pytestmark = pytest.mark.django_db


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")


def test_an_existing_reader_is_signed_in_and_sent_to_the_profile(client, reader):
    link = ask_for_link(client, "ADA@example.com")
    response = client.get(link)
    assert response.status_code == 302 and response["Location"] == "/me"
    assert signed_in_user_id(client) == reader.pk
    assert Session.objects.get().user == reader
    assert client.get("/me").status_code == 200


def test_a_link_goes_on_to_the_page_the_reader_came_from(client, reader):
    client.get("/login?next=/blog/some-post/")
    link = ask_for_link(client, next="/blog/some-post/")
    assert client.get(link)["Location"] == "/blog/some-post/"


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "http://testserver@evil.example/",
        "http://testserver/me",  # this site, but a full URL rather than a path
    ],
)
def test_only_a_path_on_this_site_becomes_the_redirect(client, reader, next_url):
    link = ask_for_link(client, next=next_url + "?from=next")
    assert client.get(link)["Location"] == "/me"


def test_a_new_email_is_sent_to_onboarding_without_an_account_yet(client):
    response = client.get(ask_for_link(client, "new@example.com"))
    assert response["Location"] == "/signup"
    assert signed_in_user_id(client) is None


def test_an_expired_link_explains_and_offers_a_new_one_for_the_same_address(client, reader):
    with time_machine.travel(dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC), tick=False) as clock:
        link = ask_for_link(client)
        clock.shift(dt.timedelta(seconds=settings.MAGIC_LINK_MAX_AGE + 1))
        response = client.get(link)
    assert response.status_code == 410
    assert b"This sign-in link has expired" in response.content
    assert b'value="ada@example.com"' in response.content
    assert b"Email me a new link" in response.content
    assert signed_in_user_id(client) is None


def test_a_link_still_works_just_before_thirty_minutes(client, reader):
    with time_machine.travel(dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC), tick=False) as clock:
        link = ask_for_link(client)
        clock.shift(dt.timedelta(seconds=settings.MAGIC_LINK_MAX_AGE - 5))
        assert client.get(link)["Location"] == "/me"


def test_a_link_works_only_once(client, reader):
    link = ask_for_link(client)
    client.get(link)
    client.post("/logout")
    response = client.get(link)
    assert response.status_code == 410
    assert b"already used" in response.content
    assert signed_in_user_id(client) is None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: token.split(":", 1)[1],
        lambda token: "",
        lambda token: magic_links.signing.dumps({"id": "forged"}, salt="other-salt"),
    ],
    ids=["changed-signature", "cut-short", "missing", "signed-for-something-else"],
)
def test_a_tampered_link_is_refused(client, reader, mangle):
    link = ask_for_link(client)
    token = link.split("token=", 1)[1]
    response = client.get(f"/magic?token={mangle(token)}")
    assert response.status_code == 400
    assert b"not valid" in response.content
    assert signed_in_user_id(client) is None


def test_a_link_opened_in_another_browser_is_refused_and_not_used_up(client, reader):
    link = ask_for_link(client)
    other_browser = Client()
    response = other_browser.get(link)
    assert response.status_code == 403
    assert b"Open this link in the browser that asked for it" in response.content
    assert signed_in_user_id(other_browser) is None
    assert client.get(link)["Location"] == "/me"


def test_a_forged_binding_cookie_does_not_help(client, reader):
    link = ask_for_link(client)
    other_browser = Client()
    other_browser.cookies[magic_links.BROWSER_COOKIE] = "guessed-value"
    assert other_browser.get(link).status_code == 403


def test_opening_a_link_calls_ensure_primary_before_using_it(client, reader, monkeypatch):
    link = ask_for_link(client)

    def replica():
        raise magic_links.litefs.ReplayToPrimary

    monkeypatch.setattr(magic_links.litefs, "ensure_primary", replica)
    response = client.get(link)
    # The replication middleware answers with a replay (or 503 when it knows no primary).
    assert response.status_code in (409, 503)
    assert not MagicLink.objects.get().is_used
    assert signed_in_user_id(client) is None


def test_signing_in_replaces_the_anonymous_session_key(client, reader):
    client.get(ask_for_link(client, "new@example.com"))  # anonymous session for onboarding
    anonymous_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post("/signup", {"first_name": "Nia", "team": "RED"})
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != anonymous_key
    assert not Session.objects.filter(session_key=anonymous_key).exists()
