"""Recording and moving post reads."""

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from blog import content, leaderboard
from blog.models import READ_WINDOW, PostRead

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

# The profile lists this many of a reader's reads, newest first (and says how many there are).
READS_LISTED = 100
# The accounts app issues UUIDs; anything else in the cookie is not a client we know.
CLIENT_ID = re.compile(r"[A-Za-z0-9-]{8,36}")


@dataclass(frozen=True)
class Reader:
    """Who is reading: a signed-in user, else the anonymous visitor's client_id (or nobody)."""

    user: "AbstractBaseUser | None" = None
    client_id: str | None = None

    @property
    def known(self) -> bool:
        return self.user is not None or bool(self.client_id)

    def reads(self):
        return PostRead.objects.by_reader(user=self.user, client_id=self.client_id)

    def read_slugs(self) -> set[str]:
        return self.reads().read_slugs() if self.known else set()


def reader_from_request(request) -> Reader:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Reader(user=user)
    # Only a client_id the browser sent back identifies a reader. accounts' ClientIdMiddleware
    # mints a fresh id for a visitor without a (valid) cookie; nothing was read under that one.
    cookie = request.COOKIES.get(settings.CLIENT_ID_COOKIE, "")
    if not CLIENT_ID.fullmatch(cookie):
        return Reader()
    client_id = getattr(request, "client_id", None) or cookie
    if client_id.lower() != cookie.lower():
        return Reader()  # the middleware refused the cookie and issued a new one
    return Reader(client_id=client_id)


def record_read(*, reader: Reader, slug: str) -> bool:
    """Record that `reader` read post `slug`, unless they did within READ_WINDOW.

    Returns whether a read was recorded (PostReadManager.insert_unless_recent: one statement,
    so concurrent reports of the same read record it exactly once).
    """
    if not reader.known:
        raise ValueError("an anonymous read needs a client_id")
    user_id = None if reader.user is None else reader.user.pk
    # No lock of our own around the write: SQLite's busy timeout is the only wait, so a thread
    # blocked behind another writer is never held longer than the database itself would hold
    # it, and a lock held elsewhere ends in a 503 (litesite.errors), not a queue of threads.
    if user_id is None:
        # Anonymous reads never move a team: the statement is its own transaction.
        return PostRead.objects.insert_unless_recent(
            slug=slug, client_id=reader.client_id, now=timezone.now()
        )
    with transaction.atomic():
        recorded = PostRead.objects.insert_unless_recent(
            slug=slug, user_id=user_id, now=timezone.now()
        )
        if recorded:
            leaderboard.standings_changed()
    return recorded


def claim_anonymous_reads(*, client_id: str, user) -> int:
    """Move a visitor's anonymous reads to the user who just signed in; returns how many moved.

    A read the user already has of the same post within READ_WINDOW (say, on another device) is
    the same reading counted twice, so the anonymous duplicate is dropped rather than moved.
    """
    if not client_id:
        return 0
    with transaction.atomic():
        anonymous = list(
            PostRead.objects.by_reader(client_id=client_id).values_list(
                "id", "post_slug", "created_at"
            )
        )
        if not anonymous:
            return 0
        slugs = {slug for _, slug, _ in anonymous}
        mine: dict[str, list] = {}
        for slug, created_at in PostRead.objects.filter(user=user, post_slug__in=slugs).values_list(
            "post_slug", "created_at"
        ):
            mine.setdefault(slug, []).append(created_at)
        duplicates = [
            read_id
            for read_id, slug, created_at in anonymous
            if any(abs(created_at - other) < READ_WINDOW for other in mine.get(slug, ()))
        ]
        PostRead.objects.filter(id__in=duplicates).delete()
        moved = PostRead.objects.by_reader(client_id=client_id).update(user=user)
        leaderboard.standings_changed()
    return moved


@dataclass(frozen=True)
class ListedRead:
    """One read on the reader's profile. `post` is None once the post is gone, or back in
    draft for a reader who may not see drafts: then only the slug is left to show."""

    slug: str
    read_at: dt.datetime
    post: content.Post | None


def latest_reads(*, user, request, limit: int = READS_LISTED) -> tuple[list[ListedRead], int]:
    """The user's `limit` newest reads, each with its post, and how many reads they have."""
    reads = PostRead.objects.by_reader(user=user).order_by("-created_at")
    catalog = content.catalog()
    drafts_shown = content.can_see_drafts(request)
    listed = []
    for slug, read_at in reads.values_list("post_slug", "created_at")[:limit]:
        post = catalog.get(slug)
        if post is not None and post.draft and not drafts_shown:
            post = None
        listed.append(ListedRead(slug=slug, read_at=read_at, post=post))
    return listed, reads.count()


def claim_reads_at_sign_in(sender, *, request, user, **kwargs) -> None:
    """`user_logged_in` receiver, connected in blog/apps.py: the reads this browser made
    anonymously (its client_id, set by accounts' ClientIdMiddleware) move to the account."""
    client_id = getattr(request, "client_id", None)
    if client_id:
        claim_anonymous_reads(client_id=client_id, user=user)
