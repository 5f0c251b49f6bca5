"""The old site's session cookie, exchanged once for a session here (see sessions.py)."""

import logging
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from accounts.models import Session
from litesite import litefs

from .sessions import (
    LEGACY_COOKIE_NAME,
    LEGACY_SESSION_ID_KEY,
    exchange_legacy_session,
    unsign_legacy_cookie,
)

logger = logging.getLogger(__name__)


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
