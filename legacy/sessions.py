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
from hashlib import sha256
from importlib import import_module
from urllib.parse import unquote

from django.conf import settings
from django.utils import timezone

from accounts.models import Session
from litesite import litefs

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
