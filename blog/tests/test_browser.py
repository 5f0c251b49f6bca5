"""The post page's read reporting and the index's search, in a real headless Chromium."""

import datetime as dt

import pytest

from blog.models import PostRead
from blog.tests.conftest import BOTH_DATABASES

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=BOTH_DATABASES),
]

LONG_BODY = "\n\n".join(
    f"## Part {number}\n\n" + "A paragraph about replication and SQLite. " * 30
    for number in range(1, 13)
)


@pytest.fixture
def posts(posts_dir, settings):
    # The estimated reading time shrinks to almost nothing: the test waits for the end of the
    # article to come into view, not for minutes to pass.
    settings.BLOG_WORDS_PER_MINUTE = 1_000_000
    posts_dir.write("long-read", title="A long read", date=dt.date(2025, 5, 1), body=LONG_BODY)
    posts_dir.write(
        "other-post", title="Podcasting notes", date=dt.date(2025, 4, 1), body="About ffmpeg."
    )
    return posts_dir


def marker(page, slug: str) -> str:
    return page.locator(f'li[data-slug="{slug}"] .read-marker').get_attribute("data-read")


def wait_for_report(page) -> None:
    # A function, not an expression string: Playwright would eval() a string, which the site's
    # Content-Security-Policy forbids.
    page.wait_for_function(
        "() => document.querySelector('article.post').dataset.readReported === 'true'"
    )


def test_reading_to_the_end_records_one_read_and_marks_the_post_read(page, posts):
    page.goto("/blog/")
    assert marker(page, "long-read") == "false"

    page.goto("/blog/long-read/")
    assert page.locator("article.post").get_attribute("data-read-reported") is None
    assert not PostRead.objects.exists()  # the end of the article has not been seen yet

    page.locator("#post-end").scroll_into_view_if_needed()
    wait_for_report(page)
    client_id = next(c["value"] for c in page.context.cookies() if c["name"] == "client_id")
    read = PostRead.objects.get()
    assert (read.post_slug, read.client_id, read.user_id) == ("long-read", client_id, None)

    page.goto("/blog/")
    assert marker(page, "long-read") == "true"
    assert marker(page, "other-post") == "false"

    # Reading it again the same week reports again, and still counts once.
    page.goto("/blog/long-read/")
    page.locator("#post-end").scroll_into_view_if_needed()
    wait_for_report(page)
    assert PostRead.objects.count() == 1
    assert "1 read" in page.locator(".read-count").inner_text()


def test_searching_from_the_index(page, posts):
    page.goto("/blog/")
    page.get_by_label("Search posts").fill("ffmpeg")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/blog/?q=ffmpeg*")
    cards = page.locator("li.post-card")
    assert cards.count() == 1
    assert cards.first.get_attribute("data-slug") == "other-post"
    assert page.locator("li.post-card mark").first.inner_text().lower() == "ffmpeg"
