"""/calls/record/<id>/: one of my calls, its audio and deleting it. Nobody else's are visible."""

import uuid

import pytest

from calls.models import Call

pytestmark = pytest.mark.django_db


def test_a_reader_sees_their_own_call_with_a_player_and_delete_button(
    reader_client, reader, make_call
):
    call = make_call(reader, title="Backups with LiteFS?")
    page = reader_client.get(call.get_absolute_url()).content.decode()
    assert "Backups with LiteFS?" in page
    assert f'src="/calls/record/{call.pk}/audio"' in page
    assert "Delete this call" in page


def test_another_readers_call_is_not_found(reader_client, other_reader, make_call):
    call = make_call(other_reader)
    assert reader_client.get(call.get_absolute_url()).status_code == 404
    assert reader_client.get(f"/calls/record/{call.pk}/audio").status_code == 404
    assert reader_client.post(f"/calls/record/{call.pk}/delete").status_code == 404
    assert Call.objects.filter(pk=call.pk).exists()


def test_my_calls_lists_only_my_own(reader_client, reader, other_reader, make_call):
    make_call(reader, title="Mine, all mine")
    make_call(other_reader, title="Somebody else's")
    page = reader_client.get("/calls/record/").content.decode()
    assert "Mine, all mine" in page
    assert "Somebody else" not in page


def test_each_call_in_my_list_can_be_deleted_from_there(reader_client, reader, make_call):
    call = make_call(reader, title="Delete me from the list")
    page = reader_client.get("/calls/record/").content.decode()
    assert f'action="/calls/record/{call.pk}/delete"' in page
    reader_client.post(f"/calls/record/{call.pk}/delete")
    assert f"/calls/record/{call.pk}/" not in reader_client.get("/calls/record/").content.decode()


def test_an_unknown_call_is_not_found(reader_client):
    assert reader_client.get(f"/calls/record/{uuid.uuid4()}/").status_code == 404


def test_signed_out_visitors_cannot_see_or_hear_a_call(client, reader, make_call):
    call = make_call(reader)
    for url in (call.get_absolute_url(), f"/calls/record/{call.pk}/audio"):
        response = client.get(url)
        assert response.status_code == 302
        assert "next=" in response.url


def test_the_recording_is_served_with_its_own_type_and_length(reader_client, reader, make_call):
    call = make_call(reader)
    response = reader_client.get(f"/calls/record/{call.pk}/audio")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/ogg"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(len(call.audio))
    assert response.content == bytes(call.audio)


def test_the_recording_can_be_seeked(reader_client, reader, make_call):
    call = make_call(reader)
    response = reader_client.get(
        f"/calls/record/{call.pk}/audio", headers={"range": "bytes=100-199"}
    )
    assert response.status_code == 206
    assert response.content == bytes(call.audio)[100:200]


def test_deleting_a_call_removes_it_and_says_so(reader_client, reader, make_call):
    call = make_call(reader, title="Never mind")
    response = reader_client.post(f"/calls/record/{call.pk}/delete", follow=True)
    assert not Call.objects.filter(pk=call.pk).exists()
    assert response.redirect_chain[-1][0] == "/calls/record/"
    assert "Your call “Never mind” is deleted." in response.content.decode()


def test_deleting_needs_a_post(reader_client, reader, make_call):
    call = make_call(reader)
    assert reader_client.get(f"/calls/record/{call.pk}/delete").status_code == 405
    assert Call.objects.filter(pk=call.pk).exists()
