"""The old Remix site's session cookie, accepted once and exchanged for this site's session."""

import base64
import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import quote

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import Session, User
from legacy.postgres_import.conversions import SessionPayloads
from legacy.sessions import LEGACY_COOKIE_NAME, unsign_legacy_cookie
from litesite import litefs

SECRET = "kcd-legacy-secret"
LEGACY_ID = "3c3f8f5e-6d0b-4a7e-9d6e-2b1f0c9a7e41"
# Made by Node 20 with Remix's own steps (cookie-signature's sign(), Remix's encodeData() and
# encodeURIComponent as the `cookie` package serializes), for secret SECRET and the data
# {"__session_id__": LEGACY_ID, "__flash_note__": "Grüße ✓"}:
#   sign = (v, s) => v + "." + crypto.createHmac("sha256", s).update(v).digest("base64")
#                                    .replace(/\=+$/, "")
#   encodeURIComponent(sign(btoa(unescape(encodeURIComponent(JSON.stringify(data)))), SECRET))
NODE_MADE_COOKIE = (
    "eyJfX3Nlc3Npb25faWRfXyI6IjNjM2Y4ZjVlLTZkMGItNGE3ZS05ZDZlLTJiMWYwYzlhN2U0MSIsIl9fZmxhc2hfbm90"
    "ZV9fIjoiR3LDvMOfZSDinJMifQ%3D%3D.GV58twMueuJtmjf5RdR5LkWMRmRvNk9y4D959nSlgxY"
)


def remix_cookie(data: dict, secret: str) -> str:
    """Remix's cookie format, written from its description rather than from our reader."""
    payload = base64.b64encode(json.dumps(data).encode("utf-8")).decode("ascii")
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    signed = payload + "." + base64.b64encode(digest).decode("ascii").rstrip("=")
    return quote(signed, safe="-_.!~*'()")  # encodeURIComponent


# The visits go to /healthcheck, which reads both databases.
pytestmark = pytest.mark.django_db


@pytest.fixture
def legacy_secret(settings):
    settings.LEGACY_SESSION_SECRET = SECRET
    return SECRET


@pytest.fixture
def migrated_session(db):
    """A reader and the session migrate_from_postgres carried over under its old id."""
    user = User.objects.create(email="reader@example.com", first_name="Reader", team="RED")
    session = Session.objects.create(
        session_key=LEGACY_ID,
        session_data=SessionPayloads().encode(user.id),
        expire_date=timezone.now() + dt.timedelta(days=200),
        user=user,
    )
    return user, session


def visit(client, cookie: str | None = None):
    if cookie is not None:
        client.cookies[LEGACY_COOKIE_NAME] = cookie
    return client.get("/healthcheck")


def test_a_cookie_made_by_the_old_site_is_exchanged_for_this_sites_session(
    client, legacy_secret, migrated_session
):
    user, old = migrated_session

    response = visit(client, NODE_MADE_COOKIE)

    assert response.wsgi_request.user.is_authenticated
    assert response.wsgi_request.user.pk == user.pk
    new_key = response.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key and new_key != LEGACY_ID
    assert response.cookies[settings.SESSION_COOKIE_NAME]["httponly"]
    assert response.cookies[LEGACY_COOKIE_NAME]["max-age"] == 0
    session = Session.objects.get(session_key=new_key)
    assert (session.user_id, session.expire_date, session.created_at) == (
        user.pk,
        old.expire_date,
        old.created_at,
    )
    assert not Session.objects.filter(session_key=LEGACY_ID).exists()

    # The new cookie alone signs the reader in from now on.
    client.cookies.pop(LEGACY_COOKIE_NAME)
    again = client.get("/healthcheck")
    assert again.wsgi_request.user.pk == user.pk


def test_the_old_cookie_is_accepted_only_once(client, legacy_secret, migrated_session):
    visit(client, NODE_MADE_COOKIE)

    client.cookies.clear()
    replayed = visit(client, NODE_MADE_COOKIE)

    assert not replayed.wsgi_request.user.is_authenticated
    assert settings.SESSION_COOKIE_NAME not in replayed.cookies
    assert replayed.cookies[LEGACY_COOKIE_NAME]["max-age"] == 0


def test_a_cookie_signed_with_another_secret_is_ignored_and_left_alone(
    client, legacy_secret, migrated_session
):
    forged = remix_cookie({"__session_id__": LEGACY_ID}, "not-the-secret")

    response = visit(client, forged)

    assert not response.wsgi_request.user.is_authenticated
    assert LEGACY_COOKIE_NAME not in response.cookies
    assert Session.objects.filter(session_key=LEGACY_ID).exists()


def test_a_tampered_session_id_breaks_the_signature(client, legacy_secret, migrated_session):
    genuine = remix_cookie({"__session_id__": "someone-else"}, SECRET)
    payload = base64.b64encode(json.dumps({"__session_id__": LEGACY_ID}).encode()).decode()
    tampered = quote(payload, safe="") + "." + genuine.rpartition(".")[2]

    response = visit(client, tampered)

    assert not response.wsgi_request.user.is_authenticated
    assert Session.objects.filter(session_key=LEGACY_ID).exists()


def test_an_expired_migrated_session_is_not_accepted(client, legacy_secret, migrated_session):
    Session.objects.filter(session_key=LEGACY_ID).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )

    response = visit(client, NODE_MADE_COOKIE)

    assert not response.wsgi_request.user.is_authenticated
    assert response.cookies[LEGACY_COOKIE_NAME]["max-age"] == 0


def test_without_a_legacy_secret_the_old_cookie_means_nothing(client, settings, migrated_session):
    settings.LEGACY_SESSION_SECRET = ""

    response = visit(client, NODE_MADE_COOKIE)

    assert not response.wsgi_request.user.is_authenticated
    assert LEGACY_COOKIE_NAME not in response.cookies
    assert Session.objects.filter(session_key=LEGACY_ID).exists()


def test_a_reader_signed_in_here_keeps_their_session_and_the_old_cookie_is_cleared(
    client, legacy_secret, migrated_session
):
    other = User.objects.create(email="other@example.com", first_name="Other", team="BLUE")
    client.force_login(other)

    response = visit(client, NODE_MADE_COOKIE)

    assert response.wsgi_request.user.pk == other.pk
    assert response.cookies[LEGACY_COOKIE_NAME]["max-age"] == 0
    assert Session.objects.filter(session_key=LEGACY_ID).exists()


def test_on_a_replica_the_exchange_is_sent_to_the_primary(
    client, legacy_secret, migrated_session, monkeypatch
):
    def on_a_replica(reason="write"):
        raise litefs.ReplayToPrimary(reason)

    monkeypatch.setattr(litefs, "ensure_primary", on_a_replica)

    response = visit(client, NODE_MADE_COOKIE)

    assert response.status_code in (409, 503)
    assert Session.objects.filter(session_key=LEGACY_ID).exists()


@pytest.mark.parametrize(
    "data",
    [
        {"__session_id__": LEGACY_ID},
        {"__session_id__": "ünïcödé-id", "__flash_error__": "a+b/c=d"},
        {},
    ],
)
def test_the_reader_decodes_remix_cookies_of_any_content(data):
    assert unsign_legacy_cookie(remix_cookie(data, SECRET), secret=SECRET) == data


def test_the_reader_decodes_the_node_made_cookie():
    assert unsign_legacy_cookie(NODE_MADE_COOKIE, secret=SECRET) == {
        "__session_id__": LEGACY_ID,
        "__flash_note__": "Grüße ✓",
    }
