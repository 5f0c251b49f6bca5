"""/me/download.json: the calls' sections of the export, the calls the reader recorded and the
uploads their daily budget counts."""

import json

import pytest

from calls.models import CallUpload

pytestmark = pytest.mark.django_db


def test_the_export_describes_the_readers_calls_without_their_audio(
    reader_client, reader, other_reader, make_call
):
    make_call(reader, title="My question", description="Why SQLite?", keywords="sqlite")
    make_call(other_reader, title="Not mine")

    response = reader_client.get("/me/download.json")
    calls = json.loads(response.content)["calls"]
    assert [call["title"] for call in calls] == ["My question"]
    assert calls[0]["description"] == "Why SQLite?" and calls[0]["keywords"] == "sqlite"
    assert calls[0]["audio_mime_type"] == "audio/ogg"
    assert calls[0]["duration_seconds"] == 2.0
    assert "audio" not in calls[0]
    assert len(response.content) < 2_000  # the recording itself is not in the download


def test_a_reader_without_calls_exports_an_empty_list(reader_client):
    assert json.loads(reader_client.get("/me/download.json").content)["calls"] == []


def test_the_export_lists_the_uploads_the_daily_budget_counts(reader_client, reader, other_reader):
    # Kept after the call itself is deleted or published: the upload still counts for a day.
    CallUpload.objects.create(user=reader, size_bytes=1234)
    CallUpload.objects.create(user=other_reader, size_bytes=999)

    uploads = json.loads(reader_client.get("/me/download.json").content)["call_uploads"]
    assert [upload["size_bytes"] for upload in uploads] == [1234]
    assert uploads[0]["created_at"]
