"""Post reads. Posts themselves are Markdown files under content/blog/ (see blog/content.py)."""

import datetime as dt
import uuid

from django.conf import settings
from django.db import models

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

    objects = PostReadQuerySet.as_manager()

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


class StandingsVersion(models.Model):
    """One row counting the changes to who read what: a signed-in read, anonymous reads moved
    to an account, an account deleted.

    Team standings are cached in each machine's own (unreplicated) cache database, but this
    row is replicated with the reads, so every machine can tell that its cached standings are
    out of date by comparing one number (see blog/leaderboard.py).
    """

    version = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"standings version {self.version}"
