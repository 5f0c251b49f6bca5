"""Magic-link sign-in: ask for a link by email, open it, be signed in.

A link is
- tamper-proof and time-limited: its token is signed with SECRET_KEY and timestamped
  (django.core.signing), and expires after MAGIC_LINK_MAX_AGE (30 minutes);
- single-use: the token names a MagicLink row, which is stamped used_at the first time;
- bound to the browser that asked for it: that browser holds a random cookie whose SHA-256 is
  on the row. A link opened anywhere else (another device, a mail scanner) is refused and,
  importantly, not used up.
Requests are limited in three ways over RATE_WINDOW, with the MagicLink rows themselves as the
counters (no separate table or cache):
- per email address *and* client network (MAGIC_LINK_LIMIT_PER_EMAIL_AND_CLIENT): a reader who
  keeps asking, or a stranger who keeps asking for someone else's address;
- per client network (MAGIC_LINK_LIMIT_PER_CLIENT), whatever the addresses: one source mailing
  many inboxes;
- per email address alone (MAGIC_LINK_LIMIT_PER_EMAIL), higher: the inbox's last line of
  defence against many sources at once. Set low, it would hand any stranger a way to lock the
  owner out; the pair limit above stops a single stranger long before this one is reached.
The client network is the visitor's IPv4 address or IPv6 /64 (accounts/client_ip.py).
"""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from smtplib import SMTPException

from django.conf import settings
from django.contrib.auth import login
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.client_ip import client_network
from accounts.models import MagicLink
from litesite import litefs

logger = logging.getLogger(__name__)

TOKEN_SALT = "accounts.magic-link"
BROWSER_COOKIE = "magic_browser"
RATE_WINDOW = timedelta(minutes=15)
# Rows older than this are deleted when new links are made: their tokens have long expired.
KEEP_LINKS_FOR = timedelta(days=1)


class RateLimited(Exception):
    """Too many links were asked for; str() is a sentence for the reader."""

    def __init__(self, message: str, *, retry_after_seconds: int):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class EmailNotSent(Exception):
    """The mail server refused or could not be reached."""


@dataclass
class LinkRefused(Exception):
    """A link that cannot sign anyone in. `reason` is one of REASONS."""

    reason: str
    email: str = ""

    REASONS = ("expired", "used", "tampered", "foreign-browser")

    def __str__(self) -> str:
        return self.reason


def browser_key(request) -> str:
    """The browser-binding secret this browser already holds, or a new one."""
    return request.COOKIES.get(BROWSER_COOKIE) or secrets.token_urlsafe(32)


def set_browser_cookie(response, key: str) -> None:
    response.set_cookie(
        BROWSER_COOKIE,
        key,
        max_age=settings.MAGIC_LINK_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE or None,
        httponly=True,
        # Lax: the cookie must come along when the reader clicks the link in a mail client.
        samesite="Lax",
    )


def hash_browser_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def safe_next_url(request, candidate: str | None) -> str:
    """`candidate` when it points into this site, else "" (no open redirects)."""
    # A path on this site, never a full URL: "/me" yes, "https://host/me" and "//evil" no.
    if (
        candidate is not None
        and candidate.startswith("/")
        and not candidate.startswith("//")
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return candidate
    return ""


def _limits(*, email: str, network: str):
    """Each limit as (the links it counts, its cap, why a reader is refused), narrowest first."""
    links = MagicLink.objects
    window = RATE_WINDOW.seconds // 60
    return (
        (
            links.for_email(email).for_client_network(network),
            settings.MAGIC_LINK_LIMIT_PER_EMAIL_AND_CLIENT,
            f"Too many sign-in links were requested for this email address from your network in "
            f"the last {window} minutes. The links already sent still work (look in your spam "
            f"folder too).",
        ),
        (
            links.for_client_network(network),
            settings.MAGIC_LINK_LIMIT_PER_CLIENT,
            f"Too many sign-in links were requested from your network in the last {window} "
            f"minutes.",
        ),
        (
            links.for_email(email),
            settings.MAGIC_LINK_LIMIT_PER_EMAIL,
            f"This email address was sent too many sign-in links in the last {window} minutes, "
            f"asked for from several networks, so no more are sent for now to protect its inbox. "
            f"If you did not ask for them, you can ignore them.",
        ),
    )


def _rate_limited(*, reason: str, frees_up_at) -> RateLimited:
    wait = max(1, int((frees_up_at - timezone.now()).total_seconds()))
    minutes = -(-wait // 60)
    unit = "minute" if minutes == 1 else "minutes"
    return RateLimited(
        f"{reason} Please wait {minutes} {unit} before asking for another link.",
        retry_after_seconds=wait,
    )


def request_link(*, email: str, client_address: str, browser_key: str, next_url: str) -> str:
    """Record a new link and return its signed token; RateLimited when asked too often.

    `client_address` is a validated IP address (accounts.client_ip.client_address) or "".
    """
    email = email.strip().lower()
    network = client_network(client_address)
    now = timezone.now()
    window_start = now - RATE_WINDOW
    # IMMEDIATE transactions: the counts and the insert cannot interleave with another request.
    with transaction.atomic():
        for links, cap, reason in _limits(email=email, network=network):
            recent = links.created_since(window_start)
            count = recent.count()
            if count >= cap:
                # The limit lifts when enough of the recent links have aged out of the window
                # to leave room for one more.
                created = recent.order_by("created_at").values_list("created_at", flat=True)
                raise _rate_limited(reason=reason, frees_up_at=created[count - cap] + RATE_WINDOW)
        MagicLink.objects.created_before(now - KEEP_LINKS_FOR).delete()
        link = MagicLink.objects.create(
            id=secrets.token_urlsafe(32),
            email=email,
            browser_hash=hash_browser_key(browser_key),
            client_address=client_address,
            client_network=network,
            next_url=next_url,
            created_at=now,
        )
    return signing.dumps({"id": link.id}, salt=TOKEN_SALT)


def link_url(*, token: str) -> str:
    """The absolute URL to email. SITE_URL, not the Host header, so it cannot be spoofed."""
    return f"{settings.SITE_URL}{reverse('accounts:magic')}?token={token}"


def send_link_email(*, email: str, url: str) -> None:
    context = {
        "url": url,
        "minutes": settings.MAGIC_LINK_MAX_AGE // 60,
        "site_url": settings.SITE_URL,
    }
    subject = render_to_string("accounts/email/magic_link_subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("accounts/email/magic_link.txt", context),
        to=[email],
    )
    message.attach_alternative(
        render_to_string("accounts/email/magic_link.html", context), "text/html"
    )
    try:
        message.send()
    except (SMTPException, OSError) as error:
        logger.exception("Could not send a sign-in link to %s", email)
        raise EmailNotSent(str(error)) from error


def withdraw_link(*, token: str) -> None:
    """Forget a link that could not be emailed, so it does not count against the limits."""
    link_id = signing.loads(token, salt=TOKEN_SALT)["id"]
    MagicLink.objects.filter(pk=link_id).delete()


def consume_link(*, token: str, browser_key: str) -> MagicLink:
    """Use a link up and return it; LinkRefused (with the reason) when it cannot be used."""
    try:
        link_id = signing.loads(token, salt=TOKEN_SALT, max_age=settings.MAGIC_LINK_MAX_AGE)["id"]
    except signing.SignatureExpired:
        expired = MagicLink.objects.filter(pk=signing.loads(token, salt=TOKEN_SALT)["id"]).first()
        raise LinkRefused("expired", email=expired.email if expired else "") from None
    except (signing.BadSignature, KeyError, TypeError):
        raise LinkRefused("tampered") from None
    # Everything from here on reads a row made moments ago and then writes it, so it runs on
    # the primary: a replica may not have the row yet.
    litefs.ensure_primary()
    link = MagicLink.objects.filter(pk=link_id).first()
    if link is None:
        raise LinkRefused("expired")
    if link.is_used:
        raise LinkRefused("used", email=link.email)
    if not browser_key or not constant_time_compare(
        link.browser_hash, hash_browser_key(browser_key)
    ):
        raise LinkRefused("foreign-browser", email=link.email)
    with transaction.atomic():
        claimed = MagicLink.objects.filter(pk=link.pk, used_at__isnull=True).update(
            used_at=timezone.now()
        )
    if not claimed:  # another tab won the race for the same link
        raise LinkRefused("used", email=link.email)
    return link


def sign_in(*, request, user) -> None:
    """Start a session for `user`.

    Django's `login()` sends `user_logged_in` with the request: other apps react there (the
    blog moves this browser's anonymous reads to the account, see blog/apps.py).
    """
    login(request, user, backend="accounts.backends.MagicLinkBackend")
