"""Calls and episodes in the Django admin: pending calls with players, publish as an action."""

import pytest
from django.core import mail

from calls.models import Call, Episode

pytestmark = pytest.mark.django_db


def test_the_admin_lists_pending_calls(staff_client, reader, make_call):
    make_call(reader, title="Pending question")
    response = staff_client.get("/admin/calls/call/")
    assert response.status_code == 200
    assert "Pending question" in response.content.decode()


def test_a_call_in_the_admin_has_players_and_a_link_to_the_staff_page(
    staff_client, reader, make_call
):
    call = make_call(reader, response_seconds=1.0)
    page = staff_client.get(f"/admin/calls/call/{call.pk}/change/").content.decode()
    assert f'<audio controls preload="none" src="/calls/admin/{call.pk}/audio">' in page
    assert f'src="/calls/admin/{call.pk}/response-audio"' in page
    assert f'href="/calls/admin/{call.pk}/"' in page


def test_publishing_from_the_admin_publishes_calls_with_a_response(staff_client, reader, make_call):
    ready = make_call(reader, title="Ready to go", response_seconds=1.0)
    unanswered = make_call(reader, title="Not answered yet")
    response = staff_client.post(
        "/admin/calls/call/",
        {"action": "publish", "_selected_action": [ready.pk, unanswered.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "Published episode 1: Ready to go." in page
    assert "“Not answered yet” was not published: Record or upload a response" in page
    assert list(Call.objects.values_list("pk", flat=True)) == [unanswered.pk]
    assert Episode.objects.get().title == "Ready to go"
    assert len(mail.outbox) == 1


def test_an_episode_in_the_admin_has_a_player(staff_client, make_episode):
    episode = make_episode(1)
    page = staff_client.get(f"/admin/calls/episode/{episode.pk}/change/").content.decode()
    assert f'src="{episode.get_audio_url()}"' in page


def test_readers_cannot_open_the_calls_admin(reader_client):
    response = reader_client.get("/admin/calls/call/")
    assert response.status_code == 302
    assert "/admin/login/" in response.url


def test_editing_a_call_in_the_admin_keeps_its_recording(staff_client, reader, make_call):
    call = make_call(reader, title="Typo in the titel", response_seconds=1.0)
    audio, response_audio = bytes(call.audio), bytes(call.response_audio)
    response = staff_client.post(
        f"/admin/calls/call/{call.pk}/change/",
        {"title": "Typo fixed", "description": call.description, "keywords": call.keywords},
    )
    assert response.status_code == 302
    call.refresh_from_db()
    assert call.title == "Typo fixed"
    assert bytes(call.audio) == audio
    assert bytes(call.response_audio) == response_audio


def test_the_admin_refuses_a_line_break_in_a_call_title(staff_client, reader, make_call):
    call = make_call(reader, title="Typo in the titel")
    response = staff_client.post(
        f"/admin/calls/call/{call.pk}/change/",
        {"title": "Hi\nBcc: x@example.com", "description": call.description, "keywords": "k"},
    )
    assert response.status_code == 200
    assert "Keep this to one line: remove the line break." in response.content.decode()
    call.refresh_from_db()
    assert call.title == "Typo in the titel"
