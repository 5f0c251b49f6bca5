"""The whole call-in flow in real headless Chromium with its fake microphone.

A reader records a call and sends it; it shows under "My calls". Staff record a response and
publish; the episode is on the episodes page and in the podcast feed.
"""

import re
import xml.etree.ElementTree as ET

import pytest
from playwright.sync_api import expect

from calls.models import Call, CallUpload, Episode
from testing.browser import focused, plays, sign_in, tab_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def record(page, *, seconds: int):
    """Pick the fake microphone, record for a few seconds and stop, checking timer and meter."""
    recorder = page.locator("[data-recorder]")
    expect(recorder).to_be_visible()
    page.get_by_role("button", name="Start recording").click()
    expect(page.get_by_role("button", name="Stop")).to_be_enabled()
    # The fake device beeps; the meter must move while it does.
    # Functions, not expression strings: Playwright would eval() a string, which the site's
    # Content-Security-Policy forbids.
    page.wait_for_function("() => document.querySelector('[data-level]').value > 0.05")
    page.wait_for_function(
        f"() => document.querySelector('[data-timer]').textContent >= '0:{seconds:02d}'"
    )
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("[data-playback]")).to_be_visible()
    expect(page.get_by_role("button", name="Record again")).to_be_visible()
    expect(page.locator("[data-status]")).to_contain_text("Listen back")
    # Listening back works: the recorded blob plays in the page's own player.
    assert plays(page, "[data-playback]") is True


def test_a_reader_records_a_call_and_staff_publish_it(
    page, live_server, reader, staff_user, open_page
):
    sign_in(page, live_server, reader)
    page.goto("/calls/record/")
    page.get_by_label("Title").fill("Can SQLite replace Redis?")
    page.get_by_label("Description").fill("We cache everything in Redis today. Could SQLite do it?")
    page.get_by_label("Keywords").fill("sqlite, caching")

    record(page, seconds=2)
    microphones = page.locator("[data-microphone] option")
    assert microphones.count() >= 2  # "Default" plus the fake device, named once allowed

    with page.expect_response(re.compile(r"/calls/record/$")) as submitted:
        page.get_by_role("button", name="Send my call").click()
    assert submitted.value.status == 201
    page.wait_for_url(re.compile(r"/calls/record/[0-9a-f-]{36}/$"))
    expect(page.get_by_role("heading", name="Can SQLite replace Redis?")).to_be_visible()

    call = Call.objects.get()
    assert call.user == reader
    assert call.audio_mime_type in ("audio/webm", "audio/ogg")
    assert call.duration_seconds >= 1.5

    page.goto("/calls/record/")
    my_calls = page.locator(".my-calls")
    expect(my_calls.get_by_role("link", name="Can SQLite replace Redis?")).to_be_visible()

    staff_page = open_page()
    sign_in(staff_page, live_server, staff_user)
    staff_page.goto("/calls/admin/")
    staff_page.get_by_role("link", name="Can SQLite replace Redis?").click()
    record(staff_page, seconds=2)
    staff_page.get_by_role("button", name="Save response").click()
    expect(staff_page.locator("[data-response-player]")).to_be_visible()

    staff_page.get_by_role("button", name="Publish as the next episode").click()
    staff_page.wait_for_url(re.compile(r"/calls/1/can-sqlite-replace-redis/$"), timeout=60_000)
    expect(staff_page.get_by_text("Published episode 1")).to_be_visible()
    assert not Call.objects.exists()
    assert Episode.objects.get().caller_name == reader.first_name

    page.goto("/calls/")
    expect(page.get_by_role("link", name="1. Can SQLite replace Redis?")).to_be_visible()
    feed = ET.fromstring(page.request.get("/calls/rss.xml").body())
    assert feed.findtext("channel/item/title") == "1. Can SQLite replace Redis?"


def test_the_recorder_shows_the_servers_errors_next_to_the_fields(page, live_server, reader):
    sign_in(page, live_server, reader)
    page.goto("/calls/record/")
    page.get_by_label("Title").fill("Hi")
    record(page, seconds=1)
    page.get_by_role("button", name="Send my call").click()
    expect(page.locator('[data-errors-for="title"]')).to_contain_text("at least 5 characters")
    expect(page.locator('[data-errors-for="description"]')).to_contain_text(
        "This field is required."
    )
    # The recording is kept for the next try.
    expect(page.locator("[data-playback]")).to_be_visible()
    assert not Call.objects.exists()


def test_the_upload_form_works_without_javascript(
    open_page, live_server, reader, make_audio, tmp_path
):
    page = open_page(java_script_enabled=False)
    sign_in(page, live_server, reader)
    page.goto("/calls/record/")
    expect(page.locator("[data-recorder]")).to_be_hidden()
    page.get_by_label("Title").fill("Uploaded, not recorded")
    page.get_by_label("Description").fill("My browser has no microphone, so here is a file.")
    page.get_by_label("Keywords").fill("upload")
    audio_file = tmp_path / "question.ogg"
    audio_file.write_bytes(make_audio(1.0, kind="ogg"))
    page.get_by_label("Or upload an audio file").set_input_files(str(audio_file))
    page.get_by_role("button", name="Send my call").click()
    page.wait_for_url(re.compile(r"/calls/record/[0-9a-f-]{36}/$"))
    assert Call.objects.get().title == "Uploaded, not recorded"


def primary_instance(request):
    """Stands in for the replication layer's context: this node is a replica of e784079b1d4e86."""
    return {"PRIMARY_INSTANCE_ID": "e784079b1d4e86"}


def test_the_upload_goes_straight_to_the_primary_on_a_replica(
    page, live_server, reader, make_audio, tmp_path, settings
):
    engine = settings.TEMPLATES[0]
    processors = [*engine["OPTIONS"]["context_processors"], f"{__name__}.primary_instance"]
    settings.TEMPLATES = [
        {**engine, "OPTIONS": {**engine["OPTIONS"], "context_processors": processors}}
    ]
    sign_in(page, live_server, reader)
    page.goto("/calls/record/")
    page.get_by_label("Title").fill("Chosen, then sent by script")
    page.get_by_label("Description").fill("A file picked in the form, sent by the recorder script.")
    page.get_by_label("Keywords").fill("fly, replay")
    audio_file = tmp_path / "question.mp3"
    audio_file.write_bytes(make_audio(1.0, kind="mp3"))
    page.get_by_label("Or upload an audio file").set_input_files(str(audio_file))
    with page.expect_request(re.compile(r"/calls/record/$")) as sent:
        page.get_by_role("button", name="Send my call").click()
    assert sent.value.method == "POST"
    assert sent.value.headers["fly-force-instance-id"] == "e784079b1d4e86"
    page.wait_for_url(re.compile(r"/calls/record/[0-9a-f-]{36}/$"))
    assert Call.objects.get().audio_mime_type == "audio/mpeg"


def test_without_a_primary_the_header_is_not_sent(page, live_server, reader, make_audio, tmp_path):
    sign_in(page, live_server, reader)
    page.goto("/calls/record/")
    page.get_by_label("Title").fill("Standalone site")
    page.get_by_label("Description").fill("No LiteFS here, so no header is needed at all.")
    page.get_by_label("Keywords").fill("standalone")
    audio_file = tmp_path / "question.wav"
    audio_file.write_bytes(make_audio(1.0))
    page.get_by_label("Or upload an audio file").set_input_files(str(audio_file))
    with page.expect_request(re.compile(r"/calls/record/$")) as sent:
        page.get_by_role("button", name="Send my call").click()
    assert "fly-force-instance-id" not in sent.value.headers
    page.wait_for_url(re.compile(r"/calls/record/[0-9a-f-]{36}/$"))


def test_recording_stops_by_itself_at_the_time_limit(page, live_server, reader, settings):
    settings.CALLS_MAX_SECONDS = 2
    sign_in(page, live_server, reader)
    page.goto("/calls/record/")
    page.get_by_role("button", name="Start recording").click()
    expect(page.locator("[data-playback]")).to_be_visible()
    expect(page.locator("[data-status]")).to_contain_text("0:02 limit, so recording stopped")
    expect(page.get_by_role("button", name="Stop")).to_be_disabled()


def test_the_recorder_shows_why_a_limit_refused_the_recording(
    page, live_server, reader, make_audio, tmp_path, settings
):
    settings.CALLS_DAILY_BYTES_PER_READER = 200 * 1024
    CallUpload.objects.create(user=reader, size_bytes=150 * 1024)  # sent earlier today
    sign_in(page, live_server, reader)
    page.goto("/calls/record/")
    expect(page.locator("[data-limits]")).to_contain_text("50.0 KB left for now")
    page.get_by_label("Title").fill("Over today's budget")
    page.get_by_label("Description").fill("A recording larger than what is left for today.")
    page.get_by_label("Keywords").fill("limits")
    audio_file = tmp_path / "question.wav"
    audio_file.write_bytes(make_audio(1.0))  # 94 KB
    page.get_by_label("Or upload an audio file").set_input_files(str(audio_file))
    with page.expect_response(re.compile(r"/calls/record/$")) as answered:
        page.get_by_role("button", name="Send my call").click()
    assert answered.value.status == 429
    errors = page.locator('[data-errors-for="__all__"]')
    expect(errors).to_contain_text("A reader may send 200.0 KB of recordings in 24 hours")
    expect(errors).to_contain_text("You can send this one (93.8 KB) after")
    expect(page.get_by_label("Title")).to_have_value("Over today's budget")
    assert not Call.objects.exists()


def test_a_call_is_recorded_and_sent_with_the_keyboard_alone(page, live_server, reader):
    """Tab, Space and Enter only. Start and Stop hand the focus on as they switch off, so it is
    never dropped on the page: Start to Stop, Stop to the listen-back player."""
    sign_in(page, live_server, reader)
    page.goto("/calls/record/")
    expect(page.locator("[data-recorder]")).to_be_visible()
    stops = tab_to(page, "title")
    page.keyboard.type("Asked without a mouse")
    stops += tab_to(page, "description", limit=1)
    page.keyboard.type("Can every part of the recorder be used from the keyboard?")
    stops += tab_to(page, "keywords", limit=1)
    page.keyboard.type("keyboard, a11y")
    stops += tab_to(page, "Start recording", limit=3)

    page.keyboard.press("Space")
    page.wait_for_function("() => document.querySelector('[data-timer]').textContent >= '0:02'")
    stops.append(focused(page))
    assert stops[-1]["name"] == "Stop"
    page.keyboard.press("Space")
    expect(page.locator("[data-playback]")).to_be_visible()
    assert focused(page)["tag"] == "audio"
    # Tab on once the player has loaded the recording: Chromium lays its own controls out again
    # then, and a Tab taken inside the old ones was seen, once on a loaded machine, to land on the
    # page. The listed stops say where the focus went should a stop lack its ring.
    page.wait_for_function("() => document.querySelector('[data-playback]').readyState >= 1")

    stops += tab_to(page, "Send my call")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/calls/record/[0-9a-f-]{36}/$"))
    assert Call.objects.get().title == "Asked without a mouse"
    # Every stop draws its focus ring (media players draw their own).
    unringed = [
        (number, stop["tag"], stop["name"][:40])
        for number, stop in enumerate(stops)
        if not stop["ring"] and stop["tag"] != "audio"
    ]
    assert unringed == [], [(stop["tag"], stop["name"][:40]) for stop in stops]
