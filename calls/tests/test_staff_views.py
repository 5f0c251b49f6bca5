"""/calls/admin/: staff list pending calls, listen, save a response, publish or discard."""

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from calls import limits
from calls.models import Call, Episode

pytestmark = pytest.mark.django_db


def staff_urls(call):
    base = f"/calls/admin/{call.pk}"
    return {
        "get": ["/calls/admin/", f"{base}/", f"{base}/audio", f"{base}/response-audio"],
        "post": [f"{base}/response", f"{base}/publish", f"{base}/discard"],
    }


def test_readers_cannot_use_any_staff_page(reader_client, reader, make_call):
    call = make_call(reader, response_seconds=1.0)
    urls = staff_urls(call)
    for url in urls["get"]:
        assert reader_client.get(url).status_code == 403, url
    for url in urls["post"]:
        assert reader_client.post(url).status_code == 403, url
    assert Call.objects.filter(pk=call.pk).exists()
    assert not Episode.objects.exists()


def test_signed_out_visitors_are_sent_to_sign_in(client, reader, make_call):
    call = make_call(reader)
    for url in staff_urls(call)["get"]:
        response = client.get(url)
        assert response.status_code == 302
        assert "next=" in response.url


def test_staff_see_pending_calls_oldest_first_with_players(
    staff_client, reader, other_reader, make_call
):
    first = make_call(reader, title="The first question")
    make_call(other_reader, title="The second question", response_seconds=1.0)
    page = staff_client.get("/calls/admin/").content.decode()
    assert page.index("The first question") < page.index("The second question")
    assert f'src="/calls/admin/{first.pk}/audio"' in page
    assert "needs a response" in page
    assert "response ready" in page


def test_staff_can_hear_any_call(staff_client, reader, make_call):
    call = make_call(reader)
    response = staff_client.get(f"/calls/admin/{call.pk}/audio")
    assert response.status_code == 200
    assert response.content == bytes(call.audio)


def test_a_call_without_a_response_has_no_response_audio(staff_client, reader, make_call):
    call = make_call(reader)
    assert staff_client.get(f"/calls/admin/{call.pk}/response-audio").status_code == 404


def test_the_call_page_offers_recording_a_response_and_publishing(staff_client, reader, make_call):
    call = make_call(reader, title="Ask me anything")
    page = staff_client.get(f"/calls/admin/{call.pk}/").content.decode()
    assert "Ask me anything" in page
    assert "data-recorder" in page
    assert f'action="/calls/admin/{call.pk}/response"' in page
    assert "Save a response first." in page


def test_saving_a_response_keeps_it_on_the_call(staff_client, reader, make_call, make_audio):
    call = make_call(reader)
    data = make_audio(1.5, kind="mp3")
    response = staff_client.post(
        f"/calls/admin/{call.pk}/response",
        {"audio": SimpleUploadedFile("answer.webm", data, "audio/webm")},
    )
    assert response.status_code == 302
    call.refresh_from_db()
    assert bytes(call.response_audio) == data
    assert call.response_mime_type == "audio/mpeg"
    assert call.response_duration_seconds == pytest.approx(1.5, abs=0.1)
    heard = staff_client.get(
        f"/calls/admin/{call.pk}/response-audio", headers={"range": "bytes=0-9"}
    )
    assert heard.status_code == 206
    assert heard.content == data[:10]


def test_a_response_that_is_not_audio_is_refused(staff_client, reader, make_call):
    call = make_call(reader)
    response = staff_client.post(
        f"/calls/admin/{call.pk}/response",
        {"audio": SimpleUploadedFile("answer.mp3", b"just some words\n" * 40, "audio/mpeg")},
    )
    assert response.status_code == 400
    assert "This file is not an audio recording we can read." in response.content.decode()
    call.refresh_from_db()
    assert not call.has_response


def test_publishing_makes_the_next_episode_emails_the_caller_and_removes_the_call(
    staff_client, reader, make_call
):
    call = make_call(reader, title="Is SQLite web scale?", seconds=2.0, response_seconds=2.0)
    response = staff_client.post(f"/calls/admin/{call.pk}/publish", follow=True)
    episode = Episode.objects.get()
    assert response.redirect_chain[-1][0] == episode.get_absolute_url()
    assert "Published episode 1; Ada has been emailed." in response.content.decode()
    assert episode.title == "Is SQLite web scale?"
    assert episode.caller_name == "Ada"
    assert not Call.objects.filter(pk=call.pk).exists()
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]
    assert "http://127.0.0.1:8000/calls/1/is-sqlite-web-scale/" in mail.outbox[0].body


def test_publishing_without_a_response_is_refused(staff_client, reader, make_call):
    call = make_call(reader)
    response = staff_client.post(f"/calls/admin/{call.pk}/publish")
    assert response.status_code == 409
    assert "Record or upload a response before publishing" in response.content.decode()
    assert Call.objects.filter(pk=call.pk).exists()


def test_a_failed_ffmpeg_run_leaves_the_call_and_shows_the_reason(staff_client, reader, make_call):
    call = make_call(reader, response_seconds=1.0)
    Call.objects.filter(pk=call.pk).update(audio=b"garbage that ffmpeg cannot read")
    response = staff_client.post(f"/calls/admin/{call.pk}/publish")
    assert response.status_code == 422
    page = response.content.decode()
    assert "Publishing failed; the call is untouched." in page
    assert "Invalid data found when processing input" in page
    assert Call.objects.filter(pk=call.pk).exists()
    assert not Episode.objects.exists()
    assert mail.outbox == []


def test_discarding_a_call_deletes_it(staff_client, reader, make_call):
    call = make_call(reader, title="Spam, spam, spam")
    response = staff_client.post(f"/calls/admin/{call.pk}/discard", follow=True)
    assert not Call.objects.exists()
    assert "Discarded the call “Spam, spam, spam”." in response.content.decode()


def test_an_email_that_cannot_be_sent_is_shown_to_staff_and_nothing_is_published(
    staff_client, reader, make_call, settings
):
    settings.EMAIL_BACKEND = "calls.tests.test_publishing.FailingEmailBackend"
    call = make_call(reader, response_seconds=1.0)
    response = staff_client.post(f"/calls/admin/{call.pk}/publish")
    assert response.status_code == 502
    assert "the caller could not be emailed" in response.content.decode()
    assert Call.objects.filter(pk=call.pk).exists()
    assert not Episode.objects.exists()


def fill_the_disk_on_paper(settings):
    """A floor above all the free space there is: every recording would go under it."""
    settings.CALLS_MIN_FREE_DISK_BYTES = limits.free_disk_bytes() + 10 * 1024**3


def test_a_response_is_refused_with_507_while_the_disk_is_under_the_floor(
    staff_client, reader, make_call, make_audio, settings
):
    call = make_call(reader)
    fill_the_disk_on_paper(settings)
    response = staff_client.post(
        f"/calls/admin/{call.pk}/response",
        {"audio": SimpleUploadedFile("answer.mp3", make_audio(1.0, kind="mp3"), "audio/mpeg")},
    )
    assert response.status_code == 507
    assert "short of storage space" in response.content.decode()
    call.refresh_from_db()
    assert not call.has_response


def test_publishing_is_refused_with_507_before_ffmpeg_runs_while_the_disk_is_short(
    staff_client, reader, make_call, settings
):
    call = make_call(reader, response_seconds=1.0)
    fill_the_disk_on_paper(settings)
    settings.FFMPEG_BINARY = "/nonexistent/ffmpeg"  # had ffmpeg been run, this would say so
    response = staff_client.post(f"/calls/admin/{call.pk}/publish")
    assert response.status_code == 507
    assert "short of storage space" in response.content.decode()
    assert Call.objects.filter(pk=call.pk).exists()


@pytest.mark.parametrize(
    "failure",
    [
        "calls.tests.test_publishing.BrokenEmailBackend",  # a provider's API client, say
        "calls.tests.test_publishing.FailingEmailBackend",
    ],
)
def test_any_mail_failure_is_shown_to_staff_and_nothing_is_published(
    staff_client, reader, make_call, settings, failure
):
    settings.EMAIL_BACKEND = failure
    call = make_call(reader, response_seconds=1.0)
    response = staff_client.post(f"/calls/admin/{call.pk}/publish")
    assert response.status_code == 502
    page = response.content.decode()
    assert "Publishing failed; the call is untouched." in page
    assert "Nothing was published: the caller could not be emailed" in page
    assert Call.objects.filter(pk=call.pk).exists()
    assert not Episode.objects.exists()


def test_a_title_stored_with_a_line_break_is_reported_before_ffmpeg_runs(
    staff_client, reader, make_call, settings
):
    call = make_call(reader, response_seconds=1.0)
    Call.objects.filter(pk=call.pk).update(title="Hi\nBcc: x@example.com")  # from before checks
    settings.FFMPEG_BINARY = "/nonexistent/ffmpeg"
    response = staff_client.post(f"/calls/admin/{call.pk}/publish")
    assert response.status_code == 409
    assert (
        "Correct this call in the admin before publishing it "
        "(title: Keep this to one line: remove the line break.)"
    ) in response.content.decode()
    assert mail.outbox == []


def test_a_call_with_more_sound_than_its_stored_length_fails_with_a_message_to_staff(
    staff_client, reader, make_call, make_audio
):
    call = make_call(reader, response_seconds=1.0)
    # Stored before uploads were measured: a minute of sound, 0:02 on record.
    Call.objects.filter(pk=call.pk).update(audio=make_audio(60.0, kind="webm"))
    response = staff_client.post(f"/calls/admin/{call.pk}/publish")
    assert response.status_code == 422
    assert "hold more sound than their stored lengths say (0:03 together)" in (
        response.content.decode()
    )
    assert Call.objects.filter(pk=call.pk).exists()
    assert not Episode.objects.exists()
