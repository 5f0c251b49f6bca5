"""/me/delete: deleting an account and everything that belongs to it."""

import pytest
from django.test import Client

from accounts.models import MagicLink, Session, User
from accounts.tests.conftest import ask_for_link
from blog import leaderboard
from blog.models import PostRead
from calls.models import Call

pytestmark = pytest.mark.django_db(databases=["default", "cache"])


@pytest.fixture
def readers_things(reader):
    phone = Client()
    phone.force_login(reader, backend="accounts.backends.MagicLinkBackend")
    PostRead.objects.create(user=reader, post_slug="a-post")
    Call.objects.create(
        user=reader,
        title="Q",
        description="D",
        keywords="k",
        audio=b"...",
        audio_mime_type="audio/webm",
    )
    ask_for_link(Client(), "reader@example.com")
    stranger = User.objects.create(email="s@example.com", first_name="S", team="RED")
    PostRead.objects.create(user=stranger, post_slug="a-post")
    return stranger


def test_the_page_explains_what_will_be_deleted(signed_in_client):
    response = signed_in_client.get("/me/delete")
    assert b"your recorded calls" in response.content
    assert b"Type your email address to confirm" in response.content


def test_a_wrong_confirmation_deletes_nothing(signed_in_client, reader, readers_things):
    response = signed_in_client.post("/me/delete", {"confirm_email": "someone@else.com"})
    assert response.status_code == 400
    assert b"nothing was deleted" in response.content
    assert User.objects.filter(pk=reader.pk).exists()
    assert signed_in_client.get("/me").status_code == 200


def test_confirming_deletes_the_user_and_everything_theirs(
    signed_in_client, reader, readers_things
):
    stranger = readers_things
    response = signed_in_client.post("/me/delete", {"confirm_email": "READER@example.com"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert b"Your account and everything" in signed_in_client.get("/login").content
    assert not User.objects.filter(pk=reader.pk).exists()
    assert not Session.objects.filter(user__isnull=False).exists()
    assert not PostRead.objects.filter(user_id=reader.pk).exists()
    assert not Call.objects.exists()
    assert not MagicLink.objects.filter(email="reader@example.com").exists()
    assert PostRead.objects.filter(user=stranger).count() == 1
    assert signed_in_client.get("/me").status_code == 302


def test_the_team_standings_stop_counting_a_deleted_readers_reads(
    signed_in_client, reader, readers_things
):
    before = {row["team"]: row["reads"] for row in leaderboard.overall_standings()["teams"]}
    assert before["BLUE"] == 1  # cached now, with the reader's read in it

    signed_in_client.post("/me/delete", {"confirm_email": "reader@example.com"})

    after = {row["team"]: row["reads"] for row in leaderboard.overall_standings()["teams"]}
    assert after["BLUE"] == 0
    assert after["RED"] == 1


def test_a_get_never_deletes(signed_in_client, reader):
    signed_in_client.get("/me/delete?confirm_email=reader@example.com")
    assert User.objects.filter(pk=reader.pk).exists()
