"""Public episode pages, /calls/ and /calls/<number>/<slug>/, and the seekable audio."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_the_index_lists_episodes_newest_first_with_players(client, make_episode):
    make_episode(1, title="First call")
    second = make_episode(2, title="Second call")
    response = client.get("/calls/")
    page = response.content.decode()
    assert response.status_code == 200
    assert page.index("Second call") < page.index("First call")
    assert f'src="{second.get_audio_url()}"' in page
    assert 'href="/calls/rss.xml"' in page


def test_the_index_without_episodes_invites_a_first_call(client):
    assert "Be the first to call in." in client.get("/calls/").content.decode()


def test_the_index_is_paginated(client, make_episode):
    for number in range(1, 23):
        make_episode(number, title=f"Episode title {number:02d}")
    first_page = client.get("/calls/").content.decode()
    second_page = client.get("/calls/?page=2").content.decode()
    assert "Episode title 22" in first_page and "Episode title 02" not in first_page
    assert "Episode title 02" in second_page and "Older episodes" in first_page


def test_an_episode_page_has_a_player_the_caller_and_the_description(client, make_episode):
    episode = make_episode(3, title="Does LiteFS fail over?", caller_name="Grace")
    assert episode.get_absolute_url() == "/calls/3/does-litefs-fail-over/"
    page = client.get(episode.get_absolute_url()).content.decode()
    assert "Does LiteFS fail over?" in page
    assert "Caller: Grace" in page
    assert (
        '<audio controls preload="metadata" src="/calls/3/does-litefs-fail-over/audio.mp3">' in page
    )
    assert "Ada asks whether one SQLite file is enough." in page


def test_an_old_slug_redirects_to_the_current_address(client, make_episode):
    make_episode(4, title="New title")
    response = client.get("/calls/4/old-title/")
    assert response.status_code == 301
    assert response.url == "/calls/4/new-title/"


def test_an_unknown_episode_is_not_found(client):
    assert client.get("/calls/99/nothing/").status_code == 404
    assert client.get("/calls/99/nothing/audio.mp3").status_code == 404


def test_the_audio_is_served_whole_as_mpeg(client, make_episode):
    episode = make_episode(5)
    response = client.get(episode.get_audio_url())
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/mpeg"
    assert response["Content-Length"] == str(episode.size_bytes)
    assert response["Accept-Ranges"] == "bytes"
    assert response.content == bytes(episode.audio)


def test_the_audio_serves_byte_ranges_for_seeking(client, make_episode):
    episode = make_episode(6)
    data = bytes(episode.audio)
    size = len(data)
    start = client.get(episode.get_audio_url(), headers={"range": "bytes=0-1023"})
    assert start.status_code == 206
    assert start["Content-Range"] == f"bytes 0-1023/{size}"
    assert start["Content-Length"] == "1024"
    assert start.content == data[:1024]
    tail = client.get(episode.get_audio_url(), headers={"range": "bytes=-100"})
    assert tail["Content-Range"] == f"bytes {size - 100}-{size - 1}/{size}"
    assert tail.content == data[-100:]
    middle = client.get(episode.get_audio_url(), headers={"range": f"bytes={size - 10}-"})
    assert middle.content == data[-10:]


def test_audio_deleted_while_it_is_being_fetched_is_not_found(client, make_episode):
    # The row goes away between the view's lookup and its read of the bytes, as when staff
    # delete the episode while a player fetches it: the read finds no row.
    episode = make_episode(10)

    def delete_before_the_read(execute, sql, params, many, context):
        if "SUBSTR" in sql.upper():
            type(episode).objects.filter(pk=episode.pk).delete()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(delete_before_the_read):
        response = client.get(episode.get_audio_url(), headers={"range": "bytes=0-99"})
    assert response.status_code == 404
    assert b"None" not in response.content


def test_a_range_past_the_end_gets_416(client, make_episode):
    episode = make_episode(7)
    response = client.get(
        episode.get_audio_url(), headers={"range": f"bytes={episode.size_bytes}-"}
    )
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{episode.size_bytes}"


def test_the_audio_answers_head_without_a_body(client, make_episode):
    episode = make_episode(8)
    response = client.head(episode.get_audio_url())
    assert response.status_code == 200
    assert response["Content-Length"] == str(episode.size_bytes)
    assert response.content == b""


def test_the_audio_address_survives_a_title_change(client, make_episode):
    episode = make_episode(9, title="Original")
    assert client.get("/calls/9/original/audio.mp3").status_code == 200
    episode.title = "Renamed"
    episode.save()
    assert client.get("/calls/9/original/audio.mp3").status_code == 200
