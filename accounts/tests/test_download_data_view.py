"""/me/download.json: the reader's data export (accounts' own part, and the sections apps add)."""

import json

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from accounts import personal_data

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_must_sign_in_first(client):
    assert client.get("/me/download.json")["Location"] == "/login?next=/me/download.json"


def test_the_export_holds_the_user_and_sessions_but_no_session_keys(reader_client, reader):
    phone = Client()
    phone.force_login(reader)

    response = reader_client.get("/me/download.json")
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="litesite-data-')
    data = json.loads(response.content)
    assert data["user"]["email"] == "ada@example.com"
    assert data["user"]["team"] == "RED" and data["user"]["id"] == reader.pk
    assert len(data["sessions"]) == 2
    assert sorted(s["is_this_browser"] for s in data["sessions"]) == [False, True]
    raw = response.content.decode()
    for session_key in (reader_client.session.session_key, phone.session.session_key):
        assert session_key not in raw


def test_each_registered_section_is_exported_under_its_name_for_this_reader_only(
    reader_client, reader, registered_sections
):
    asked_for = []

    def export(*, user):
        asked_for.append(user)
        return [{"note": "kept by another app"}]

    personal_data.register("notes", export=export, delete=lambda *, user: None)
    data = json.loads(reader_client.get("/me/download.json").content)
    assert data["notes"] == [{"note": "kept by another app"}]
    assert asked_for == [reader]


@pytest.mark.parametrize("name", ["user", "sessions"])
def test_a_section_may_not_take_the_accounts_own_keys(name, registered_sections):
    with pytest.raises(ImproperlyConfigured, match=name):
        personal_data.register(name, export=lambda *, user: [], delete=lambda *, user: None)
