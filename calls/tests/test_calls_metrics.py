"""The calls' metrics: recordings accepted or refused by reason, and how long publishing takes."""

import shutil
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from calls.models import Call
from testing.metrics import sample

pytestmark = pytest.mark.django_db

CALL_FIELDS = {
    "title": "Why is SQLite enough?",
    "description": "How far can one SQLite file go before it needs Postgres?",
    "keywords": "sqlite, litefs",
}


def uploads(kind: str, result: str, reason: str) -> float:
    return sample("litesite_uploads_total", kind=kind, result=result, reason=reason)


def publishes(outcome: str) -> float:
    return sample("litesite_publish_duration_seconds_count", outcome=outcome)


def send_call(client, data: bytes, **fields):
    recording = SimpleUploadedFile("call.ogg", data, "audio/ogg")
    return client.post("/calls/record/", {**CALL_FIELDS, **fields, "audio": recording})


def test_a_stored_call_is_counted_as_accepted(reader_client, make_audio):
    before = uploads("call", "accepted", "stored")
    assert send_call(reader_client, make_audio(1.0, kind="ogg")).status_code == 302
    assert uploads("call", "accepted", "stored") == before + 1


def test_a_file_that_is_not_audio_is_counted_as_refused_not_audio(reader_client):
    before = uploads("call", "refused", "not_audio")
    assert send_call(reader_client, b"just some words\n" * 40).status_code == 400
    assert uploads("call", "refused", "not_audio") == before + 1


def test_a_recording_over_the_time_limit_is_counted_as_too_long(
    reader_client, make_audio, settings
):
    settings.CALLS_MAX_SECONDS = 1
    before = uploads("call", "refused", "too_long")
    assert send_call(reader_client, make_audio(3.0, kind="ogg")).status_code == 400
    assert uploads("call", "refused", "too_long") == before + 1


def test_a_call_over_a_readers_limit_is_counted_with_the_limit(
    reader_client, reader, make_call, make_audio, settings
):
    settings.CALLS_MAX_WAITING_PER_READER = 1
    make_call(reader)
    before = uploads("call", "refused", "too_many_waiting")
    assert send_call(reader_client, make_audio(1.0, kind="ogg")).status_code == 429
    assert uploads("call", "refused", "too_many_waiting") == before + 1


def test_a_call_refused_for_disk_space_is_counted_as_storage_low(
    reader_client, make_audio, settings
):
    free = shutil.disk_usage(Path(connection.settings_dict["NAME"]).parent).free
    settings.CALLS_MIN_FREE_DISK_BYTES = free + 10 * 1024 * 1024 * 1024
    before = uploads("call", "refused", "storage_low")
    assert send_call(reader_client, make_audio(1.0, kind="ogg")).status_code == 507
    assert uploads("call", "refused", "storage_low") == before + 1


def test_a_good_recording_with_a_bad_title_is_counted_as_invalid_form(reader_client, make_audio):
    before = uploads("call", "refused", "invalid_form")
    assert send_call(reader_client, make_audio(1.0, kind="ogg"), title="Hi").status_code == 400
    assert uploads("call", "refused", "invalid_form") == before + 1


def test_staff_responses_are_counted_apart_from_calls(staff_client, reader, make_call, make_audio):
    call = make_call(reader)
    address = f"/calls/admin/{call.pk}/response"
    before = {
        "stored": uploads("response", "accepted", "stored"),
        "not_audio": uploads("response", "refused", "not_audio"),
    }
    garbage = SimpleUploadedFile("answer.mp3", b"just some words\n" * 40, "audio/mpeg")
    assert staff_client.post(address, {"audio": garbage}).status_code == 400
    answer = SimpleUploadedFile("answer.mp3", make_audio(1.0, kind="mp3"), "audio/mpeg")
    assert staff_client.post(address, {"audio": answer}).status_code == 302
    assert uploads("response", "refused", "not_audio") == before["not_audio"] + 1
    assert uploads("response", "accepted", "stored") == before["stored"] + 1


def test_publishing_is_timed_with_its_outcome(staff_client, reader, make_call):
    call = make_call(reader, seconds=1.0, response_seconds=1.0)
    before = publishes("published")
    assert staff_client.post(f"/calls/admin/{call.pk}/publish").status_code == 302
    assert publishes("published") == before + 1
    assert sample("litesite_publish_duration_seconds_sum", outcome="published") > 0


def test_a_refused_publication_is_timed_under_its_reason(staff_client, reader, make_call):
    call = make_call(reader)  # no response yet
    before = publishes("cannot_publish")
    assert staff_client.post(f"/calls/admin/{call.pk}/publish").status_code == 409
    assert publishes("cannot_publish") == before + 1
    assert Call.objects.filter(pk=call.pk).exists()


def test_a_failed_ffmpeg_run_is_timed_as_audio_failed(staff_client, reader, make_call):
    call = make_call(reader, response_seconds=1.0)
    Call.objects.filter(pk=call.pk).update(audio=b"garbage that ffmpeg cannot read")
    before = publishes("audio_failed")
    assert staff_client.post(f"/calls/admin/{call.pk}/publish").status_code == 422
    assert publishes("audio_failed") == before + 1
