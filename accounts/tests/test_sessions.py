"""Rolling sessions: 365 days, moved forward when fewer than 180 remain; expired ones deleted."""

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from accounts import sessions
from accounts.models import Session

START = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
YEAR = dt.timedelta(days=365)


@pytest.fixture
def frozen():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def session_row(frozen, client, reader):
    client.force_login(reader)
    return Session.objects.get()


def test_signing_in_stores_the_user_and_a_year_of_life(session_row, reader):
    assert session_row.user == reader
    assert session_row.created_at == START
    assert session_row.expire_date == START + YEAR


def test_a_request_with_more_than_180_days_left_writes_nothing(frozen, client, session_row):
    frozen.move_to(START + dt.timedelta(days=180))
    response = client.get("/me")
    assert response.status_code == 200
    assert Session.objects.get().expire_date == START + YEAR
    assert settings.SESSION_COOKIE_NAME not in response.cookies


def test_a_request_with_fewer_than_180_days_left_extends_to_a_full_year(
    frozen, client, session_row
):
    later = START + dt.timedelta(days=186)
    frozen.move_to(later)
    response = client.get("/me")
    assert response.status_code == 200
    row = Session.objects.get()
    assert row.expire_date == later + YEAR
    assert row.created_at == START
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie.value == row.session_key
    assert int(cookie["max-age"]) == settings.SESSION_COOKIE_AGE


def test_the_extension_goes_through_ensure_primary_first(frozen, client, session_row, monkeypatch):
    calls = []
    monkeypatch.setattr(sessions.litefs, "ensure_primary", lambda: calls.append("checked"))
    frozen.move_to(START + dt.timedelta(days=200))
    client.get("/me")
    assert calls == ["checked"]


def test_a_replica_refuses_the_extension_before_writing(frozen, client, session_row, monkeypatch):
    def replica():
        raise sessions.litefs.ReplayToPrimary

    monkeypatch.setattr(sessions.litefs, "ensure_primary", replica)
    frozen.move_to(START + dt.timedelta(days=200))
    with pytest.raises(sessions.litefs.ReplayToPrimary):
        sessions.extend_session(session=client.session)
    assert Session.objects.get().expire_date == START + YEAR


def test_an_expired_session_is_deleted_when_its_cookie_comes_back(frozen, client, session_row):
    frozen.move_to(START + YEAR + dt.timedelta(seconds=1))
    response = client.get("/me")
    assert response.status_code == 302
    assert response["Location"].startswith("/login")
    assert not Session.objects.exists()


def test_sessions_of_other_users_are_untouched_by_extension(frozen, client, session_row, db):
    from accounts.models import User

    other = User.objects.create(email="o@example.com", first_name="O", team="RED")
    other_client = type(client)()
    other_client.force_login(other)
    frozen.move_to(START + dt.timedelta(days=300))
    client.get("/me")
    assert Session.objects.get(user=other).expire_date == START + YEAR


def test_anonymous_sessions_are_never_extended(frozen, client, db):
    session = client.session
    session["something"] = "kept"
    session.save()
    frozen.move_to(START + dt.timedelta(days=300))
    client.get("/login")
    assert Session.objects.get().expire_date == START + YEAR


def test_updating_a_session_keeps_its_created_time(frozen, session_row, client):
    frozen.move_to(START + dt.timedelta(days=3))
    session = client.session
    session["note"] = "changed"
    session.save()
    row = Session.objects.get()
    assert row.created_at == START
    assert row.expire_date == timezone.now() + YEAR
