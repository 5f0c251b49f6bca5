"""/me: the reader's post reads, which the blog renders into the accounts profile."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from accounts.models import Role
from blog.reads import READS_LISTED
from testing.fixtures import add_read, new_client_id

pytestmark = pytest.mark.django_db


def signed_in(client, user):
    client.force_login(user)
    return client


def listed(html: str) -> list[str]:
    """The text of each read on the profile, tags and the date left out."""
    found = re.search(r'<ol class="read-list">(.*?)</ol>', html, re.DOTALL)
    items = re.findall(r"<li>(.*?)<time", found.group(1) if found else "", re.DOTALL)
    return [re.sub(r"<[^>]+>", "", item).strip() for item in items]


def test_the_reads_are_listed_newest_first_by_title_with_links(client, posts_dir, make_user):
    posts_dir.write("older-post", title="An Older Post")
    posts_dir.write("newer-post", title="A Newer Post")
    reader = make_user()
    now = timezone.now()
    add_read(slug="older-post", user=reader, at=now - dt.timedelta(days=3))
    add_read(slug="newer-post", user=reader, at=now)
    add_read(slug="newer-post", client_id=new_client_id(), at=now)
    add_read(slug="not-mine", user=make_user(), at=now)

    html = signed_in(client, reader).get("/me").content.decode()
    assert listed(html) == ["A Newer Post", "An Older Post"]
    assert html.index('href="/blog/newer-post/"') < html.index('href="/blog/older-post/"')
    assert "not-mine" not in html
    assert "2 posts read" in html


def test_a_post_that_no_longer_exists_is_shown_by_its_slug_without_a_link(
    client, posts_dir, make_user
):
    reader = make_user()
    add_read(slug="gone-post", user=reader, at=timezone.now())
    html = signed_in(client, reader).get("/me").content.decode()
    assert listed(html) == ["gone-post (no longer published)"]
    assert 'href="/blog/gone-post/"' not in html


def test_a_post_back_in_draft_shows_its_title_to_staff_only(client, posts_dir, make_user):
    posts_dir.write("reworked", title="Being Reworked", draft=True)
    reader, staff = make_user(), make_user(role=Role.ADMIN)
    for user in (reader, staff):
        add_read(slug="reworked", user=user, at=timezone.now())
    assert listed(signed_in(client, reader).get("/me").content.decode()) == [
        "reworked (no longer published)"
    ]
    assert listed(signed_in(client, staff).get("/me").content.decode()) == ["Being Reworked"]


def test_only_the_latest_reads_are_listed_with_the_total(client, posts_dir, make_user):
    reader = make_user()
    now = timezone.now()
    for number in range(READS_LISTED + 2):
        add_read(slug=f"post-{number}", user=reader, at=now - dt.timedelta(minutes=number))
    html = signed_in(client, reader).get("/me").content.decode()
    assert f"{READS_LISTED + 2} posts read; the latest {READS_LISTED} are listed" in html
    assert len(listed(html)) == READS_LISTED
    assert listed(html)[0] == "post-0 (no longer published)"


def test_a_reader_without_reads_is_pointed_to_the_blog(client, make_user):
    assert b"None yet." in signed_in(client, make_user()).get("/me").content


def test_the_reads_stay_on_a_profile_form_sent_back_with_errors(client, posts_dir, make_user):
    posts_dir.write("a-post", title="A Post")
    reader = make_user()
    add_read(slug="a-post", user=reader, at=timezone.now())
    response = signed_in(client, reader).post("/me", {"first_name": ""})
    assert response.status_code == 400
    assert listed(response.content.decode()) == ["A Post"]
