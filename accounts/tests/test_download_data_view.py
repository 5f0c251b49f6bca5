"""/me/download.json: the reader's data export."""

import json

import pytest
from django.test import Client

from accounts.models import User
from blog.models import PostRead
from calls.models import Call

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_must_sign_in_first(client):
    assert client.get("/me/download.json")["Location"] == "/login?next=/me/download.json"


def test_the_export_holds_the_user_sessions_reads_and_calls_but_no_secrets(
    signed_in_client, reader
):
    phone = Client()
    phone.force_login(reader, backend="accounts.backends.MagicLinkBackend")
    PostRead.objects.create(user=reader, post_slug="first-post")
    Call.objects.create(
        user=reader,
        title="My question",
        description="Why SQLite?",
        keywords="sqlite",
        audio=b"\x1aE\xdf\xa3 secret audio bytes",
        audio_mime_type="audio/webm",
        duration_seconds=12.5,
    )
    stranger = User.objects.create(email="s@example.com", first_name="S", team="RED")
    PostRead.objects.create(user=stranger, post_slug="not-mine")

    response = signed_in_client.get("/me/download.json")
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="litesite-data-')
    data = json.loads(response.content)
    assert data["user"]["email"] == "reader@example.com"
    assert data["user"]["team"] == "BLUE" and data["user"]["id"] == reader.pk
    assert len(data["sessions"]) == 2
    assert sorted(s["is_this_browser"] for s in data["sessions"]) == [False, True]
    assert [r["post_slug"] for r in data["post_reads"]] == ["first-post"]
    assert data["calls"][0]["title"] == "My question"
    assert data["calls"][0]["duration_seconds"] == 12.5
    raw = response.content.decode()
    assert "secret audio bytes" not in raw
    for session_key in (signed_in_client.session.session_key, phone.session.session_key):
        assert session_key not in raw
