import datetime as dt
import email.utils
import json
import xml.etree.ElementTree as ET

import pytest

pytestmark = pytest.mark.django_db

SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


@pytest.fixture
def posts(posts_dir):
    posts_dir.write(
        "first-post",
        title="First & foremost",
        date=dt.date(2025, 1, 2),
        description="Ampersands <and> angle brackets",
        categories=["SQLite", "Django"],
    )
    posts_dir.write("second-post", date=dt.date(2025, 2, 3), body="No description here.")
    posts_dir.write("a-draft", date=dt.date(2025, 3, 1), draft=True)
    posts_dir.write("by-link", date=dt.date(2025, 3, 1), unlisted=True)
    return posts_dir


@pytest.mark.parametrize("path", ["/blog/rss.xml", "/blog/rss.xml/"])
def test_the_rss_feed_is_valid_xml_with_rfc_822_dates(client, posts, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/rss+xml")
    root = ET.fromstring(response.content)
    assert root.tag == "rss" and root.get("version") == "2.0"
    items = root.findall("channel/item")
    assert [item.findtext("title") for item in items] == ["Second Post", "First & foremost"]
    dates = [email.utils.parsedate_to_datetime(item.findtext("pubDate")) for item in items]
    assert dates[1].date() == dt.date(2025, 1, 2) and dates[1].tzinfo is not None
    first = items[1]
    assert first.findtext("link") == "http://testserver/blog/first-post/"
    assert first.findtext("description") == "Ampersands <and> angle brackets"
    assert [category.text for category in first.findall("category")] == ["SQLite", "Django"]
    # Without a description, the first paragraph stands in.
    assert items[0].findtext("description") == "No description here."


def test_the_sitemap_lists_pages_and_listed_posts(client, posts):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    urls = {
        url.findtext("s:loc", namespaces=SITEMAP_NS): url.findtext(
            "s:lastmod", namespaces=SITEMAP_NS
        )
        for url in root.findall("s:url", SITEMAP_NS)
    }
    assert urls == {
        "http://testserver/": None,
        "http://testserver/blog/": None,
        "http://testserver/blog/second-post/": "2025-02-03",
        "http://testserver/blog/first-post/": "2025-01-02",
    }


def test_blog_json_lists_published_posts(client, posts, settings):
    response = client.get("/blog.json")
    assert response.status_code == 200
    data = json.loads(response.content)
    assert [post["slug"] for post in data["posts"]] == ["second-post", "first-post"]
    first = data["posts"][1]
    assert first == {
        "slug": "first-post",
        "title": "First & foremost",
        "date": "2025-01-02",
        "url": settings.SITE_URL + "/blog/first-post/",
        "description": "Ampersands <and> angle brackets",
        "categories": ["SQLite", "Django"],
        "keywords": [],
        "reading_minutes": 1,
    }
