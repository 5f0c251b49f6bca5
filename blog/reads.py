"""Recording and moving post reads."""

import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from blog import leaderboard
from blog.models import READ_WINDOW, PostRead, new_uuid

# The accounts app issues UUIDs; anything else in the cookie is not a client we know.
CLIENT_ID = re.compile(r"[A-Za-z0-9-]{8,36}")


@dataclass(frozen=True)
class Reader:
    """Who is reading: a signed-in user, else the anonymous visitor's client_id (or nobody)."""

    user: object | None = None
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

    Returns whether a read was recorded. The check and the insert are one SQL statement, and
    SQLite takes the write lock when a writing statement starts, so concurrent reports of the
    same read queue behind each other and exactly one of them inserts.
    """
    if not reader.known:
        raise ValueError("an anonymous read needs a client_id")
    # No lock of our own around the write: SQLite's busy timeout is the only wait, so a thread
    # blocked behind another writer is never held longer than the database itself would hold
    # it, and a lock held elsewhere ends in a 503 (litesite.errors), not a queue of threads.
    if reader.user is None:
        # Anonymous reads never move a team: the statement is its own transaction.
        return _insert_unless_recent(reader=reader, slug=slug)
    with transaction.atomic():
        recorded = _insert_unless_recent(reader=reader, slug=slug)
        if recorded:
            leaderboard.standings_changed()
    return recorded


# The hottest write of the site, in plain SQL: the ORM's query building cost several times the
# statement itself. Same tables, columns and indexes as the PostRead model.
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


def _insert_unless_recent(*, reader: Reader, slug: str) -> bool:
    """One statement: insert a read unless the reader has one of `slug` within READ_WINDOW."""
    now = timezone.now()
    field = PostRead._meta.get_field("created_at")
    since = field.get_db_prep_value(now - READ_WINDOW, connection)
    user_id = None if reader.user is None else reader.user.pk
    client_id = None if user_id is not None else reader.client_id
    row = [new_uuid(), field.get_db_prep_value(now, connection), user_id, client_id, slug]
    if user_id is not None:
        sql, recent = _INSERT_FOR_USER, [user_id, slug, since]
    else:
        sql, recent = _INSERT_FOR_CLIENT, [client_id, slug, since]
    with connection.cursor() as cursor:
        cursor.execute(sql, row + recent)
        return cursor.rowcount == 1


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
