"""The post page's read reporting and the index's search, in a real headless Chromium.

Reading takes time on two clocks: the browser's (the page's script counts the time the tab is
visible) and the server's (the read ticket's age). Neither is waited for: Playwright's clock
moves the page's time on, time-machine the server's (the live server runs in this process).
"""

import datetime as dt

import pytest
import time_machine
from playwright.sync_api import expect

from blog.models import PostRead

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

LONG_BODY = "\n\n".join(
    f"## Part {number}\n\n" + "A paragraph about replication and SQLite. " * 30
    for number in range(1, 13)
)


@pytest.fixture
def posts(posts_dir, settings):
    # About 2,500 words: 11 minutes' reading, of which 60% (400 s) must pass before a report.
    settings.BLOG_WORDS_PER_MINUTE = 230
    settings.BLOG_READ_THRESHOLD = 0.6
    posts_dir.write("long-read", title="A long read", date=dt.date(2025, 5, 1), body=LONG_BODY)
    posts_dir.write(
        "other-post", title="Podcasting notes", date=dt.date(2025, 4, 1), body="About ffmpeg."
    )
    return posts_dir


def marker(page, slug: str) -> str | None:
    """The card's read state; None when it shows none (the reader has read nothing yet)."""
    found = page.locator(f'li[data-slug="{slug}"] .read-marker')
    return found.get_attribute("data-read") if found.count() else None


@pytest.fixture
def server_clock():
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=True) as traveller:
        yield traveller


def wait_for_report(page) -> None:
    # A function, not an expression string: Playwright would eval() a string, which the site's
    # Content-Security-Policy forbids.
    page.wait_for_function(
        "() => document.querySelector('article.post').dataset.readReported === 'true'"
    )


def required_ms(page) -> int:
    return int(page.locator("article.post").get_attribute("data-required-ms"))


def read_for(page, server_clock, milliseconds: int) -> None:
    """Time passes for the reader: on the server, then in the page (whose timers fire)."""
    server_clock.shift(dt.timedelta(milliseconds=milliseconds))
    page.clock.fast_forward(milliseconds)


def test_reading_to_the_end_records_one_read_and_marks_the_post_read(page, posts, server_clock):
    page.clock.install()
    page.goto("/blog/")
    assert marker(page, "long-read") is None  # no read state before the first read
    assert page.get_by_label("Show").count() == 0  # nor a read/unread filter

    page.goto("/blog/long-read/")
    assert required_ms(page) > 60_000
    page.locator("#post-end").scroll_into_view_if_needed()
    read_for(page, server_clock, required_ms(page) // 2)
    assert page.locator("article.post").get_attribute("data-read-reported") is None
    assert not PostRead.objects.exists()  # not yet read for long enough

    read_for(page, server_clock, required_ms(page) // 2 + 1_000)
    wait_for_report(page)
    client_id = next(c["value"] for c in page.context.cookies() if c["name"] == "client_id")
    read = PostRead.objects.get()
    assert (read.post_slug, read.client_id, read.user_id) == ("long-read", client_id, None)

    page.goto("/blog/")
    assert marker(page, "long-read") == "true"
    assert marker(page, "other-post") == "false"
    expect(page.get_by_label("Show")).to_be_visible()

    # Reading it again the same week reports again, and still counts once.
    page.goto("/blog/long-read/")
    page.locator("#post-end").scroll_into_view_if_needed()
    read_for(page, server_clock, required_ms(page) + 1_000)
    wait_for_report(page)
    assert PostRead.objects.count() == 1
    assert "1 read" in page.locator(".read-count").inner_text()


def test_a_first_visit_whose_clock_runs_ahead_is_refused_then_counted_when_the_server_agrees(
    page, posts, server_clock
):
    page.clock.install()
    page.goto("/blog/long-read/")  # no client_id cookie before this page
    page.locator("#post-end").scroll_into_view_if_needed()
    page.clock.fast_forward(required_ms(page) + 1_000)  # only the browser's clock
    page.wait_for_function(
        "() => document.querySelector('article.post').dataset.readRefused === 'too-early'"
    )
    assert not PostRead.objects.exists()

    read_for(page, server_clock, required_ms(page))  # the script retries when told to
    wait_for_report(page)
    client_id = next(c["value"] for c in page.context.cookies() if c["name"] == "client_id")
    assert PostRead.objects.get().client_id == client_id


def test_searching_from_the_index(page, posts):
    page.goto("/blog/")
    page.get_by_label("Search posts").fill("ffmpeg")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/blog/?q=ffmpeg*")
    cards = page.locator("li.post-card")
    assert cards.count() == 1
    assert cards.first.get_attribute("data-slug") == "other-post"
    assert page.locator("li.post-card mark").first.inner_text().lower() == "ffmpeg"
