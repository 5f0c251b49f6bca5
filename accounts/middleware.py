"""Request-level account plumbing: rolling sessions and the anonymous client_id cookie."""

import uuid

from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware

from accounts.sessions import extend_session
from litesite import litefs

# Browsers cap cookie lifetimes at 400 days (RFC 6265bis), so asking for more buys nothing.
CLIENT_ID_MAX_AGE = 400 * 24 * 60 * 60


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's session middleware, plus rolling expiry (accounts/sessions.py).

    The session is loaded here, before the view, whenever a session cookie arrives: that is
    where an expired session is deleted and a signed-in one extended, so the write (and a
    possible replay to the primary) happens before the view has done any work.
    """

    def process_request(self, request):
        super().process_request(request)
        session = request.session
        try:
            # Loading deletes an expired session; both that and the extension write.
            if session.session_key and session.needs_extension():
                extend_session(session=session)
        except litefs.ReplayToPrimary as replay:
            # Answered here: raised out of a middleware it would first be logged as a 500.
            return litefs.replay_to_primary(request, reason=replay.reason)
        return None

    def process_response(self, request, response):
        response = super().process_response(request, response)
        session = getattr(request, "session", None)
        if (
            session is not None
            and getattr(session, "extended", False)
            and settings.SESSION_COOKIE_NAME not in response.cookies
            and session.session_key
        ):
            # Django re-sends the cookie only when the session data changed; an extension
            # changes only the expiry, so the cookie's max-age is refreshed here.
            response.set_cookie(
                settings.SESSION_COOKIE_NAME,
                session.session_key,
                max_age=settings.SESSION_COOKIE_AGE,
                domain=settings.SESSION_COOKIE_DOMAIN,
                path=settings.SESSION_COOKIE_PATH,
                secure=settings.SESSION_COOKIE_SECURE or None,
                httponly=settings.SESSION_COOKIE_HTTPONLY or None,
                samesite=settings.SESSION_COOKIE_SAMESITE,
            )
        return response


def parse_client_id(value: str | None) -> str | None:
    """The cookie's UUID in canonical form, or None when missing or not a UUID."""
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None


class ClientIdMiddleware:
    """Gives every visitor a long-lived `client_id` cookie and `request.client_id`.

    Anonymous post reads are recorded against this id and moved to the account at sign-in
    (the blog's `user_logged_in` receiver). Issuing it writes nothing to the database.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        client_id = parse_client_id(request.COOKIES.get(settings.CLIENT_ID_COOKIE))
        request.client_id = client_id or str(uuid.uuid4())
        response = self.get_response(request)
        if client_id is None:
            response.set_cookie(
                settings.CLIENT_ID_COOKIE,
                request.client_id,
                max_age=CLIENT_ID_MAX_AGE,
                secure=settings.SESSION_COOKIE_SECURE or None,
                httponly=True,
                samesite="Lax",
            )
        return response
