"""Read tickets: the post page's signed note of which post it served, to whom, and when.

A read report is accepted only with a ticket for that post and that reader, once the reader has
had the page for the required share of the post's reading time by the server's clock, and
before the ticket expires. The ticket carries everything the check needs, signed with
SECRET_KEY, so no page view is stored anywhere, and any machine can check what another issued.

A ticket can be sent again (replayed) for as long as it lives, but it can earn at most one
read: its life (BLOG_READ_TICKET_MAX_AGE, one day) is shorter than READ_WINDOW (settings.py
refuses a longer one), so a second use always falls within the window of the read the first
one recorded, and the one-read-per-reader-per-post rule turns it away.
"""

import functools
import time

from django.conf import settings
from django.core import signing

SALT = "blog.read-ticket"
# The ticket is often issued on a replica and checked on the primary, each with its own clock.
# Fly's machines keep theirs within milliseconds of each other by NTP; 2 s allows for a badly
# synced one while costing little: the shortest post's required time is tens of seconds, and a
# browser refused as too early is told when to try again.
CLOCK_SKEW_MS = 2_000


class TicketRefused(Exception):
    """Why a report's ticket does not earn a read; `reason` is stable, for scripts and tests."""

    def __init__(self, reason: str, message: str, retry_after_ms: int | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry_after_ms = retry_after_ms

    def as_json(self) -> dict:
        answer: dict[str, object] = {"error": self.message, "reason": self.reason}
        if self.retry_after_ms is not None:
            answer["retry_after_ms"] = self.retry_after_ms
        return answer


def reader_name(*, user=None, client_id: str | None = None) -> str | None:
    """Who a ticket is for: the signed-in user, else the anonymous visitor's client_id."""
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"client:{client_id}" if client_id else None


def for_request(request, *, slug: str) -> str:
    """A ticket for this request's reader to report reading `slug`, or "" with no reader.

    An anonymous visitor is named by `request.client_id`: the cookie's value, or the new id that
    accounts' ClientIdMiddleware sets on this very response, so a first visit can earn a read.
    """
    name = reader_name(
        user=getattr(request, "user", None), client_id=getattr(request, "client_id", None)
    )
    return issue(slug=slug, reader=name) if name else ""


@functools.lru_cache(maxsize=1)
def _signer(key: str, fallback_keys: tuple[str, ...]) -> signing.Signer:
    # Made once per key: building a Signer costs about as much as signing (every page view).
    return signing.Signer(key=key, fallback_keys=list(fallback_keys), salt=SALT)


def signer() -> signing.Signer:
    """Signs with SECRET_KEY and accepts SECRET_KEY_FALLBACKS too, as Django's own signing."""
    return _signer(settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS))


def issue(*, slug: str, reader: str, served_at: float | None = None) -> str:
    """A signed ticket; `served_at` (Unix seconds) defaults to now."""
    served_ms = round((time.time() if served_at is None else served_at) * 1000)
    return signer().sign_object({"post": slug, "reader": reader, "ms": served_ms})


def check(ticket: str, *, slug: str, readers: set[str], required_ms: int) -> None:
    """Raise TicketRefused unless `ticket` earns a read of `slug` by one of `readers` now."""
    if not ticket:
        raise TicketRefused("missing", "No read ticket: reload the post to get one.")
    try:
        payload = signer().unsign_object(ticket)
        post, reader, served_ms = payload["post"], payload["reader"], payload["ms"]
    except (signing.BadSignature, ValueError, TypeError, KeyError):
        # BadSignature covers a tampered or foreign ticket; the others a signed but odd payload
        # (only a leaked SECRET_KEY could make one), answered the same way.
        raise TicketRefused("forged", "This read ticket is not one the site issued.") from None
    if not isinstance(served_ms, int) or not isinstance(post, str):
        raise TicketRefused("forged", "This read ticket is not one the site issued.")
    if post != slug:
        raise TicketRefused("other-post", "This read ticket is for another post.")
    if reader not in readers:
        raise TicketRefused("other-reader", "This read ticket was issued to another reader.")
    elapsed_ms = round(time.time() * 1000) - served_ms
    if elapsed_ms > settings.BLOG_READ_TICKET_MAX_AGE * 1000:
        raise TicketRefused("expired", "This read ticket has expired: reload the post.")
    missing_ms = required_ms - CLOCK_SKEW_MS - elapsed_ms
    if missing_ms > 0:
        raise TicketRefused(
            "too-early", "Too early: the post has not been open long enough.", missing_ms
        )


def readers_of(request, *, reader) -> set[str]:
    """The reader names a report from this request may hold a ticket for (`reader` is
    blog.reads' Reader of the request)."""
    names = [reader_name(user=reader.user, client_id=reader.client_id)]
    client_id = getattr(request, "client_id", None)
    cookie = request.COOKIES.get(settings.CLIENT_ID_COOKIE, "")
    if reader.user is not None and client_id and cookie.lower() == client_id.lower():
        # A page opened before signing in (say, in another tab) names this browser's client_id.
        # Counting it for the account is what claim_anonymous_reads does at sign-in anyway.
        names.append(reader_name(client_id=client_id))
    return {name for name in names if name is not None}
