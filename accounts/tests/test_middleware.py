"""The anonymous client_id cookie."""

import uuid

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import RequestFactory

from accounts.middleware import ClientIdMiddleware
from accounts.models import Session

COOKIE = settings.CLIENT_ID_COOKIE


def run(cookies=None):
    request = RequestFactory().get("/")
    request.COOKIES.update(cookies or {})
    response = ClientIdMiddleware(lambda req: HttpResponse(req.client_id))(request)
    return request, response


def test_a_new_visitor_gets_a_uuid_cookie_that_lasts_about_a_year():
    request, response = run()
    cookie = response.cookies[COOKIE]
    assert str(uuid.UUID(cookie.value)) == request.client_id == response.content.decode()
    assert int(cookie["max-age"]) >= 365 * 24 * 3600
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_a_returning_visitor_keeps_their_id_and_gets_no_new_cookie():
    known = str(uuid.uuid4())
    request, response = run({COOKIE: known})
    assert request.client_id == known
    assert COOKIE not in response.cookies


def test_a_malformed_cookie_is_replaced():
    request, response = run({COOKIE: "'; DROP TABLE--"})
    assert response.cookies[COOKIE].value == request.client_id != "'; DROP TABLE--"


@pytest.mark.django_db
def test_anonymous_pages_set_the_cookie_without_writing_a_session(client):
    response = client.get("/login")
    assert COOKIE in response.cookies
    assert not Session.objects.exists()
