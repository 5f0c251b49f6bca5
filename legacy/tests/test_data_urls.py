"""Legacy calls' data URLs: only those that rebuild into the identical string are accepted."""

import base64
import hashlib
import os

import pytest

from legacy.postgres_import.conversions import (
    ENCODE_SLICE,
    NOT_A_DATA_URL,
    NOT_CANONICAL,
    data_url_problem,
    decode_data_url_into,
    md5_data_url,
)


def data_url(mime: str, audio: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(audio).decode()}"


def decode_data_url(url: bytes) -> tuple[str, bytes]:
    parts: list[bytes] = []
    mime, size = decode_data_url_into(url, parts.append)
    assert size == sum(map(len, parts))
    return mime, b"".join(parts)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 6, 1000, 1001, 1002])
def test_a_canonical_data_url_decodes_and_rebuilds_identically(size):
    audio = os.urandom(size)
    url = data_url("audio/webm;codecs=opus", audio)

    mime, decoded = decode_data_url(url.encode())

    assert (mime, decoded) == ("audio/webm;codecs=opus", audio)
    assert data_url(mime, decoded) == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://example.com/call.mp3", NOT_A_DATA_URL),
        ("data:audio/mpeg;base64", NOT_A_DATA_URL),  # no comma, no data
        ("data:;base64,AAAA", NOT_A_DATA_URL),  # no MIME type
        ("data:audio/mpeg,AAAA", NOT_A_DATA_URL),  # not base64
        ("data:audio/mpeg;base64,AAAA\nAAAA", NOT_CANONICAL),  # line breaks
        ("data:audio/mpeg;base64,AAA", NOT_CANONICAL),  # padding missing
        ("data:audio/mpeg;base64,AA==AAAA", NOT_CANONICAL),  # padding in the middle
        ("data:audio/mpeg;base64,AAAA====", NOT_CANONICAL),  # padding in excess
        ("data:audio/mpeg;base64,AB==", NOT_CANONICAL),  # unused bits set: rebuilds as AA==
        ("data:audio/mpeg;base64,AAB=", NOT_CANONICAL),  # likewise: rebuilds as AAA=
        ("data:audio/mpeg;base64,AA-_", NOT_CANONICAL),  # the URL-safe alphabet
    ],
)
def test_a_data_url_that_would_not_rebuild_identically_is_refused_with_the_reason(url, problem):
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        decode_data_url(url.encode())
    assert data_url_problem(url.encode(), max_mime_length=100) == problem


def test_a_mime_type_longer_than_the_site_keeps_is_a_problem():
    url = data_url("audio/" + "x" * 95, b"abc").encode()
    assert data_url_problem(url, max_mime_length=100) == (
        "base64's MIME type is longer than 100 characters"
    )
    assert data_url_problem(url, max_mime_length=101) is None


def test_the_checksum_of_a_stored_recording_is_the_md5_of_its_original_data_url():
    audio = os.urandom(3 * ENCODE_SLICE + 1234)  # several slices, the last one short
    url = f"data:audio/wav;base64,{base64.b64encode(audio).decode()}"
    slices = (audio[at : at + ENCODE_SLICE] for at in range(0, len(audio), ENCODE_SLICE))
    assert md5_data_url("audio/wav", slices) == hashlib.md5(url.encode()).hexdigest()
