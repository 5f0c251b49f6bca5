"""Readers stay signed in across the cut-over from the old Remix site.

The old site kept a session id in a cookie made by Remix's `createCookieSessionStorage`
(kentcdodds.com's app/utils/session.server.ts: name `KCD_root_session`, one secret from
SESSION_SECRET, key `__session_id__`). Its format, from @remix-run/server-runtime cookies.ts
and the `cookie-signature` package that @remix-run/node signs with (the Web Crypto version in
later Remix releases produces the same bytes):

    payload   = base64(UTF-8 JSON of the session data)          e.g. {"__session_id__": "<id>"}
    signature = base64(HMAC-SHA256(secret, payload)), trailing "=" removed (standard alphabet)
    value     = payload + "." + signature, URI-encoded by the `cookie` package (%2B, %2F, %3D)

migrate_from_postgres carries every "Session" row over under its old id. When
LEGACY_SESSION_SECRET is set and a request brings a validly signed old cookie whose session was
migrated and has not expired, that session is renamed to a fresh key (so the old cookie can never
be accepted again), the site's own session cookie is set, and the old cookie is cleared. An old
cookie that fails the signature check is left alone: a mistyped secret must not wipe every
reader's way back in before it is fixed.
"""

import base64
import binascii
import hmac
import json
import logging
from hashlib import sha256
from importlib import import_module
from urllib.parse import unquote

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from accounts.models import Session
from litesite import litefs

logger = logging.getLogger(__name__)

LEGACY_COOKIE_NAME = "KCD_root_session"
LEGACY_SESSION_ID_KEY = "__session_id__"


def unsign_legacy_cookie(raw_value: str, *, secret: str) -> dict | None:
    """The old cookie's session data, or None when its signature does not verify."""
    value = unquote(raw_value)
    payload, dot, signature = value.rpartition(".")
    if not dot or not secret:
        return None
    mac = hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), sha256).digest()
    expected = base64.b64encode(mac).decode("ascii").rstrip("=")
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        return None
    try:
        data = json.loads(base64.b64decode(payload, validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        # Remix reads an undecodable but signed value as an empty session.
        return {}
    return data if isinstance(data, dict) else {}


def exchange_legacy_session(*, legacy_session_id: str) -> Session | None:
    """Rename a migrated, unexpired session to a fresh key; None when there is none to take."""
    session = (
        Session.objects.filter(
            session_key=legacy_session_id, expire_date__gt=timezone.now(), user__isnull=False
        )
        .only("session_key", "expire_date")
        .first()
    )
    if session is None:
        return None
    litefs.ensure_primary("a migrated session is exchanged for a new one")
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    new_key = store_class()._get_new_session_key()
    # The filter on the old key makes this a compare-and-swap: of two requests racing with the
    # same old cookie, only one renames the row.
    renamed = Session.objects.filter(session_key=legacy_session_id).update(session_key=new_key)
    if not renamed:
        return None
    session.session_key = new_key
    return session


class LegacySessionMiddleware:
    """Accepts the old site's signed session cookie once, in exchange for the site's own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw = request.COOKIES.get(LEGACY_COOKIE_NAME)
        if raw is None or not settings.LEGACY_SESSION_SECRET:
            return self.get_response(request)
        data = unsign_legacy_cookie(raw, secret=settings.LEGACY_SESSION_SECRET)
        if data is None:
            logger.info("Ignoring a %s cookie whose signature does not verify", LEGACY_COOKIE_NAME)
            return self.get_response(request)

        exchanged = None
        legacy_id = data.get(LEGACY_SESSION_ID_KEY)
        if isinstance(legacy_id, str) and legacy_id and not request.session.get(SESSION_KEY):
            try:
                exchanged = exchange_legacy_session(legacy_session_id=legacy_id)
            except litefs.ReplayToPrimary as replay:
                return litefs.replay_to_primary(request, reason=replay.reason)
        if exchanged is not None:
            request.session = import_module(settings.SESSION_ENGINE).SessionStore(
                session_key=exchanged.session_key
            )

        response = self.get_response(request)
        # Verified but used up (exchanged now, unknown, expired, or already signed in here):
        # the old cookie has done its job either way.
        response.delete_cookie(LEGACY_COOKIE_NAME, path="/", samesite="Lax")
        if exchanged is not None:
            _set_session_cookie(response, exchanged)
        patch_vary_headers(response, ("Cookie",))
        return response


def _set_session_cookie(response, session: Session) -> None:
    """The cookie Django's SessionMiddleware would set, expiring with the migrated session."""
    if settings.SESSION_COOKIE_NAME in response.cookies:
        return  # the view started a session of its own; Django's cookie stands
    max_age = max(int((session.expire_date - timezone.now()).total_seconds()), 0)
    response.set_cookie(
        settings.SESSION_COOKIE_NAME,
        session.session_key,
        max_age=max_age,
        domain=settings.SESSION_COOKIE_DOMAIN,
        path=settings.SESSION_COOKIE_PATH,
        secure=settings.SESSION_COOKIE_SECURE or None,
        httponly=settings.SESSION_COOKIE_HTTPONLY or None,
        samesite=settings.SESSION_COOKIE_SAMESITE,
    )
