"""The per-row conversions Postgres cannot do for us: session payloads and audio data URLs."""

import base64
import binascii
import hashlib
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

DATA_URL_PREFIX = "data:"
BASE64_MARKER = ";base64"


class SessionPayloads:
    """Encodes the Django session a migrated "Session" row must carry to sign its user in.

    The payload is signed with SECRET_KEY, so the command must run with the production key
    (it does, in a console on the primary).
    """

    def __init__(self, *, user_for_hash=None):
        self.store = import_module(settings.SESSION_ENGINE).SessionStore()
        self.backend = settings.AUTHENTICATION_BACKENDS[0]
        # Only a user model with get_session_auth_hash needs the hash; ours has none today.
        self.user_for_hash = user_for_hash

    def encode(self, user_id: str) -> str:
        data = {SESSION_KEY: user_id, BACKEND_SESSION_KEY: self.backend}
        if self.user_for_hash is not None:
            data[HASH_SESSION_KEY] = self.user_for_hash(user_id).get_session_auth_hash()
        return self.store.encode(data)

    def user_id(self, session_data: str) -> str | None:
        return self.store.decode(session_data).get(SESSION_KEY)


def split_data_url(url: str) -> tuple[str, bytes]:
    """'data:<mime>;base64,<data>' -> (mime with its parameters, bytes).

    Raises ValueError when the URL could not be rebuilt into the identical string.
    """
    header, comma, payload = url.partition(",")
    if not (comma and header.startswith(DATA_URL_PREFIX) and header.endswith(BASE64_MARKER)):
        raise ValueError("not a data:<type>;base64,<data> URL")
    mime = header[len(DATA_URL_PREFIX) : -len(BASE64_MARKER)]
    try:
        audio = base64.b64decode(payload, validate=True)
    except binascii.Error as error:
        raise ValueError(f"the base64 data does not decode ({error})") from None
    if base64.b64encode(audio).decode("ascii") != payload:
        raise ValueError("the base64 data is not canonical")
    return mime, audio


def data_url(mime: str, audio: bytes) -> str:
    return f"{DATA_URL_PREFIX}{mime}{BASE64_MARKER},{base64.b64encode(audio).decode('ascii')}"


def md5_data_url(mime: str | None, audio: bytes | None) -> str | None:
    """Registered in SQLite for the verification: the md5 Postgres computes of the original URL."""
    if mime is None or audio is None:
        return None
    url = data_url(mime, bytes(audio)).encode("utf-8")
    return hashlib.md5(url, usedforsecurity=False).hexdigest()
