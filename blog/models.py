"""Post reads. Posts themselves are Markdown files under content/blog/ (see blog/content.py)."""

import datetime as dt
import uuid
from typing import Any, cast

from django.conf import settings
from django.db import connections, models, router

# A reader counts once per post per this many days.
READ_WINDOW = dt.timedelta(days=7)


def new_uuid() -> str:
    return str(uuid.uuid4())


class PostReadQuerySet(models.QuerySet):
    def by_reader(self, *, user=None, client_id: str | None = None):
        """Reads by a signed-in user, or else by an anonymous visitor's client_id."""
        if user is not None:
            return self.filter(user=user)
        if client_id:
            return self.filter(client_id=client_id, user__isnull=True)
        return self.none()

    def of_post(self, slug: str):
        return self.filter(post_slug=slug)

    def since(self, moment: dt.datetime):
        return self.filter(created_at__gte=moment)

    def by_team_members(self):
        """Reads that may count for a team: anonymous reads never do."""
        return self.filter(user__isnull=False)

    def read_slugs(self) -> set[str]:
        return set(self.order_by().values_list("post_slug", flat=True).distinct())


# Named at module level, where django-stubs can follow from_queryset() (not in a class's bases).
_PostReadManagerBase = models.Manager.from_queryset(PostReadQuerySet)


class PostReadManager(_PostReadManagerBase):
    """The statements on the site's hot paths, in plain SQL: building them through the ORM cost
    several times the statements themselves. Same tables, columns and indexes as the models
    in this module; blog/tests/test_models.py holds them to the ORM's answers."""

    # The reader's own index is named: without table statistics SQLite may otherwise pick the
    # post's index and walk every read of the post in the window.
    _INSERT_UNLESS_RECENT = (
        "INSERT INTO blog_postread (id, created_at, user_id, client_id, post_slug) "
        "SELECT %s, %s, %s, %s, %s WHERE NOT EXISTS ("
        " SELECT 1 FROM blog_postread INDEXED BY {index}"
        " WHERE {reader} AND post_slug = %s AND created_at >= %s"
        ")"
    )
    _INSERT_FOR_USER = _INSERT_UNLESS_RECENT.format(
        index="postread_user_created", reader="user_id = %s"
    )
    _INSERT_FOR_CLIENT = _INSERT_UNLESS_RECENT.format(
        index="postread_client_slug_created", reader="client_id = %s AND user_id IS NULL"
    )
    # One probe of the (post_slug, created_at) index and one primary-key lookup.
    _POST_STAMPS = (
        "SELECT (SELECT MAX(created_at) FROM blog_postread WHERE post_slug = %s),"
        " (SELECT version FROM blog_standingsversion WHERE id = 1)"
    )
    # One pass over the users, two probes each into the (user_id, created_at) index, which
    # covers both: no table row of blog_postread is read. Members who read since `recent` are
    # active by definition (the recent window lies inside the active one), so summing over
    # active members loses no recent read.
    _COUNTS_BY_TEAM = """
    SELECT team, COUNT(*) AS active, SUM(recent) AS reads FROM (
        SELECT member.team AS team, (
            SELECT COUNT(*) FROM blog_postread AS r
            WHERE r.user_id = member.id AND r.created_at >= %s
        ) AS recent
        FROM {users} AS member
        WHERE EXISTS (
            SELECT 1 FROM blog_postread AS r WHERE r.user_id = member.id AND r.created_at >= %s
        )
    ) GROUP BY team
    """

    def insert_unless_recent(
        self, *, slug: str, user_id=None, client_id: str | None = None, now: dt.datetime
    ) -> bool:
        """Insert a read of `slug` by the user (or else the anonymous client) unless they have
        one within READ_WINDOW before `now`; returns whether a row was inserted.

        The check and the insert are one statement, and SQLite takes the write lock when a
        writing statement starts, so concurrent reports of the same read queue behind each
        other and exactly one of them inserts.
        """
        connection = connections[router.db_for_write(self.model)]
        field = cast("models.Field[Any, Any]", self.model._meta.get_field("created_at"))
        since = field.get_db_prep_value(now - READ_WINDOW, connection)
        if user_id is not None:
            sql, reader, client_id = self._INSERT_FOR_USER, user_id, None
        elif client_id:
            sql, reader = self._INSERT_FOR_CLIENT, client_id
        else:
            raise ValueError("a read needs a user or a client_id")
        row = [new_uuid(), field.get_db_prep_value(now, connection), user_id, client_id, slug]
        with connection.cursor() as cursor:
            cursor.execute(sql, [*row, reader, slug, since])
            return cursor.rowcount == 1

    def post_stamps(self, slug: str) -> tuple[str | None, int]:
        """When `slug` was last read (as stored) and the standings version, in one statement."""
        with connections[router.db_for_read(self.model)].cursor() as cursor:
            cursor.execute(self._POST_STAMPS, [slug])
            latest_read, version = cursor.fetchone()
        return latest_read, version or 0

    def counts_by_team(
        self, *, recent_since: dt.datetime, active_since: dt.datetime
    ) -> tuple[dict[str, int], dict[str, int]]:
        """(members with a read since `active_since`, their reads since `recent_since`) per
        team, in one aggregate statement. `recent_since` must not be before `active_since`."""
        connection = connections[router.db_for_read(self.model)]
        users_model = cast("type[models.Model]", self.model._meta.get_field("user").related_model)
        users = users_model._meta.db_table
        field = cast("models.Field[Any, Any]", self.model._meta.get_field("created_at"))
        params = [
            field.get_db_prep_value(recent_since, connection),
            field.get_db_prep_value(active_since, connection),
        ]
        with connection.cursor() as cursor:
            cursor.execute(self._COUNTS_BY_TEAM.format(users=users), params)
            rows = cursor.fetchall()
        return {team: active for team, active, _ in rows}, {team: reads for team, _, reads in rows}


class PostRead(models.Model):
    """One reader finishing one post. A reader is a user, or else an anonymous client_id."""

    id = models.CharField(primary_key=True, max_length=36, default=new_uuid, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="post_reads",
        # The (user, created_at) index below serves every look-up by user; Django's own index
        # on the column would only add work to every write and to integrity checks.
        db_index=False,
    )
    # NULL, not "", for "no client": the migrated data and the indexes below rely on it.
    client_id = models.CharField(max_length=36, null=True, blank=True)  # noqa: DJ001
    post_slug = models.CharField(max_length=200)

    objects = PostReadManager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Per-post counts and rankings (covering: the reader's team is one join away), and
            # the admin's slug filter.
            models.Index(
                fields=["post_slug", "created_at", "user"], name="postread_slug_created_user"
            ),
            # Team rankings (active members, recent reads) and a user's read list. Partial, as
            # is the next one: every query names the user (or client), so rows without one
            # would only be dead weight; SQLite uses a partial index when the query's
            # `column = value` implies the index's `column IS NOT NULL`.
            models.Index(
                fields=["user", "created_at"],
                name="postread_user_created",
                condition=models.Q(user__isnull=False),
            ),
            # The 7-day rule for anonymous readers, and claiming them at sign-in.
            models.Index(
                fields=["client_id", "post_slug", "created_at"],
                name="postread_client_slug_created",
                condition=models.Q(client_id__isnull=False),
            ),
            models.Index(fields=["created_at"], name="postread_created"),
        ]

    def __str__(self) -> str:
        return f"{self.post_slug} read by {self.user_id or self.client_id}"


class StandingsVersionManager(models.Manager):
    """The one row, read and moved in plain SQL: both run on every post view or team read."""

    _CURRENT = "SELECT version FROM blog_standingsversion WHERE id = 1"
    _BUMP = (
        "INSERT INTO blog_standingsversion (id, version) VALUES (1, 1) "
        "ON CONFLICT (id) DO UPDATE SET version = version + 1"
    )

    def current(self) -> int:
        """The version now (0 before the first change): one primary-key lookup."""
        with connections[router.db_for_read(self.model)].cursor() as cursor:
            cursor.execute(self._CURRENT)
            row = cursor.fetchone()
        return row[0] if row else 0

    def bump(self) -> None:
        """Move the version on; a write, so call it in the transaction that made the change."""
        with connections[router.db_for_write(self.model)].cursor() as cursor:
            cursor.execute(self._BUMP)


class StandingsVersion(models.Model):
    """One row counting the changes to who read what: a signed-in read, anonymous reads moved
    to an account, an account deleted.

    Team standings are cached in each machine's own (unreplicated) cache database, but this
    row is replicated with the reads, so every machine can tell that its cached standings are
    out of date by comparing one number (see blog/leaderboard.py).
    """

    version = models.PositiveBigIntegerField(default=0)

    objects = StandingsVersionManager()

    def __str__(self) -> str:
        return f"standings version {self.version}"
