"""/login: asking for a sign-in link."""

import datetime as dt

import pytest
import time_machine
from django.core import mail

from accounts.magic_links import BROWSER_COOKIE
from accounts.models import MagicLink
from testing.fixtures import emailed_link_path

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


@pytest.fixture
def limits(settings):
    """Small, distinct caps, so each test shows which limit refused it."""
    settings.MAGIC_LINK_LIMIT_PER_EMAIL_AND_CLIENT = 3
    settings.MAGIC_LINK_LIMIT_PER_CLIENT = 5
    settings.MAGIC_LINK_LIMIT_PER_EMAIL = 7
    return settings


@pytest.fixture
def behind_fly(settings):
    settings.TRUST_FLY_PROXY = True
    return settings


@pytest.fixture
def off_fly(settings):
    settings.TRUST_FLY_PROXY = False
    return settings


def ask(client, email, *, ip=None, fly_ip=None):
    """POST /login from socket address `ip` (REMOTE_ADDR), optionally claiming `fly_ip`."""
    extra = {"REMOTE_ADDR": ip} if ip else {}
    if fly_ip is not None:
        extra["HTTP_FLY_CLIENT_IP"] = fly_ip
    return client.post("/login", {"email": email}, **extra)


def test_the_defaults_are_5_per_email_and_client_10_per_client_and_20_per_email(settings):
    assert settings.MAGIC_LINK_LIMIT_PER_EMAIL_AND_CLIENT == 5
    assert settings.MAGIC_LINK_LIMIT_PER_CLIENT == 10
    assert settings.MAGIC_LINK_LIMIT_PER_EMAIL == 20


def test_links_for_one_email_from_one_client_are_limited(client, limits):
    for _ in range(3):
        assert ask(client, "a@example.com").status_code == 302
    response = ask(client, "A@example.com")
    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many sign-in links were requested for this email address from your network" in html
    assert "The links already sent still work" in html
    assert "Please wait 15 minutes before asking for another link." in html
    assert len(mail.outbox) == 3


def test_a_strangers_requests_for_someones_email_do_not_lock_the_owner_out(client, limits):
    for _ in range(5):
        ask(client, "owner@example.com", ip="198.51.100.66")
    assert ask(client, "owner@example.com", ip="198.51.100.66").status_code == 429
    assert ask(client, "owner@example.com", ip="203.0.113.5").status_code == 302
    assert MagicLink.objects.for_email("owner@example.com").count() == 4


def test_many_sources_together_are_stopped_by_the_higher_limit_per_email(client, limits):
    for n in range(7):
        assert ask(client, "target@example.com", ip=f"198.51.100.{n}").status_code == 302
    response = ask(client, "target@example.com", ip="203.0.113.5")
    assert response.status_code == 429
    html = response.content.decode()
    assert "This email address was sent too many sign-in links" in html
    assert "to protect its inbox" in html
    assert len(mail.outbox) == 7


def test_links_from_one_client_are_limited_whatever_the_email(client, limits):
    for n in range(5):
        assert ask(client, f"a{n}@example.com", ip="203.0.113.9").status_code == 302
    limited = ask(client, "z@example.com", ip="203.0.113.9")
    assert limited.status_code == 429
    assert b"Too many sign-in links were requested from your network" in limited.content
    assert ask(client, "z@example.com", ip="203.0.113.10").status_code == 302


def test_behind_fly_the_client_is_the_one_fly_client_ip_names(client, limits, behind_fly):
    for n in range(5):
        ask(client, f"a{n}@example.com", ip="172.16.0.2", fly_ip="203.0.113.9")
    limited = ask(client, "z@example.com", ip="172.16.0.2", fly_ip="203.0.113.9")
    assert limited.status_code == 429
    assert ask(client, "z@example.com", ip="172.16.0.2", fly_ip="203.0.113.10").status_code == 302
    assert MagicLink.objects.latest("created_at").client_address == "203.0.113.10"


def test_off_fly_rotating_fly_client_ip_values_do_not_dodge_the_limit(client, limits, off_fly):
    for n in range(5):
        ask(client, f"a{n}@example.com", ip="198.51.100.7", fly_ip=f"10.0.0.{n}")
    limited = ask(client, "z@example.com", ip="198.51.100.7", fly_ip="10.0.0.99")
    assert limited.status_code == 429
    assert set(MagicLink.objects.values_list("client_address", flat=True)) == {"198.51.100.7"}


def test_ipv6_addresses_in_one_64_count_as_one_client(client, limits, behind_fly):
    for n in range(5):
        ask(client, f"a{n}@example.com", fly_ip=f"2001:db8:1:2::{n + 1:x}")
    assert ask(client, "z@example.com", fly_ip="2001:db8:1:2:ffff::1").status_code == 429
    assert ask(client, "z@example.com", fly_ip="2001:db8:1:3::1").status_code == 302
    link = MagicLink.objects.latest("created_at")
    assert (link.client_address, link.client_network) == ("2001:db8:1:3::1", "2001:db8:1:3::/64")


@pytest.mark.parametrize(
    ("fly_client_ip", "stored"),
    [
        # Gunicorn joins a client's own copy and the proxy's with a comma: the last is the proxy's.
        ("6.6.6.6,127.0.0.1", "127.0.0.1"),
        ("6.6.6.6, 203.0.113.9", "203.0.113.9"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        # Not an address: the socket's peer counts instead.
        ("1" * 5000, "198.51.100.7"),
        ("fe80::1%" + "x" * 5000, "198.51.100.7"),
        ("203.0.113.9,", "198.51.100.7"),
        ("not-an-ip", "198.51.100.7"),
    ],
)
def test_only_a_valid_ip_address_is_ever_stored(client, behind_fly, fly_client_ip, stored):
    assert ask(client, "a@example.com", ip="198.51.100.7", fly_ip=fly_client_ip).status_code == 302
    link = MagicLink.objects.get()
    assert link.client_address == stored
    assert len(link.client_address) <= 45


def test_a_socket_address_that_is_not_an_ip_is_stored_as_empty(client, off_fly):
    assert ask(client, "a@example.com", ip="unix:/run/gunicorn.sock").status_code == 302
    assert MagicLink.objects.get().client_address == ""


def test_the_limit_lifts_after_fifteen_minutes(client, limits):
    with time_machine.travel(dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC), tick=False) as clock:
        for _ in range(3):
            ask(client, "a@example.com")
        clock.shift(dt.timedelta(minutes=10))
        response = ask(client, "a@example.com")
        assert b"Please wait 5 minutes" in response.content
        assert response["Retry-After"] == "300"
        clock.shift(dt.timedelta(minutes=5, seconds=1))
        assert ask(client, "a@example.com").status_code == 302


def test_a_lowered_limit_waits_until_enough_links_have_aged_out(client, limits):
    with time_machine.travel(dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC), tick=False) as clock:
        for _ in range(3):
            ask(client, "a@example.com")
            clock.shift(dt.timedelta(minutes=2))
        limits.MAGIC_LINK_LIMIT_PER_EMAIL_AND_CLIENT = 2
        # Links at 9:00, 9:02, 9:04; it is 9:06. Two must age out: the 9:02 one does at 9:17.
        assert ask(client, "a@example.com")["Retry-After"] == str(11 * 60)


def test_a_mail_server_failure_is_explained_and_does_not_use_up_the_limit(client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens on discard
    settings.EMAIL_TIMEOUT = 2
    response = client.post("/login", {"email": "a@example.com"})
    assert response.status_code == 503
    assert b"We could not send the email just now" in response.content
    assert not MagicLink.objects.exists()


def test_a_signed_in_reader_visiting_login_goes_to_the_profile(reader_client):
    assert reader_client.get("/login")["Location"] == "/me"


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
