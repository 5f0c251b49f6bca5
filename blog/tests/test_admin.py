import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Team
from blog.leaderboard import overall_standings, post_standings
from blog.models import PostRead
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
    client.force_login(make_user())
    assert client.get("/admin/blog/postread/").status_code == 302


def red_reads(standings) -> int:
    return next(row["reads"] for row in standings["teams"] if row["team"] == Team.RED)


@pytest.fixture
def red_read(make_user):
    """Red's one read of alpha, followed by Blue's (so it is not the post's latest read)."""
    now = timezone.now()
    red, blue = make_user(Team.RED), make_user(Team.BLUE)
    read = add_read(slug="alpha", user=red, at=now - dt.timedelta(hours=1))
    add_read(slug="alpha", user=blue, at=now)
    # Both standings are computed and cached, as a visitor's page view leaves them.
    assert red_reads(overall_standings()) == red_reads(post_standings(slug="alpha")) == 1
    return read


def test_a_read_deleted_in_the_admin_moves_the_cached_standings(staff_client, red_read):
    response = staff_client.post(f"/admin/blog/postread/{red_read.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not PostRead.objects.filter(pk=red_read.pk).exists()
    assert red_reads(overall_standings()) == red_reads(post_standings(slug="alpha")) == 0


def test_reads_deleted_in_bulk_in_the_admin_move_the_cached_standings(staff_client, red_read):
    response = staff_client.post(
        "/admin/blog/postread/",
        {"action": "delete_selected", "_selected_action": [red_read.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not PostRead.objects.filter(pk=red_read.pk).exists()
    assert red_reads(overall_standings()) == red_reads(post_standings(slug="alpha")) == 0
