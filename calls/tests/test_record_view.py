"""/calls/record/: a signed-in reader records or uploads a call; the server checks the bytes."""

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.template.defaultfilters import filesizeformat
from django.test import Client
from django.urls import reverse

from calls import limits
from calls.models import Call, CallUpload
from calls.tests.media import make_picture, rewrite_webm_duration, run_ffmpeg

pytestmark = pytest.mark.django_db

URL = "/calls/record/"


def call_fields(**overrides):
    fields = {
        "title": "Why is SQLite enough?",
        "description": "How far can one SQLite file go before it needs Postgres?",
        "keywords": "sqlite,  litefs ,, scaling",
    }
    return {**fields, **overrides}


def upload(data: bytes, name="call.webm", content_type="audio/webm"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "next=/calls/record/" in response.url


def test_the_page_shows_the_recorder_and_a_plain_upload_form(reader_client):
    response = reader_client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert "data-recorder" in page
    assert 'type="file" name="audio"' in page
    assert 'enctype="multipart/form-data"' in page
    assert "My calls" in page


def test_a_valid_upload_is_stored_with_the_type_ffprobe_found(reader_client, reader, make_audio):
    data = make_audio(2.0, kind="ogg")
    # The browser claims WAV with an .mp3 name; the server believes only the bytes.
    response = reader_client.post(
        URL, {**call_fields(), "audio": upload(data, "call.mp3", "audio/wav")}
    )
    call = Call.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("calls:call-detail", args=[call.pk])
    assert call.user == reader
    assert bytes(call.audio) == data
    assert call.audio_mime_type == "audio/ogg"
    assert call.duration_seconds == pytest.approx(2.0, abs=0.1)
    assert call.keywords == "sqlite, litefs, scaling"
    assert len(call.pk) == 36


def test_the_recorder_gets_json_with_the_new_calls_address(reader_client, make_audio):
    response = reader_client.post(
        URL,
        {**call_fields(), "audio": upload(make_audio(1.0, kind="webm"))},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 201
    assert response.json() == {"url": Call.objects.get().get_absolute_url()}


def test_new_calls_appear_under_my_calls(reader_client, reader, make_call):
    make_call(reader, title="My own question")
    assert "My own question" in reader_client.get(URL).content.decode()


def post_invalid(client, status=400, **fields):
    response = client.post(URL, fields)
    assert response.status_code == status
    assert not Call.objects.exists()
    return response


def audio_errors(response):
    return response.context["form"].errors.get("audio", [])


def test_an_empty_file_is_refused(reader_client):
    response = post_invalid(reader_client, **call_fields(), audio=upload(b""))
    assert audio_errors(response) == ["The recording is empty."]


def test_silence_of_no_length_is_refused_as_empty(reader_client, tmp_path):
    path = tmp_path / "nothing.wav"
    run_ffmpeg("-v", "error", "-f", "lavfi", "-i", "anullsrc", "-t", "0", str(path))
    response = post_invalid(reader_client, **call_fields(), audio=upload(path.read_bytes()))
    assert "empty" in audio_errors(response)[0]


def test_a_missing_recording_is_asked_for(reader_client):
    response = post_invalid(reader_client, **call_fields())
    assert audio_errors(response) == ["Record your call, or choose an audio file to upload."]


def test_a_text_file_named_mp3_is_refused(reader_client):
    fake = upload(b"Definitely a podcast, trust me.\n" * 50, "question.mp3", "audio/mpeg")
    response = post_invalid(reader_client, **call_fields(), audio=fake)
    assert audio_errors(response) == ["This file is not an audio recording we can read."]


def test_a_file_that_is_not_audio_is_refused(reader_client, tmp_path):
    png = make_picture(tmp_path / "picture.png")
    response = post_invalid(reader_client, **call_fields(), audio=upload(png, "a.webm"))
    assert "not an audio recording" in audio_errors(response)[0]


def test_a_recording_over_the_time_limit_is_refused(reader_client, make_audio, settings):
    settings.CALLS_MAX_SECONDS = 2
    response = post_invalid(reader_client, **call_fields(), audio=upload(make_audio(3.0)))
    assert audio_errors(response) == ["This recording lasts 0:03; the limit is 0:02."]


def test_a_recording_over_the_size_limit_is_refused(reader_client, make_audio, settings):
    data = make_audio(1.0)  # 96 KB of WAV
    settings.CALLS_MAX_BYTES = len(data) - 1
    response = post_invalid(reader_client, **call_fields(), audio=upload(data))
    limit = filesizeformat(len(data) - 1)
    assert audio_errors(response) == [f"This recording is larger than the {limit} limit."]


def test_an_oversized_file_keeps_what_was_typed(reader_client, make_audio, settings):
    settings.CALLS_MAX_BYTES = 50 * 1024
    response = post_invalid(reader_client, **call_fields(), audio=upload(make_audio(4.0)))
    assert audio_errors(response) == ["This recording is larger than the 50.0\xa0KB limit."]
    page = response.content.decode()
    assert "Why is SQLite enough?" in page
    assert "How far can one SQLite file go" in page


def test_oversized_form_fields_get_a_message_not_an_error_page(reader_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = post_invalid(reader_client, 413, **call_fields(description="x" * 20_000))
    assert "This submission is too large to accept" in response.content.decode()


def test_a_body_larger_than_any_valid_call_is_refused_unread(reader_client, make_audio, settings):
    settings.CALLS_MAX_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 20_000
    data = make_audio(2.0)  # 190 KB, far beyond both limits together
    response = post_invalid(reader_client, 413, **call_fields(), audio=upload(data))
    assert "This submission is too large to accept" in response.content.decode()


def test_the_recorder_hears_about_an_oversized_body_as_json(reader_client, make_audio, settings):
    settings.CALLS_MAX_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 20_000
    response = reader_client.post(
        URL,
        {**call_fields(), "audio": upload(make_audio(2.0))},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errors"]["__all__"][0]["code"] == "body_too_large"
    assert not Call.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "Why", "Ensure this value has at least 5 characters (it has 3)."),
        ("title", "x" * 81, "Ensure this value has at most 80 characters (it has 81)."),
        ("description", "Too short.", "Ensure this value has at least 20 characters (it has 10)."),
        ("description", "x" * 1001, "Ensure this value has at most 1000 characters (it has 1001)."),
        ("keywords", "x", "Ensure this value has at least 2 characters (it has 1)."),
        ("keywords", ", , ,", "Give at least one keyword."),
        ("keywords", "k" * 101, "Ensure this value has at most 100 characters (it has 101)."),
    ],
)
def test_text_fields_have_length_limits(reader_client, make_audio, field, value, message):
    fields = {**call_fields(**{field: value}), "audio": upload(make_audio(1.0, kind="webm"))}
    response = post_invalid(reader_client, **fields)
    assert response.context["form"].errors[field] == [message]


def test_the_recorder_gets_errors_as_json(reader_client):
    response = reader_client.post(
        URL,
        {**call_fields(title="Hi"), "audio": upload(b"")},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["audio"][0]["message"] == "The recording is empty."
    assert errors["title"][0]["code"] == "min_length"
    assert not Call.objects.exists()


def test_the_form_still_requires_a_csrf_token(reader, make_audio):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(reader)
    response = client.post(URL, {**call_fields(), "audio": upload(make_audio(1.0))})
    assert response.status_code == 403
    assert not Call.objects.exists()


def test_the_primary_instance_id_is_handed_to_the_recorder(reader_client, settings):
    page = reader_client.get(URL).content.decode()
    assert 'data-primary-instance=""' in page


# --- What a recording really is -------------------------------------------------------------


def test_a_webm_that_claims_5_seconds_but_lasts_a_minute_is_refused(reader_client, make_audio):
    forged = rewrite_webm_duration(make_audio(60.0, kind="webm"), seconds=5)
    response = post_invalid(reader_client, **call_fields(), audio=upload(forged))
    assert audio_errors(response) == [
        "This file says it lasts 0:05, but it holds 1:00 of sound: its header is wrong. "
        "Please send the original recording."
    ]


def test_the_time_limit_holds_for_a_recording_that_declares_no_length(
    reader_client, make_audio, settings
):
    settings.CALLS_MAX_SECONDS = 2
    streamed = subprocess.run(  # as MediaRecorder writes it: no duration in the header
        ["ffmpeg", "-v", "error", "-i", "-", "-c:a", "libopus", "-f", "webm", "-"],
        input=make_audio(8.0),
        capture_output=True,
        check=True,
    ).stdout
    response = post_invalid(reader_client, **call_fields(), audio=upload(streamed))
    assert audio_errors(response) == ["This recording lasts more than 0:04; the limit is 0:02."]


# --- Plain text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "Hi\nBcc: x@example.com", "Keep this to one line: remove the line break."),
        ("title", "Hi\rthere", "Keep this to one line: remove the line break."),
        (
            "title",
            "Ring \x07 ring",
            "Remove the invisible control character (U+0007) from this text.",
        ),
        ("keywords", "sqlite\nBcc: x", "Keep this to one line: remove the line break."),
        ("keywords", "sqlite, \u2028litefs", "Keep this to one line: remove the line break."),
        (
            "description",
            "A question long enough \x1b[31m in red",
            "Remove the invisible control character (U+001B) from this text.",
        ),
    ],
)
def test_control_characters_are_refused_in_what_callers_type(
    reader_client, make_audio, field, value, message
):
    fields = {**call_fields(**{field: value}), "audio": upload(make_audio(1.0, kind="webm"))}
    response = post_invalid(reader_client, **fields)
    assert response.context["form"].errors[field] == [message]


def test_line_breaks_and_tabs_are_fine_in_a_description(reader_client, make_audio):
    description = "First line of my question,\r\nand\tthe second one."
    response = reader_client.post(
        URL,
        {**call_fields(description=description), "audio": upload(make_audio(1.0, kind="webm"))},
    )
    assert response.status_code == 302
    assert Call.objects.get().description == description


# --- Limits per reader and for the site ----------------------------------------------------


def send(client, data, *, json_reply=False, **fields):
    return client.post(
        URL,
        {**call_fields(**fields), "audio": upload(data, "call.ogg", "audio/ogg")},
        **({"headers": {"accept": "application/json"}} if json_reply else {}),
    )


def test_the_page_states_the_limits_and_what_is_left(reader_client, reader, make_call, settings):
    settings.CALLS_MAX_WAITING_PER_READER = 3
    settings.CALLS_DAILY_BYTES_PER_READER = 30 * 1024 * 1024
    make_call(reader)
    CallUpload.objects.create(user=reader, size_bytes=5 * 1024 * 1024)
    page = re.sub(r"[ \n]+", " ", reader_client.get(URL).content.decode())
    assert "you can have up to 3 calls waiting for an answer" in page
    assert "send up to 30.0\xa0MB of recordings in 24 hours" in page
    assert "You have 1 waiting and 25.0\xa0MB left for now." in page
    assert "data-limit-notice" not in page


def test_a_reader_with_the_most_calls_waiting_cannot_send_another(
    reader_client, reader, make_call, make_audio, settings
):
    settings.CALLS_MAX_WAITING_PER_READER = 2
    make_call(reader)
    make_call(reader)
    message = (
        "You have 2 calls waiting for an answer, the most we keep for one reader (2). "
        "Delete one of them below, or wait until we answer one, to send another."
    )
    assert message in reader_client.get(URL).content.decode()  # said before recording

    response = send(reader_client, make_audio(1.0, kind="ogg"), title="One call too many")
    assert response.status_code == 429
    assert response.context["form"].non_field_errors() == [message]
    assert "One call too many" in response.content.decode()  # what was typed is kept
    assert Call.objects.count() == 2

    answer = send(reader_client, make_audio(1.0, kind="ogg"), json_reply=True)
    assert answer.status_code == 429
    assert answer.json()["errors"]["__all__"] == [{"message": message, "code": "too_many_waiting"}]


def test_the_daily_budget_counts_deleted_calls_and_frees_up_after_24_hours(
    reader_client, reader, make_audio, settings
):
    data = make_audio(1.0, kind="ogg")
    settings.CALLS_DAILY_BYTES_PER_READER = 2 * len(data) + len(data) // 2
    morning = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    with time_machine.travel(morning, tick=False):
        assert send(reader_client, data).status_code == 302
        assert send(reader_client, data).status_code == 302
        Call.objects.first().delete()  # deleting gives nothing back
        refused = send(reader_client, data, json_reply=True)
    assert refused.status_code == 429
    assert refused["Retry-After"] == str(24 * 60 * 60 + 1)
    (error,) = refused.json()["errors"]["__all__"]
    assert error["code"] == "daily_budget"
    assert error["message"].endswith(
        f"You can send this one ({filesizeformat(len(data))}) after 09:30 UTC on 3 March, "
        "when earlier recordings stop counting."
    )
    assert Call.objects.count() == 1

    with time_machine.travel(morning + dt.timedelta(hours=24, seconds=1), tick=False):
        assert send(reader_client, data).status_code == 302
    # Uploads older than the window are gone from the ledger.
    assert CallUpload.objects.count() == 1


@pytest.mark.parametrize(
    "setting", ["CALLS_MAX_WAITING_PER_READER", "CALLS_DAILY_BYTES_PER_READER"]
)
def test_a_limit_set_to_0_closes_the_call_in_line(reader_client, make_audio, settings, setting):
    setattr(settings, setting, 0)
    message = "We are not taking calls just now. Please come back later."
    assert message in reader_client.get(URL).content.decode()
    response = send(reader_client, make_audio(1.0, kind="ogg"), json_reply=True)
    assert response.status_code == 429
    assert response.json()["errors"]["__all__"] == [{"message": message, "code": "closed"}]
    assert not Call.objects.exists()


def test_recordings_are_refused_with_507_while_the_disk_is_under_the_floor(
    reader_client, make_audio, settings
):
    free = shutil.disk_usage(Path(connection.settings_dict["NAME"]).parent).free
    settings.CALLS_MIN_FREE_DISK_BYTES = free + 10 * 1024 * 1024 * 1024
    message = (
        "The site is short of storage space just now, so it cannot take new recordings. "
        "Nothing is lost: please try again later."
    )
    assert message in reader_client.get(URL).content.decode()
    response = send(reader_client, make_audio(1.0, kind="ogg"), json_reply=True)
    assert response.status_code == 507
    assert response.json()["errors"]["__all__"] == [{"message": message, "code": "storage_low"}]
    assert not Call.objects.exists()


def test_a_recording_that_would_take_the_disk_under_the_floor_is_refused(
    reader_client, make_audio, settings
):
    data = make_audio(1.0)  # 96 KB of WAV
    free = limits.free_disk_bytes()
    # Room for a few bytes more than the floor, but not for this recording.
    settings.CALLS_MIN_FREE_DISK_BYTES = free - len(data) // 2
    response = post_invalid(reader_client, 507, **call_fields(), audio=upload(data))
    assert "short of storage space" in response.content.decode()


def upload_at_once(user, data: bytes, *, count: int) -> list[int]:
    """`count` uploads of `data` by one reader, released together from as many threads, each
    with its own connection to the test database file."""
    clients = []
    for _ in range(count):
        client = Client()
        client.force_login(user)
        clients.append(client)
    barrier = threading.Barrier(count)
    statuses, errors = [], []

    def send_one(client):
        try:
            barrier.wait()
            statuses.append(send(client, data, json_reply=True).status_code)
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send_one, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    return sorted(statuses)


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_from_one_reader_cannot_pass_the_waiting_limit(
    reader, make_audio, settings
):
    settings.CALLS_MAX_WAITING_PER_READER = 3
    statuses = upload_at_once(reader, make_audio(1.0, kind="ogg"), count=6)
    assert statuses == [201] * 3 + [429] * 3
    assert Call.objects.filter(user=reader).count() == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_from_one_reader_cannot_pass_the_daily_budget(
    reader, make_audio, settings
):
    data = make_audio(1.0, kind="ogg")
    settings.CALLS_MAX_WAITING_PER_READER = 10
    settings.CALLS_DAILY_BYTES_PER_READER = 2 * len(data) + len(data) // 2
    statuses = upload_at_once(reader, data, count=5)
    assert statuses == [201] * 2 + [429] * 3
    assert Call.objects.filter(user=reader).count() == 2
    assert CallUpload.objects.by(reader).total_bytes() == 2 * len(data)


def test_a_reader_cannot_fill_a_real_disk(make_audio, small_tmpfs, tmp_path):
    """The site database on a 20 MB file system with a 6 MB floor: a reader with no other
    limit sends 1 MB recordings until the site refuses; the database still has room for the
    writes every visitor makes."""
    volume = small_tmpfs(20)
    recording = tmp_path / "call.wav"
    recording.write_bytes(make_audio(10.0))  # 960 KB
    floor = 6 * 1024 * 1024
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{volume}/site.sqlite3",
        "CACHE_DATABASE_URL": f"sqlite:///{tmp_path}/cache.sqlite3",
        "CALLS_MIN_FREE_DISK_BYTES": str(floor),
        "CALLS_MAX_WAITING_PER_READER": "1000",
        "CALLS_DAILY_BYTES_PER_READER": str(10**9),
        "LOG_LEVEL": "CRITICAL",
    }
    result = subprocess.run(
        [sys.executable, "-m", "calls.tests.fill_the_disk", str(recording)],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        timeout=300,
        check=True,
    )
    report = json.loads(result.stdout)
    *accepted, refused = report["uploads"]
    assert len(accepted) >= 3
    assert all(upload["status"] == 201 for upload in accepted)
    assert refused.get("status") == 507, refused
    assert refused["body"]["errors"]["__all__"][0]["code"] == "storage_low"
    assert refused["free_before"] - recording.stat().st_size < floor
    assert report["after"]["writes"] == "ok"
    assert report["after"]["free"] > floor - recording.stat().st_size
