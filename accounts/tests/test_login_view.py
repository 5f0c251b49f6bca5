"""/login: asking for a sign-in link."""

import datetime as dt

import pytest
import time_machine
from django.core import mail

from accounts.magic_links import BROWSER_COOKIE, RATE_LIMIT
from accounts.models import MagicLink
from accounts.tests.conftest import emailed_link_path

pytestmark = pytest.mark.django_db


def test_the_page_shows_an_email_form_with_a_hidden_honeypot(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="email"' in html and 'name="website"' in html
    assert 'class="honeypot" aria-hidden="true"' in html


def test_asking_for_a_link_emails_it_and_binds_it_to_this_browser(client):
    response = client.post("/login", {"email": "New@Example.com"})
    assert response.status_code == 302 and response["Location"] == "/login/sent"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["New@Example.com"]
    assert "30 minutes" in message.body
    assert message.alternatives and "Sign in to litesite" in message.alternatives[0][0]
    assert emailed_link_path().startswith("/magic?token=")
    assert response.cookies[BROWSER_COOKIE]["httponly"]
    assert MagicLink.objects.get().email == "new@example.com"


def test_the_sent_page_says_where_the_link_went(client):
    response = client.post("/login", {"email": "a@example.com"}, follow=True)
    assert b"We emailed a sign-in link to a@example.com" in response.content
    assert b"in this browser" in response.content


def test_a_second_request_from_the_same_browser_keeps_its_binding_cookie(client):
    client.post("/login", {"email": "a@example.com"})
    first = client.cookies[BROWSER_COOKIE].value
    client.post("/login", {"email": "a@example.com"})
    assert client.cookies[BROWSER_COOKIE].value == first


@pytest.mark.parametrize(
    ("email", "message"),
    [("", b"Please enter your email address."), ("not-an-email", b"does not look like an email")],
)
def test_a_bad_address_re_renders_the_form_with_a_message(client, email, message):
    response = client.post("/login", {"email": email})
    assert response.status_code == 400
    assert message in response.content
    assert not mail.outbox and not MagicLink.objects.exists()


def test_a_filled_honeypot_looks_like_success_but_sends_nothing(client):
    response = client.post("/login", {"email": "bot@example.com", "website": "http://spam"})
    assert response.status_code == 302 and response["Location"] == "/login/sent"
    assert not mail.outbox
    assert not MagicLink.objects.exists()


def test_links_are_limited_per_email_address(client):
    for _ in range(RATE_LIMIT):
        assert client.post("/login", {"email": "a@example.com"}).status_code == 302
    response = client.post("/login", {"email": "A@example.com"})
    assert response.status_code == 429
    assert b"Too many sign-in links were requested for this email address" in response.content
    assert b"Please wait 15 minutes" in response.content
    assert len(mail.outbox) == RATE_LIMIT


def test_links_are_limited_per_client_address_using_fly_client_ip(client):
    for n in range(RATE_LIMIT):
        client.post("/login", {"email": f"a{n}@example.com"}, HTTP_FLY_CLIENT_IP="203.0.113.9")
    limited = client.post("/login", {"email": "z@example.com"}, HTTP_FLY_CLIENT_IP="203.0.113.9")
    assert limited.status_code == 429
    assert b"from your network" in limited.content
    elsewhere = client.post("/login", {"email": "z@example.com"}, HTTP_FLY_CLIENT_IP="203.0.113.10")
    assert elsewhere.status_code == 302


def test_the_limit_lifts_after_fifteen_minutes(client):
    with time_machine.travel(dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC), tick=False) as clock:
        for _ in range(RATE_LIMIT):
            client.post("/login", {"email": "a@example.com"})
        clock.shift(dt.timedelta(minutes=10))
        response = client.post("/login", {"email": "a@example.com"})
        assert b"Please wait 5 minutes" in response.content
        assert response["Retry-After"] == "300"
        clock.shift(dt.timedelta(minutes=5, seconds=1))
        assert client.post("/login", {"email": "a@example.com"}).status_code == 302


def test_a_mail_server_failure_is_explained_and_does_not_use_up_the_limit(client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens on discard
    settings.EMAIL_TIMEOUT = 2
    response = client.post("/login", {"email": "a@example.com"})
    assert response.status_code == 503
    assert b"We could not send the email just now" in response.content
    assert not MagicLink.objects.exists()


def test_a_signed_in_reader_visiting_login_goes_to_the_profile(signed_in_client):
    assert signed_in_client.get("/login")["Location"] == "/me"


def test_a_safe_next_survives_into_the_form(client):
    response = client.get("/login?next=/blog/hello/")
    assert b'value="/blog/hello/"' in response.content


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
def test_an_offsite_next_is_dropped_from_the_form(client, next_url):
    response = client.get("/login", {"next": next_url})
    assert b"evil.example" not in response.content and b"javascript:" not in response.content
