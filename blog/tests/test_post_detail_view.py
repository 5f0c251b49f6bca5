import datetime as dt
import logging
import re
import threading

import pytest
import time_machine

from accounts.models import Role, Team
from blog import compiler
from testing.fixtures import add_read, new_client_id

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
BODY = """
Intro paragraph.

## Getting started

Some text.[^1]

```python
print("hi")
```

## Going further

More text.

[^1]: A footnote.
"""


@pytest.fixture
def posts(posts_dir):
    posts_dir.write(
        "main-post",
        title="The Main Post",
        date=dt.date(2025, 3, 1),
        categories=["SQLite"],
        keywords=["wal"],
        body=BODY,
    )
    posts_dir.write("related", date=dt.date(2025, 2, 1), categories=["SQLite"])
    posts_dir.write("also-related", date=dt.date(2025, 1, 1), keywords=["wal"])
    posts_dir.write("unrelated-new", date=dt.date(2025, 4, 1))
    posts_dir.write("unrelated-old", date=dt.date(2020, 1, 1))
    posts_dir.write("draft-one", date=dt.date(2025, 5, 1), categories=["SQLite"], draft=True)
    posts_dir.write("hidden-one", date=dt.date(2025, 5, 1), categories=["SQLite"], unlisted=True)
    return posts_dir


def recommended_slugs(response) -> list[str]:
    section = response.content.decode().split('id="next-title"', 1)[1]
    return re.findall(r'href="/blog/([a-z0-9-]+)/"', section)


def test_a_post_shows_title_date_reading_time_toc_and_content(client, posts):
    response = client.get("/blog/main-post/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>The Main Post</h1>" in html
    assert '<time datetime="2025-03-01">1 March 2025</time>' in html
    assert "1 min read" in html
    assert '<a href="#getting-started">Getting started</a>' in html
    assert '<h2 id="getting-started">' in html
    assert '<span class="nb">print</span>' in html
    assert "A footnote." in html
    assert "0 reads" in html


def test_the_post_page_loads_its_own_code_stylesheet_and_reporting_script(client, posts):
    html = client.get("/blog/main-post/").content.decode()
    assert "/static/blog/pygments.css" in html
    assert "/static/js/post.js" in html
    assert 'data-mark-read-url="/blog/main-post/mark-read"' in html


def test_reading_time_follows_the_words_per_minute_setting(client, posts_dir, settings):
    posts_dir.write("long-one", body="word " * 1000)
    settings.BLOG_WORDS_PER_MINUTE = 200
    assert "5 min read" in client.get("/blog/long-one/").content.decode()
    settings.BLOG_WORDS_PER_MINUTE = 100
    assert "10 min read" in client.get("/blog/long-one/").content.decode()


def test_the_required_reading_time_is_the_threshold_share_of_the_estimate(
    client, posts_dir, settings
):
    posts_dir.write("timed", body="word " * 460)
    settings.BLOG_WORDS_PER_MINUTE = 230
    settings.BLOG_READ_THRESHOLD = 0.6
    html = client.get("/blog/timed/").content.decode()
    assert 'data-required-ms="72000"' in html  # 2 minutes x 60%


def test_recommendations_prefer_related_posts_and_skip_drafts_unlisted_and_read(client, posts):
    assert recommended_slugs(client.get("/blog/main-post/")) == [
        "related",
        "also-related",
        "unrelated-new",
    ]
    client.cookies["client_id"] = client_id = new_client_id()
    add_read(slug="related", client_id=client_id, at=NOW)
    assert recommended_slugs(client.get("/blog/main-post/")) == [
        "also-related",
        "unrelated-new",
        "unrelated-old",
    ]


@time_machine.travel(NOW, tick=False)
def test_the_leading_teams_colour_is_the_posts_accent(client, posts, make_user):
    html = client.get("/blog/main-post/").content.decode()
    assert 'class="post"' in html  # nobody leads yet
    add_read(slug="main-post", user=make_user(Team.YELLOW), at=NOW)
    add_read(slug="main-post", client_id=new_client_id(), at=NOW)
    html = client.get("/blog/main-post/").content.decode()
    assert 'class="post accent-yellow"' in html
    assert "2 reads" in html
    assert re.search(r'team-row-yellow is-leader">\s*<th scope="row">', html)


def test_drafts_are_hidden_from_readers_in_production(client, posts, make_user):
    assert client.get("/blog/draft-one/").status_code == 404
    client.force_login(make_user())
    assert client.get("/blog/draft-one/").status_code == 404


def test_drafts_are_shown_to_staff_without_the_reporting_script(client, posts, make_user):
    staff = make_user(role=Role.ADMIN)
    client.force_login(staff)
    response = client.get("/blog/draft-one/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Draft — not public" in html
    assert "data-mark-read-url" not in html and "post.js" not in html


def test_drafts_are_shown_in_development(client, posts, settings):
    settings.DEBUG = True
    assert client.get("/blog/draft-one/").status_code == 200


def test_unlisted_posts_open_by_their_link(client, posts):
    assert client.get("/blog/hidden-one/").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/blog/Main-Post/",
        "/blog/main_post/",
        "/blog/main-post./",
        "/blog/..%2F..%2Fetc%2Fpasswd/",
        "/blog/%2e%2e/",
        "/blog/main-post%00/",
        "/blog/nope/",
    ],
)
def test_anything_but_an_existing_slug_is_not_found(client, posts, path):
    assert client.get(path).status_code == 404


def test_the_address_without_a_trailing_slash_redirects(client, posts):
    response = client.get("/blog/main-post")
    assert response.status_code == 301 and response["Location"] == "/blog/main-post/"


def test_a_post_that_cannot_compile_in_time_shows_a_notice_and_the_site_carries_on(
    client, posts, settings, monkeypatch, caplog
):
    gate = threading.Event()
    real = compiler.compile_markdown

    def slow_for_main_post(body, *, base_url):
        if base_url == "/blog/main-post/":
            gate.wait()
        return real(body, base_url=base_url)

    monkeypatch.setattr(compiler, "compile_markdown", slow_for_main_post)
    settings.BLOG_COMPILE_TIMEOUT = 0.1
    try:
        with caplog.at_level(logging.ERROR, logger="blog.content"):
            response = client.get("/blog/main-post/")
        assert response.status_code == 503
        assert "could not be shown right now" in response.content.decode()
        assert "main-post could not be compiled" in caplog.text
        assert client.get("/blog/related/").status_code == 200
        assert client.get("/blog/").status_code == 200
    finally:
        gate.set()


def test_a_post_page_makes_a_bounded_number_of_queries(
    client, posts, make_user, django_assert_max_num_queries
):
    user = make_user()
    for slug in ("related", "unrelated-new", "also-related"):
        add_read(slug=slug, user=user, at=NOW)
    client.force_login(user)
    client.get("/blog/main-post/")  # fills the caches
    # Session, user, their read slugs, and the latest read and standings version that the
    # cached standings are checked by.
    with django_assert_max_num_queries(5):
        assert client.get("/blog/main-post/").status_code == 200


def test_head_requests_are_answered_like_get(client, posts):
    response = client.head("/blog/main-post/")
    assert response.status_code == 200 and response.content == b""
