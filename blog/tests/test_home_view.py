import datetime as dt
import re

import pytest
import time_machine

from accounts.models import Team
from testing.fixtures import add_read

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)


@pytest.fixture
def posts(posts_dir):
    for number in range(8):
        posts_dir.write(f"post-{number}", date=dt.date(2025, 1, 1) + dt.timedelta(days=number))
    posts_dir.write("newest-draft", date=dt.date(2026, 1, 1), draft=True)
    posts_dir.write("newest-unlisted", date=dt.date(2026, 1, 1), unlisted=True)
    return posts_dir


def test_home_shows_the_latest_published_posts(client, posts):
    html = client.get("/").content.decode()
    slugs = re.findall(r'data-slug="([a-z0-9-]+)"', html)
    assert slugs == ["post-7", "post-6", "post-5", "post-4", "post-3"]


def test_home_shows_read_state_only_once_the_visitor_has_read_a_post(client, posts):
    client.cookies["client_id"] = client_id = "6f1d6a52-1111-4e5b-9c1e-000000000001"
    html = client.get("/").content.decode()
    assert "read-marker" not in html and "Unread" not in html
    add_read(slug="post-6", client_id=client_id, at=NOW)
    html = client.get("/").content.decode()
    markers = re.findall(r'data-slug="([a-z0-9-]+)".*?data-read="(true|false)"', html, re.DOTALL)
    assert dict(markers) == {
        "post-7": "false", "post-6": "true", "post-5": "false", "post-4": "false", "post-3": "false"
    }  # fmt: skip


@time_machine.travel(NOW, tick=False)
def test_home_shows_the_overall_team_standings(client, posts, make_user):
    blue = make_user(Team.BLUE)
    add_read(slug="post-1", user=blue, at=NOW)
    add_read(slug="post-2", user=blue, at=NOW)
    add_read(slug="post-1", user=make_user(Team.RED), at=NOW)
    html = client.get("/").content.decode()
    assert "Team standings" in html
    assert re.search(r'team-row-blue is-leader">\s*<th scope="row">.*?Blue', html, re.DOTALL)
    rows = re.findall(r"team-row team-row-(\w+)", html)
    assert rows == ["blue", "red", "yellow"]
    assert "2.00" in html and "1.00" in html


def test_home_makes_a_bounded_number_of_queries(client, posts, django_assert_max_num_queries):
    client.get("/")  # fills the caches, and gives this visitor a client_id cookie
    # The visitor's read slugs, and the standings version the cached standings are checked by.
    with django_assert_max_num_queries(2):
        assert client.get("/").status_code == 200
