"""calls.models: durations for people, keywords, and reading parts of a recording in SQLite."""

import pytest

from calls.models import Call, Episode, clock, split_keywords


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "0:00"), (4.6, "0:05"), (65, "1:05"), (3723, "1:02:03")]
)
def test_clock_shows_durations_as_players_do(seconds, shown):
    assert clock(seconds) == shown


def test_split_keywords_drops_blanks_and_spaces():
    assert split_keywords(" sqlite,, litefs ,  ") == ["sqlite", "litefs"]


@pytest.mark.django_db
def test_blob_slice_reads_only_the_asked_bytes(reader):
    data = bytes(range(256)) * 8
    call = Call.objects.create(
        user=reader,
        title="t" * 5,
        description="d" * 20,
        keywords="kw",
        audio=data,
        audio_mime_type="audio/wav",
        duration_seconds=1,
    )
    rows = Call.objects.filter(pk=call.pk)
    assert rows.blob_slice("audio", start=0, length=10) == data[:10]
    assert rows.blob_slice("audio", start=2040, length=100) == data[2040:]
    assert rows.with_size("audio").get().audio_size == len(data)
    assert Call.objects.none().blob_slice("audio", start=0, length=1) is None


@pytest.mark.django_db
def test_episode_numbers_start_at_one():
    assert Episode.objects.next_number() == 1


def test_an_episode_title_without_latin_letters_still_has_a_slug():
    assert Episode(number=1, title="¿?").slug == "episode"
