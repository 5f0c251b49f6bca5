"""Team leaderboards, overall and per post.

For each team:
- active members: users with any read in the last 365 days;
- recent reads: reads by the team's members in the last 6 calendar months (of one post, or of all);
- ranking: recent reads / active members (0 for a team without active members).
The leader is the team with the highest ranking above 0; a tie for the top means no leader.
Anonymous reads never count for a team (they do count in a post's total reads).

Results are cached in cachedb: per post for 7 days, overall for 1 hour, both served stale for up
to a day while they are recomputed. The cache is per machine, while reads are written on the
primary and replicated, so entries are not deleted when something changes; instead every use
checks that an entry is still current, with lookups in the replicated database:
- both kinds remember the StandingsVersion they were computed at; it moves with every change
  that can move a team (a team member's read, anonymous reads moved to an account, an account
  deleted), so the next view on any machine recomputes;
- a post's entry also remembers the time of the post's latest read, which anonymous reads move
  (they count in the post's total).
Neither check writes to the cache database, and an anonymous read (the hottest write of the
site) stays a single insert.
"""

import datetime as dt
from typing import Any

from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from accounts.models import Team, User
from blog.models import PostRead, StandingsVersion
from cachedb.cachified import cachified

ACTIVE_WINDOW = dt.timedelta(days=365)
RECENT_MONTHS = 6
POST_TTL = 7 * 24 * 60 * 60
OVERALL_TTL = 60 * 60
STALE_WHILE_REVALIDATE = 24 * 60 * 60
OVERALL_KEY = "blog:leaderboard:overall"


def post_key(slug: str) -> str:
    return f"blog:leaderboard:post:{slug}"


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day and time `months` calendar months earlier (clamped to the month's end)."""
    month_index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(month_index, 12)
    month += 1
    next_month = dt.date(year + month // 12, month % 12 + 1, 1)
    last_day = (next_month - dt.timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def active_members_by_team(*, now: dt.datetime) -> dict[str, int]:
    recent_reader = PostRead.objects.filter(
        user=OuterRef("pk"), created_at__gte=now - ACTIVE_WINDOW
    )
    rows = (
        User.objects.filter(Exists(recent_reader))
        .order_by()
        .values("team")
        .annotate(members=Count("pk"))
    )
    return {row["team"]: row["members"] for row in rows}


def recent_reads_of_post_by_team(*, now: dt.datetime, slug: str) -> dict[str, int]:
    rows = (
        PostRead.objects.by_team_members()
        .of_post(slug)
        .since(months_before(now, RECENT_MONTHS))
        .order_by()
        .values("user__team")
        # COUNT(*), not COUNT(id): the (post_slug, created_at, user) index then covers the scan.
        .annotate(reads=Count("*"))
    )
    return {row["user__team"]: row["reads"] for row in rows}


def rank(*, active: dict[str, int], reads: dict[str, int]) -> dict[str, Any]:
    """Turn per-team counts into ordered standings and a leader (pure arithmetic)."""
    teams: list[dict[str, Any]] = []
    for order, team in enumerate(Team):
        members = active.get(team.value, 0)
        team_reads = reads.get(team.value, 0)
        teams.append(
            {
                "team": team.value,
                "name": team.label,
                "active": members,
                "reads": team_reads,
                "ranking": team_reads / members if members else 0.0,
                "order": order,
            }
        )
    teams.sort(key=lambda row: (-row["ranking"], row["order"]))
    top = [row for row in teams if row["ranking"] > 0 and row["ranking"] == teams[0]["ranking"]]
    return {"teams": teams, "leader": top[0]["team"] if len(top) == 1 else None}


def compute_overall(*, now: dt.datetime | None = None) -> dict[str, Any]:
    # Taken first: a change landing during the counts makes the entry look older than it is,
    # so it is recomputed once more, never trusted stale.
    version = standings_version()
    now = now or timezone.now()
    # One aggregate statement (PostReadManager.counts_by_team).
    active, reads = PostRead.objects.counts_by_team(
        recent_since=months_before(now, RECENT_MONTHS), active_since=now - ACTIVE_WINDOW
    )
    standings = rank(active=active, reads=reads)
    standings["version"] = version
    return standings


def compute_for_post(*, slug: str, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    # Taken first: a read landing during the counts below makes the entry look older than it
    # is, so it is recomputed once more, never trusted stale.
    latest_read, version = PostRead.objects.post_stamps(slug)
    standings = rank(
        active=active_members_by_team(now=now),
        reads=recent_reads_of_post_by_team(now=now, slug=slug),
    )
    standings["total_reads"] = PostRead.objects.of_post(slug).count()
    standings["latest_read"] = latest_read
    standings["version"] = version
    return standings


def overall_standings() -> dict[str, Any]:
    version = standings_version()
    return cachified(
        key=OVERALL_KEY,
        get_fresh_value=compute_overall,
        ttl=OVERALL_TTL,
        swr=STALE_WHILE_REVALIDATE,
        check_value=lambda value: value.get("version") == version,
    )


def post_standings(*, slug: str) -> dict[str, Any]:
    latest_read, version = PostRead.objects.post_stamps(slug)
    return cachified(
        key=post_key(slug),
        get_fresh_value=lambda: compute_for_post(slug=slug),
        ttl=POST_TTL,
        swr=STALE_WHILE_REVALIDATE,
        check_value=lambda value: (
            value.get("latest_read") == latest_read and value.get("version") == version
        ),
    )


def standings_version() -> int:
    """The replicated change counter the cached standings are checked against (one PK lookup)."""
    return StandingsVersion.objects.current()


def standings_changed() -> None:
    """Note a change that can move a team: every machine's cached standings become stale.

    A write to the replicated database: call it in the transaction that made the change.
    """
    StandingsVersion.objects.bump()


def standings_changed_by_deletion(sender, **kwargs) -> None:
    """`post_delete` receiver for the user model, connected in blog/apps.py: a deleted user's
    reads are gone with them (deleted by the account deletion, or ON DELETE CASCADE in the
    admin), so they stop counting for their team. Django sends it inside the deletion's
    transaction, as standings_changed() asks."""
    standings_changed()
