"""The SQL behind PostRead's and StandingsVersion's managers, held to the ORM's answers."""

import datetime as dt
import random

import pytest
from django.db.models import Count, Max

from accounts.models import Team
from blog.models import READ_WINDOW, PostRead, StandingsVersion
from testing.fixtures import add_read, new_client_id

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 4, 1, 12, 0, tzinfo=dt.UTC)


def test_insert_unless_recent_inserts_once_per_reader_and_post_within_the_window(make_user):
    user, client_id = make_user(), new_client_id()
    insert = PostRead.objects.insert_unless_recent
    later = NOW + READ_WINDOW + dt.timedelta(seconds=1)
    assert insert(slug="a", user_id=user.pk, now=NOW) is True
    assert insert(slug="a", user_id=user.pk, now=NOW + READ_WINDOW) is False
    assert insert(slug="a", client_id=client_id, now=NOW) is True
    assert insert(slug="a", client_id=client_id, now=NOW) is False
    assert insert(slug="b", user_id=user.pk, now=NOW) is True
    assert insert(slug="a", user_id=user.pk, now=later) is True
    rows = PostRead.objects.order_by("created_at", "post_slug").values_list(
        "post_slug", "user_id", "client_id", "created_at"
    )
    assert list(rows) == [
        ("a", user.pk, None, NOW),
        ("a", None, client_id, NOW),
        ("b", user.pk, None, NOW),
        ("a", user.pk, None, later),
    ]


def test_an_anonymous_read_never_hides_behind_a_users_read_of_the_same_client(make_user):
    client_id = new_client_id()
    add_read(slug="a", user=make_user(), client_id=client_id, at=NOW)  # claimed at sign-in
    assert PostRead.objects.insert_unless_recent(slug="a", client_id=client_id, now=NOW)


def test_insert_unless_recent_needs_a_user_or_a_client():
    with pytest.raises(ValueError, match="user or a client_id"):
        PostRead.objects.insert_unless_recent(slug="a", client_id="", now=NOW)


def test_counts_by_team_agree_with_the_orm_on_random_reads(make_user):
    rng = random.Random(7)
    users = [make_user(rng.choice(list(Team))) for _ in range(12)]
    for _ in range(150):
        add_read(
            slug=rng.choice("abc"),
            user=rng.choice(users + [None]),
            client_id=new_client_id(),
            at=NOW - dt.timedelta(days=rng.randrange(500)),
        )
    recent, active = NOW - dt.timedelta(days=180), NOW - dt.timedelta(days=365)
    members, reads = PostRead.objects.counts_by_team(recent_since=recent, active_since=active)

    by_team = PostRead.objects.by_team_members().values("user__team")
    orm_members = by_team.filter(created_at__gte=active).annotate(n=Count("user", distinct=True))
    orm_reads = by_team.filter(created_at__gte=recent).annotate(n=Count("*"))
    assert members == {row["user__team"]: row["n"] for row in orm_members}
    recent_reads = {row["user__team"]: row["n"] for row in orm_reads}
    assert reads == {team: recent_reads.get(team, 0) for team in members}


def test_post_stamps_are_the_posts_latest_read_and_the_standings_version(make_user):
    assert PostRead.objects.post_stamps("a") == (None, 0)
    add_read(slug="a", client_id=new_client_id(), at=NOW - dt.timedelta(days=1))
    add_read(slug="a", client_id=new_client_id(), at=NOW)
    add_read(slug="b", client_id=new_client_id(), at=NOW + dt.timedelta(days=1))
    StandingsVersion.objects.bump()
    latest, version = PostRead.objects.post_stamps("a")
    assert version == 1
    stored = PostRead.objects.of_post("a").aggregate(latest=Max("created_at"))["latest"]
    assert stored == NOW
    assert latest.startswith("2026-04-01 12:00:00")


def test_the_standings_version_starts_at_zero_and_moves_by_one_per_bump():
    assert StandingsVersion.objects.current() == 0
    StandingsVersion.objects.bump()
    StandingsVersion.objects.bump()
    assert StandingsVersion.objects.current() == 2
    assert StandingsVersion.objects.get().version == 2
