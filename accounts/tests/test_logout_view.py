"""/logout: signing out is a POST."""

import pytest
from django.conf import settings

from accounts.models import Session

pytestmark = pytest.mark.django_db


def test_posting_signs_out_and_deletes_the_session(reader_client):
    response = reader_client.post("/logout")
    assert response.status_code == 302 and response["Location"] == "/"
    assert b"You are signed out." in reader_client.get("/login").content
    assert not Session.objects.filter(user__isnull=False).exists()
    assert reader_client.get("/me")["Location"].startswith("/login")


def test_a_get_only_asks_for_confirmation(reader_client):
    response = reader_client.get("/logout")
    assert response.status_code == 200
    assert b'<form method="post" action="/logout">' in response.content
    assert Session.objects.filter(user__isnull=False).exists()


def test_a_cross_site_post_without_csrf_token_is_refused(reader):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(reader)
    assert browser.post("/logout").status_code == 403
    assert Session.objects.filter(user=reader).exists()


def test_signing_out_when_not_signed_in_is_harmless(client):
    assert client.post("/logout").status_code == 302
    assert (
        settings.SESSION_COOKIE_NAME not in client.cookies
        or not client.cookies[settings.SESSION_COOKIE_NAME].value
    )
