import datetime as dt

import pytest

from accounts.models import Team
from testing.fixtures import add_read, new_client_id

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)


@pytest.fixture
def reads(make_user):
    red, blue = make_user(Team.RED), make_user(Team.BLUE)
    add_read(slug="alpha", user=red, at=NOW)
    add_read(slug="alpha", user=blue, at=NOW)
    add_read(slug="beta", user=blue, at=NOW - dt.timedelta(days=40))
    add_read(slug="alpha", client_id=new_client_id(), at=NOW)


def test_the_changelist_shows_totals_by_team_and_post(staff_client, reads):
    response = staff_client.get("/admin/blog/postread/")
    assert response.status_code == 200
    totals = response.context["totals"]
    assert totals["reads"] == 4
    assert dict(totals["teams"]) == {"Red": 1, "Blue": 2, "Yellow": 0}
    assert totals["anonymous"] == 1
    assert totals["top_posts"][0] == {"post_slug": "alpha", "reads": 3}
    assert "Totals for this selection" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("post_slug=beta", 1),
        ("team=BLUE", 2),
        ("team=anonymous", 1),
        ("post_slug=alpha&team=RED", 1),
    ],
)
def test_filters_by_slug_and_team_narrow_the_totals(staff_client, reads, query, expected):
    response = staff_client.get(f"/admin/blog/postread/?{query}")
    assert response.status_code == 200
    assert response.context["totals"]["reads"] == expected


def test_the_date_filter_narrows_the_totals(staff_client, reads):
    since = (NOW - dt.timedelta(days=7)).isoformat()
    response = staff_client.get("/admin/blog/postread/", {"created_at__gte": since})
    assert response.status_code == 200
    assert response.context["totals"]["reads"] == 3


def test_readers_who_are_not_staff_cannot_open_it(client, make_user, reads):
    client.force_login(make_user(), backend="accounts.backends.MagicLinkBackend")
    assert client.get("/admin/blog/postread/").status_code == 302
