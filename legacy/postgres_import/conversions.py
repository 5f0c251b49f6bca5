"""The per-row conversions Postgres cannot do for us: session payloads and audio data URLs."""

import binascii
import hashlib
from collections.abc import Callable, Iterable
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


NOT_A_DATA_URL = "base64 is not a data:<type>;base64,<data> URL"
NOT_CANONICAL = "base64's data is not canonical base64 (it could not be rebuilt exactly)"


# Recordings are decoded and encoded in slices of this many bytes of base64 (a multiple of 4,
# so that each slice decodes on its own): a 13 MB data URL never has a decoded twin in memory.
DECODE_SLICE = 4 * 256 * 1024
# ... and encoded for the checksum in slices of this many bytes (a multiple of 3, so that the
# slices' base64 joins up).
ENCODE_SLICE = DECODE_SLICE // 4 * 3


def decode_data_url_into(url: bytes, write: Callable[[bytes], object]) -> tuple[str, int]:
    """Decode the UTF-8 bytes of 'data:<mime>;base64,<data>' into write(), a slice at a time;
    returns (mime with its parameters, decoded size).

    Raises ValueError, saying why, when the URL could not be rebuilt into the identical string:
    only canonical base64 (padded, no whitespace, zero unused bits) round-trips. Works on views
    of `url`: no copy of the (up to 13 MB) text is made.
    """
    comma = url.find(b",")
    header = url[: max(comma, 0)]
    prefix, marker = DATA_URL_PREFIX.encode(), BASE64_MARKER.encode()
    if not (
        comma >= 0
        and header.startswith(prefix)
        and header.endswith(marker)
        and len(header) > len(prefix) + len(marker)
    ):
        raise ValueError(NOT_A_DATA_URL)
    start, end = comma + 1, len(url)
    # Padding may only end the data; strict decoding of each slice refuses anything outside
    # the alphabet, and padding that is missing or in excess ...
    if url.find(b"=", start, max(start, end - 2)) >= 0:
        raise ValueError(NOT_CANONICAL)
    view = memoryview(url)
    size = 0
    last = b""
    try:
        for at in range(start, end, DECODE_SLICE):
            last = binascii.a2b_base64(view[at : at + DECODE_SLICE], strict_mode=True)
            write(last)
            size += len(last)
    except binascii.Error:
        raise ValueError(NOT_CANONICAL) from None
    # ... which leaves the unused bits of the last group: only re-encoding it shows them.
    tail = last[(len(last) - 1) // 3 * 3 :] if last else b""
    if binascii.b2a_base64(tail, newline=False) != view[end - (len(tail) + 2) // 3 * 4 :]:
        raise ValueError(NOT_CANONICAL)
    return header[len(prefix) : -len(marker)].decode("utf-8"), size


def data_url_problem(url: bytes, *, max_mime_length: int) -> str | None:
    """Why a legacy call's data URL (its UTF-8 bytes) cannot become the site's audio and back;
    None if it can.

    Checked here rather than in Postgres: its regular expressions over megabytes of base64
    are slower than Python's base64 codec.
    """
    try:
        mime, _size = decode_data_url_into(url, lambda _decoded: None)
    except ValueError as error:
        return str(error)
    if len(mime) > max_mime_length:
        return f"base64's MIME type is longer than {max_mime_length} characters"
    return None


def md5_data_url(mime: str, audio: Iterable[bytes]) -> str:
    """The md5 Postgres computes of a call's original data URL, from its stored audio, given
    in slices of ENCODE_SLICE bytes (the last may be shorter): encoded a slice at a time."""
    digest = hashlib.md5(f"{DATA_URL_PREFIX}{mime}{BASE64_MARKER},".encode(), usedforsecurity=False)
    for piece in audio:
        digest.update(binascii.b2a_base64(piece, newline=False))
    return digest.hexdigest()
