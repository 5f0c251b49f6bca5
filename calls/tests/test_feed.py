"""/calls/rss.xml: the podcast feed, parsed as XML and checked for what directories require."""

import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"


def fetch_channel(client):
    response = client.get("/calls/rss.xml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/rss+xml")
    root = ET.fromstring(response.content)
    assert root.tag == "rss" and root.get("version") == "2.0"
    return root.find("channel")


def test_the_channel_has_the_itunes_tags(client, settings):
    settings.PODCAST_AUTHOR = "Litesite Radio"
    settings.PODCAST_CATEGORY = "Technology"
    channel = fetch_channel(client)
    assert channel.findtext("title") == "litesite calls"
    assert channel.findtext("link") == f"{settings.SITE_URL}/calls/"
    assert channel.findtext(f"{ITUNES}author") == "Litesite Radio"
    assert channel.find(f"{ITUNES}category").get("text") == "Technology"
    assert channel.findtext(f"{ITUNES}explicit") == "false"
    assert (
        channel.find(f"{ITUNES}image").get("href") == f"{settings.SITE_URL}/static/calls/cover.png"
    )
    assert channel.findtext("language") == "en"
    self_link = channel.find("{http://www.w3.org/2005/Atom}link")
    assert self_link.get("href") == f"{settings.SITE_URL}/calls/rss.xml"
    assert channel.find(f"{ITUNES}owner").findtext(f"{ITUNES}email") == "hello@localhost"


def test_the_cover_image_is_a_square_png_directories_accept(settings):
    data = (Path(settings.BASE_DIR) / "static/calls/cover.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == height and 1400 <= width <= 3000


def test_each_episode_is_an_item_with_an_enclosure_and_itunes_tags(client, make_episode, settings):
    first = make_episode(1, title="First call", seconds=2.0)
    make_episode(2, title="Second call", seconds=3.0, caller_name="Grace")
    items = fetch_channel(client).findall("item")
    assert [item.findtext("title") for item in items] == ["2. Second call", "1. First call"]
    item = items[1]
    enclosure = item.find("enclosure")
    assert enclosure.get("url") == f"{settings.SITE_URL}{first.get_audio_url()}"
    assert enclosure.get("length") == str(first.size_bytes)
    assert enclosure.get("type") == "audio/mpeg"
    assert item.findtext("link") == f"{settings.SITE_URL}{first.get_absolute_url()}"
    assert item.findtext(f"{ITUNES}duration") == "00:00:02"
    assert item.findtext(f"{ITUNES}episode") == "1"
    assert item.findtext(f"{ITUNES}explicit") == "false"
    assert item.findtext("guid") == f"{settings.SITE_URL}/calls/episode-1"
    assert item.find("guid").get("isPermaLink") == "false"
    assert item.findtext("pubDate")
    assert [category.text for category in item.findall("category")] == ["sqlite", "scaling"]
    assert item.findtext(f"{ITUNES}title") == "First call"
    assert items[0].findtext(f"{ITUNES}author") == "Grace"


def test_the_enclosure_url_serves_the_announced_length(client, make_episode, settings):
    make_episode(1)
    enclosure = fetch_channel(client).find("item/enclosure")
    response = client.get(enclosure.get("url").removeprefix(settings.SITE_URL))
    assert response.status_code == 200
    assert len(response.content) == int(enclosure.get("length"))


def test_an_empty_feed_is_still_valid(client):
    assert fetch_channel(client).findall("item") == []
