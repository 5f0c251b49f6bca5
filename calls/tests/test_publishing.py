"""calls.publishing: ffmpeg first, then one transaction for episode, email and deleting the call."""

import pytest
from django.core import mail

from calls import audio
from calls.models import Call, Episode
from calls.publishing import (
    CallerNotEmailed,
    CannotPublish,
    episode_email_subject,
    publish_call,
)
from calls.tests.media import ffprobe_duration

pytestmark = pytest.mark.django_db


def test_publishing_stores_the_assembled_mp3_and_its_facts(reader, make_call, tmp_path, settings):
    settings.CALLS_INTRO_PATH = settings.CALLS_OUTRO_PATH = ""
    call = make_call(reader, seconds=2.0, response_seconds=3.0, keywords="sqlite, fly")
    episode = publish_call(call=call)
    episode.refresh_from_db()
    data = bytes(episode.audio)
    assert episode.number == 1
    assert episode.audio_mime_type == "audio/mpeg"
    assert episode.size_bytes == len(data)
    expected = 2 * audio.DEFAULT_CLIP_SECONDS + 2.0 + 3.0
    assert episode.duration_seconds == pytest.approx(expected, abs=0.25)
    assert ffprobe_duration(data, tmp_path) == pytest.approx(expected, abs=0.25)
    assert (episode.title, episode.keywords, episode.caller_name) == (
        call.title,
        "sqlite, fly",
        "Ada",
    )


def test_episode_numbers_follow_the_highest(reader, make_call):
    Episode.objects.create(
        number=7,
        title="Old",
        description="d" * 20,
        keywords="k",
        published_at="2026-01-01T00:00Z",
        audio=b"x",
        duration_seconds=1,
        size_bytes=1,
        caller_name="Old caller",
    )
    assert publish_call(call=make_call(reader, response_seconds=1.0)).number == 8


def test_the_email_links_to_the_episode(reader, make_call, settings):
    settings.SITE_URL = "https://example.com"
    episode = publish_call(call=make_call(reader, title="Do replicas write?", response_seconds=1.0))
    (message,) = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == "Your call is on the air: episode 1, “Do replicas write?”"
    assert f"https://example.com{episode.get_absolute_url()}" in message.body
    assert message.body.startswith("Hi Ada,")


def test_if_the_email_fails_nothing_is_published(reader, make_call, settings):
    settings.EMAIL_BACKEND = "calls.tests.test_publishing.FailingEmailBackend"
    call = make_call(reader, response_seconds=1.0)
    with pytest.raises(CallerNotEmailed) as raised:
        publish_call(call=call)
    assert isinstance(raised.value.__cause__, ConnectionRefusedError)
    assert Call.objects.filter(pk=call.pk).exists()
    assert not Episode.objects.exists()


def test_a_call_changed_while_ffmpeg_ran_is_not_published(reader, make_call):
    call = make_call(reader, response_seconds=1.0)
    stale = Call.objects.get(pk=call.pk)
    call.title = "Edited meanwhile"
    call.save()
    with pytest.raises(CannotPublish, match="changed"):
        publish_call(call=stale)
    assert not Episode.objects.exists()
    assert mail.outbox == []


def test_a_failed_ffmpeg_run_changes_nothing(reader, make_call, settings):
    settings.FFMPEG_BINARY = "/nonexistent/ffmpeg"
    call = make_call(reader, response_seconds=1.0)
    with pytest.raises(audio.AudioProcessingError):
        publish_call(call=call)
    assert Call.objects.filter(pk=call.pk).exists()
    assert not Episode.objects.exists()


def test_the_email_subject_is_one_line_whatever_the_title_holds():
    subject = episode_email_subject(Episode(number=3, title="Hi\r\nBcc: x@example.com\x0b!"))
    assert subject == "Your call is on the air: episode 3, “Hi Bcc: x@example.com !”"


def test_a_title_with_a_line_break_is_refused_before_ffmpeg_runs(reader, make_call, settings):
    call = make_call(reader, response_seconds=1.0)
    Call.objects.filter(pk=call.pk).update(title="Hi\nBcc: x@example.com")
    call.refresh_from_db()
    settings.FFMPEG_BINARY = "/nonexistent/ffmpeg"  # ffmpeg running first would raise otherwise
    with pytest.raises(CannotPublish, match=r"title: Keep this to one line"):
        publish_call(call=call)
    assert mail.outbox == []


def test_an_address_no_mail_server_would_take_is_refused_before_ffmpeg_runs(
    reader, make_call, settings
):
    type(reader).objects.filter(pk=reader.pk).update(email="ada@example.com\nBcc: x@example.com")
    call = Call.objects.select_related("user").get(pk=make_call(reader, response_seconds=1.0).pk)
    settings.FFMPEG_BINARY = "/nonexistent/ffmpeg"
    with pytest.raises(CannotPublish, match="The email to the caller cannot be sent"):
        publish_call(call=call)


def test_any_exception_from_the_mail_backend_is_reported_and_publishes_nothing(
    reader, make_call, settings
):
    settings.EMAIL_BACKEND = "calls.tests.test_publishing.BrokenEmailBackend"
    call = make_call(reader, response_seconds=1.0)
    with pytest.raises(CallerNotEmailed, match="the caller could not be emailed"):
        publish_call(call=call)
    assert Call.objects.filter(pk=call.pk).exists()
    assert not Episode.objects.exists()


def test_a_caller_name_with_control_characters_does_not_break_the_feed(reader, make_call, client):
    type(reader).objects.filter(pk=reader.pk).update(first_name="Ada\x0b")
    call = Call.objects.select_related("user").get(pk=make_call(reader, response_seconds=1.0).pk)
    episode = publish_call(call=call)
    assert episode.caller_name == "Ada"
    feed = client.get("/calls/rss.xml")
    assert feed.status_code == 200
    assert b"Ada" in feed.content


class BrokenEmailBackend:
    """A mail backend failing in its own way, neither SMTP nor the network."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise RuntimeError("mail provider answered 500: upstream unavailable")


class FailingEmailBackend:
    """An email server that refuses the connection: the one thing outside the machine."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP server refused the connection")
