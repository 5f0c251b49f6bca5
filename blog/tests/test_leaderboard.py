import datetime as dt

import pytest
import time_machine

from accounts.models import Team
from blog import leaderboard
from blog.reads import Reader, record_read
from testing.fixtures import add_read, new_client_id

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


def by_team(standings):
    return {row["team"]: row for row in standings["teams"]}


def test_six_months_back_is_calendar_months_clamped_to_the_month_end():
    assert leaderboard.months_before(NOW, 6) == dt.datetime(2025, 12, 15, 12, 0, tzinfo=dt.UTC)
    end_of_august = dt.datetime(2026, 8, 31, tzinfo=dt.UTC)
    assert leaderboard.months_before(end_of_august, 6) == dt.datetime(2026, 2, 28, tzinfo=dt.UTC)


@time_machine.travel(NOW, tick=False)
def test_ranking_is_recent_reads_divided_by_active_members(make_user):
    red_a, red_b = make_user(Team.RED), make_user(Team.RED)
    blue = make_user(Team.BLUE)
    # Red: 3 recent reads, 2 active members -> 1.5. Blue: 2 recent reads, 1 member -> 2.0.
    for user in (red_a, red_a, red_b):
        add_read(slug="a", user=user, at=NOW - dt.timedelta(days=10))
    add_read(slug="a", user=blue, at=NOW - dt.timedelta(days=1))
    add_read(slug="b", user=blue, at=NOW - dt.timedelta(days=100))

    standings = leaderboard.compute_overall()
    teams = by_team(standings)
    assert (teams["RED"]["reads"], teams["RED"]["active"], teams["RED"]["ranking"]) == (3, 2, 1.5)
    assert (teams["BLUE"]["reads"], teams["BLUE"]["active"], teams["BLUE"]["ranking"]) == (
        2,
        1,
        2.0,
    )
    assert (teams["YELLOW"]["reads"], teams["YELLOW"]["active"], teams["YELLOW"]["ranking"]) == (
        0,
        0,
        0.0,
    )
    assert standings["leader"] == "BLUE"
    assert [row["team"] for row in standings["teams"]] == ["BLUE", "RED", "YELLOW"]


@time_machine.travel(NOW, tick=False)
def test_members_active_within_a_year_dilute_the_ranking_even_without_recent_reads(make_user):
    reader, dormant, gone = make_user(Team.RED), make_user(Team.RED), make_user(Team.RED)
    add_read(slug="a", user=reader, at=NOW - dt.timedelta(days=5))
    add_read(slug="a", user=reader, at=NOW - dt.timedelta(days=6))
    # Read 8 months ago: active (within 365 days), but the read is not recent (over 6 months).
    add_read(slug="a", user=dormant, at=NOW - dt.timedelta(days=240))
    # Read 400 days ago: not active any more, so not counted at all.
    add_read(slug="a", user=gone, at=NOW - dt.timedelta(days=400))
    red = by_team(leaderboard.compute_overall())["RED"]
    assert (red["reads"], red["active"], red["ranking"]) == (2, 2, 1.0)


@time_machine.travel(NOW, tick=False)
def test_window_edges_are_inclusive_of_the_boundary_instant(make_user):
    user = make_user(Team.YELLOW)
    add_read(slug="a", user=user, at=leaderboard.months_before(NOW, 6))
    add_read(slug="a", user=user, at=leaderboard.months_before(NOW, 6) - dt.timedelta(seconds=1))
    yellow = by_team(leaderboard.compute_overall())["YELLOW"]
    assert (yellow["reads"], yellow["active"]) == (1, 1)


@time_machine.travel(NOW, tick=False)
def test_anonymous_reads_never_count_for_a_team(make_user):
    member = make_user(Team.RED)
    add_read(slug="a", user=member, at=NOW)
    for _ in range(5):
        add_read(slug="a", client_id=new_client_id(), at=NOW)
    standings = leaderboard.compute_for_post(slug="a")
    assert by_team(standings)["RED"]["reads"] == 1
    assert sum(row["reads"] for row in standings["teams"]) == 1
    assert standings["total_reads"] == 6


@time_machine.travel(NOW, tick=False)
def test_a_posts_ranking_counts_only_that_posts_reads_over_all_active_members(make_user):
    red, blue, blue_2 = make_user(Team.RED), make_user(Team.BLUE), make_user(Team.BLUE)
    add_read(slug="this", user=red, at=NOW)
    add_read(slug="this", user=blue, at=NOW)
    add_read(slug="this", user=blue, at=NOW - dt.timedelta(days=8))
    add_read(slug="other", user=blue_2, at=NOW)  # makes blue_2 active, not a read of "this"
    teams = by_team(leaderboard.compute_for_post(slug="this"))
    assert (teams["RED"]["ranking"], teams["BLUE"]["ranking"]) == (1.0, 1.0)


@time_machine.travel(NOW, tick=False)
def test_nobody_leads_without_reads_or_on_a_tie_at_the_top(make_user):
    assert leaderboard.compute_overall()["leader"] is None
    red, blue = make_user(Team.RED), make_user(Team.BLUE)
    add_read(slug="a", user=red, at=NOW)
    add_read(slug="a", user=blue, at=NOW)
    assert leaderboard.compute_overall()["leader"] is None


@time_machine.travel(NOW, tick=False)
def test_overall_standings_are_cached_and_refreshed_after_a_team_members_read(make_user):
    red = make_user(Team.RED)
    assert leaderboard.overall_standings()["leader"] is None

    # A read slipped into the table behind the leaderboard's back is not seen: it is cached.
    add_read(slug="a", user=make_user(Team.BLUE), at=NOW)
    assert leaderboard.overall_standings()["leader"] is None

    # A read recorded through blog.reads refreshes it.
    assert record_read(reader=Reader(user=red), slug="a")
    teams = by_team(leaderboard.overall_standings())
    assert (teams["RED"]["reads"], teams["BLUE"]["reads"]) == (1, 1)


@time_machine.travel(NOW, tick=False)
def test_an_anonymous_read_leaves_the_cached_overall_standings_alone(make_user):
    leaderboard.overall_standings()
    add_read(slug="a", user=make_user(Team.BLUE), at=NOW)
    record_read(reader=Reader(client_id=new_client_id()), slug="a")
    assert leaderboard.overall_standings()["leader"] is None  # still the cached value


def test_post_standings_are_computed_once_and_again_after_each_new_read(make_user, monkeypatch):
    computed = []
    real = leaderboard.compute_for_post
    monkeypatch.setattr(
        leaderboard, "compute_for_post", lambda **kw: computed.append(1) or real(**kw)
    )
    with time_machine.travel(NOW, tick=False):
        assert leaderboard.post_standings(slug="a")["total_reads"] == 0
        assert leaderboard.post_standings(slug="a")["total_reads"] == 0
        assert len(computed) == 1
        record_read(reader=Reader(client_id=new_client_id()), slug="a")
    with time_machine.travel(NOW + dt.timedelta(seconds=1), tick=False):
        record_read(reader=Reader(user=make_user(Team.RED)), slug="a")
        assert leaderboard.post_standings(slug="a")["total_reads"] == 2
        assert leaderboard.post_standings(slug="a")["total_reads"] == 2
    assert len(computed) == 2


@time_machine.travel(NOW, tick=False)
def test_reads_moved_to_an_account_at_sign_in_move_the_cached_standings_too(make_user):
    from blog.reads import claim_anonymous_reads

    client_id = new_client_id()
    record_read(reader=Reader(client_id=client_id), slug="a")
    assert leaderboard.post_standings(slug="a")["leader"] is None  # anonymous: no team
    assert leaderboard.overall_standings()["leader"] is None

    # No new read, so the post's latest read is unchanged; the standings version moves.
    claim_anonymous_reads(client_id=client_id, user=make_user(Team.YELLOW))

    assert leaderboard.post_standings(slug="a")["leader"] == "YELLOW"
    assert leaderboard.overall_standings()["leader"] == "YELLOW"


@time_machine.travel(NOW, tick=False)
def test_cached_standings_are_checked_against_the_replicated_version_not_deleted(make_user):
    # Another machine records a read: this machine's cache is never told, only the replicated
    # database changes (here: the read and the version bump, without going through this cache).
    assert leaderboard.overall_standings()["leader"] is None
    add_read(slug="a", user=make_user(Team.BLUE), at=NOW)
    leaderboard.standings_changed()
    assert leaderboard.overall_standings()["leader"] == "BLUE"
