"""calls.forms used directly, without the streaming size limit the views put in front of them."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from calls.forms import CallForm, ResponseForm


def fields():
    return {
        "title": "A fine question",
        "description": "Long enough to be a real description.",
        "keywords": "sqlite",
    }


def test_the_form_itself_refuses_a_file_over_the_size_limit(make_audio, settings):
    data = make_audio(1.0)
    settings.CALLS_MAX_BYTES = len(data) - 1
    form = CallForm(fields(), {"audio": SimpleUploadedFile("a.wav", data)})
    assert not form.is_valid()
    assert form.errors["audio"][0].startswith("This recording is larger than the")


def test_an_unavailable_ffprobe_is_a_try_again_message_not_a_crash(make_audio, settings):
    settings.FFPROBE_BINARY = "/nonexistent/ffprobe"
    form = ResponseForm({}, {"audio": SimpleUploadedFile("a.wav", make_audio(1.0))})
    assert not form.is_valid()
    assert form.errors["audio"] == ["We could not check this recording just now. Please try again."]


def test_a_valid_form_cleans_to_a_recording(make_audio):
    form = CallForm(fields(), {"audio": SimpleUploadedFile("a", make_audio(1.0, kind="mp3"))})
    assert form.is_valid(), form.errors
    recording = form.cleaned_data["audio"]
    assert recording.mime_type == "audio/mpeg"
    assert recording.duration_seconds == pytest.approx(1.0, abs=0.1)


def test_keywords_are_limited_to_100_characters_as_they_are_stored(make_audio):
    # 100 characters as typed, but "ab, ab, ..." once stored: over the limit.
    typed = ",".join(["ab"] * 33) + ",a"
    assert len(typed) == 100
    data = {**fields(), "keywords": typed}
    form = CallForm(data, {"audio": SimpleUploadedFile("a.wav", make_audio(1.0))})
    assert not form.is_valid()
    assert "keep them to 100" in form.errors["keywords"][0]
