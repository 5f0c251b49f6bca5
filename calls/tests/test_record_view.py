"""/calls/record/: a signed-in reader records or uploads a call; the server checks the bytes."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from calls.models import Call
from calls.tests.conftest import make_picture, run_ffmpeg

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
