import datetime as dt
import re

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from testing.fixtures import add_read, new_client_id

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)


def listed_slugs(response) -> list[str]:
    return re.findall(r'class="post-card[^"]*" data-slug="([a-z0-9-]+)"', response.content.decode())


def read_markers(response) -> dict[str, str]:
    html = response.content.decode()
    cards = re.findall(r'data-slug="([a-z0-9-]+)".*?data-read="(true|false)"', html, re.DOTALL)
    return dict(cards)


@pytest.fixture
def posts(posts_dir):
    posts_dir.write(
        "sqlite-wal",
        title="WAL mode explained",
        date=dt.date(2025, 3, 1),
        categories=["SQLite"],
        keywords=["journal"],
        body="Write-ahead logging lets readers carry on while a writer appends.",
    )
    posts_dir.write(
        "litefs-intro",
        title="LiteFS in practice",
        date=dt.date(2025, 2, 1),
        categories=["LiteFS"],
        description="Replication of SQLite files",
        body="A FUSE file system ships pages to replicas.",
    )
    posts_dir.write(
        "podcasting",
        title="Recording calls",
        date=dt.date(2025, 1, 1),
        categories=["Podcasting"],
        body="ffmpeg and MediaRecorder. We mention replication once.",
    )
    posts_dir.write("a-draft", date=dt.date(2025, 6, 1), draft=True, body="replication draft")
    posts_dir.write("by-link", date=dt.date(2025, 6, 1), unlisted=True, body="replication secret")
    return posts_dir


def test_the_index_lists_published_posts_newest_first(client, posts):
    response = client.get("/blog/")
    assert response.status_code == 200
    assert listed_slugs(response) == ["sqlite-wal", "litefs-intro", "podcasting"]


def test_the_index_is_paginated(client, posts, settings):
    settings.BLOG_POSTS_PER_PAGE = 2
    first = client.get("/blog/")
    assert listed_slugs(first) == ["sqlite-wal", "litefs-intro"]
    assert "Page 1 of 2" in first.content.decode()
    assert listed_slugs(client.get("/blog/?page=2")) == ["podcasting"]
    # A page past the end shows the last one rather than an error.
    assert listed_slugs(client.get("/blog/?page=99")) == ["podcasting"]


def test_the_index_filters_by_category(client, posts):
    assert listed_slugs(client.get("/blog/?category=litefs")) == ["litefs-intro"]
    assert listed_slugs(client.get("/blog/?category=nothing")) == []


def test_search_ranks_title_and_description_hits_above_body_hits(client, posts):
    response = client.get("/blog/?q=replication")
    assert listed_slugs(response) == ["litefs-intro", "podcasting"]
    assert "<mark>replication</mark>" in response.content.decode()


def test_search_matches_word_prefixes_and_stems(client, posts):
    assert listed_slugs(client.get("/blog/?q=replicat")) == ["litefs-intro", "podcasting"]
    assert listed_slugs(client.get("/blog/?q=readers+writer")) == ["sqlite-wal"]


def test_search_and_filters_combine(client, posts):
    assert listed_slugs(client.get("/blog/?q=replication&category=Podcasting")) == ["podcasting"]


@pytest.mark.parametrize("query", ['"unclosed', "AND OR NOT", "title:wal", "*", "c++ (", "NEAR("])
def test_search_syntax_in_the_box_is_searched_as_text_not_an_error(client, posts, query):
    response = client.get("/blog/", {"q": query})
    assert response.status_code == 200


def test_a_search_without_results_says_so(client, posts):
    response = client.get("/blog/?q=zebra")
    assert listed_slugs(response) == []
    assert "No posts match “zebra”" in response.content.decode()


def test_search_sees_edited_posts(client, posts):
    assert listed_slugs(client.get("/blog/?q=zebra")) == []
    posts.write("podcasting", title="Recording calls", date=dt.date(2025, 1, 1), body="A zebra.")
    assert listed_slugs(client.get("/blog/?q=zebra")) == ["podcasting"]


def test_staff_see_and_find_drafts_but_never_unlisted_posts(client, posts, make_user):
    assert "a-draft" not in listed_slugs(client.get("/blog/?q=replication"))
    client.force_login(make_user(role=Role.ADMIN))
    assert listed_slugs(client.get("/blog/"))[0] == "a-draft"
    found = listed_slugs(client.get("/blog/?q=replication"))
    assert "a-draft" in found and "by-link" not in found


def test_read_and_unread_markers_and_filter_for_an_anonymous_reader(client, posts):
    client.cookies["client_id"] = client_id = new_client_id()
    add_read(slug="litefs-intro", client_id=client_id, at=NOW)
    add_read(slug="sqlite-wal", client_id=new_client_id(), at=NOW)  # someone else
    assert read_markers(client.get("/blog/")) == {
        "sqlite-wal": "false",
        "litefs-intro": "true",
        "podcasting": "false",
    }
    assert listed_slugs(client.get("/blog/?read=read")) == ["litefs-intro"]
    assert listed_slugs(client.get("/blog/?read=unread")) == ["sqlite-wal", "podcasting"]


def test_read_markers_follow_a_signed_in_user(client, posts, make_user):
    user = make_user()
    add_read(slug="podcasting", user=user, at=NOW)
    client.force_login(user)
    assert read_markers(client.get("/blog/"))["podcasting"] == "true"


def test_the_read_filter_is_offered_only_once_the_reader_has_read_something(client, posts):
    assert 'name="read"' not in client.get("/blog/").content.decode()
    client.cookies["client_id"] = client_id = new_client_id()
    assert 'name="read"' not in client.get("/blog/").content.decode()
    add_read(slug="podcasting", client_id=client_id, at=NOW)
    assert 'name="read"' in client.get("/blog/").content.decode()


def test_a_reader_who_has_read_nothing_sees_no_read_markers(client, posts, make_user):
    client.cookies["client_id"] = new_client_id()
    response = client.get("/blog/")
    assert read_markers(response) == {} and len(listed_slugs(response)) == 3
    assert "Unread" not in response.content.decode()
    client.force_login(make_user())
    assert read_markers(client.get("/blog/")) == {}


def test_a_read_filter_in_the_address_stays_offered_before_any_read(client, posts):
    html = client.get("/blog/?read=unread").content.decode()
    assert '<option value="unread" selected>' in html


def test_pagination_links_keep_the_filters(client, posts, settings):
    settings.BLOG_POSTS_PER_PAGE = 1
    html = client.get("/blog/?category=SQLite&q=&page=1").content.decode()
    assert "Page 1 of 1" not in html  # one SQLite post: no pagination needed
    html = client.get("/blog/?q=replication").content.decode()
    assert 'href="?q=replication&amp;page=2"' in html


def test_the_index_makes_a_bounded_number_of_queries(
    client, posts_dir, make_user, django_assert_max_num_queries
):
    for number in range(25):
        posts_dir.write(f"post-{number}", date=dt.date(2024, 1, 1) + dt.timedelta(days=number))
    user = make_user()
    for number in range(0, 25, 2):
        add_read(slug=f"post-{number}", user=user, at=NOW)
    client.force_login(user)
    client.get("/blog/")
    with django_assert_max_num_queries(3):  # session, user, their read slugs
        response = client.get("/blog/")
    assert len(listed_slugs(response)) == 10


def test_search_finds_other_forms_of_a_word(client, posts):
    assert listed_slugs(client.get("/blog/?q=replicating")) == ["litefs-intro", "podcasting"]
    assert listed_slugs(client.get("/blog/?q=writes+logged")) == ["sqlite-wal"]


def test_a_query_of_repeated_one_letter_prefixes_still_answers_with_results(client, posts):
    response = client.get("/blog/", {"q": "a*" * 100})
    assert response.status_code == 200
    # "a" is matched as the word "a": posts with the word, not every post with a word in a-
    # ("podcasting" has "and" but no "a").
    assert sorted(listed_slugs(response)) == ["litefs-intro", "sqlite-wal"]
    assert "<mark>A</mark> FUSE" in response.content.decode()


def test_a_very_long_query_answers_from_its_first_words(client, posts):
    response = client.get("/blog/", {"q": "replication " * 2_000})
    assert response.status_code == 200
    assert listed_slugs(response) == ["litefs-intro", "podcasting"]


def test_snippets_are_made_only_for_the_results_on_the_page(client, posts, settings):
    settings.BLOG_POSTS_PER_PAGE = 1
    client.get("/blog/?q=replication")  # builds the search index
    with CaptureQueriesContext(connections["cache"]) as queries:
        html = client.get("/blog/?q=replication&page=2").content.decode()
    assert "<mark>replication</mark>" in html
    snippet_queries = [query["sql"] for query in queries if "snippet(" in query["sql"]]
    assert len(snippet_queries) == 1
    assert "'podcasting'" in snippet_queries[0] and "'litefs-intro'" not in snippet_queries[0]
