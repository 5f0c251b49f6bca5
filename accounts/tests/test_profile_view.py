"""/me: the reader's profile."""

import pytest
from django.test import Client

from accounts.models import Session, User

pytestmark = pytest.mark.django_db


def another_browser(user):
    browser = Client()
    browser.force_login(user)
    return browser


def test_anonymous_visitors_are_sent_to_sign_in_and_back(client):
    assert client.get("/me")["Location"] == "/login?next=/me"


def test_the_profile_shows_email_team_and_name(reader_client):
    html = reader_client.get("/me").content.decode()
    assert "ada@example.com" in html and "Red" in html and 'value="Ada"' in html
    assert 'class="team-red"' in html


def test_the_first_name_can_be_changed(reader_client, reader):
    response = reader_client.post("/me", {"first_name": "  Margarita "}, follow=True)
    assert b"Your name is saved." in response.content
    reader.refresh_from_db()
    assert reader.first_name == "Margarita"


@pytest.mark.parametrize(
    ("name", "message"),
    [("", b"Please tell us your first name."), ("y" * 61, b"60 characters or fewer")],
)
def test_a_bad_name_is_refused_with_a_message(reader_client, reader, name, message):
    response = reader_client.post("/me", {"first_name": name})
    assert response.status_code == 400 and message in response.content
    reader.refresh_from_db()
    assert reader.first_name == "Ada"


def test_other_sessions_are_counted_and_can_be_signed_out(reader_client, reader):
    phone, laptop = another_browser(reader), another_browser(reader)
    stranger = another_browser(
        User.objects.create(email="s@example.com", first_name="S", team="RED")
    )
    assert b"also signed in on 2 other browsers" in reader_client.get("/me").content
    response = reader_client.post("/me/sessions/sign-out-others", follow=True)
    assert b"Signed out of 2 other sessions." in response.content
    assert b"You are signed in only here." in response.content
    assert phone.get("/me").status_code == 302 and laptop.get("/me").status_code == 302
    assert reader_client.get("/me").status_code == 200
    assert stranger.get("/me").status_code == 200
    assert Session.objects.filter(user=reader).count() == 1
