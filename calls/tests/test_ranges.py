"""calls.ranges: the Range header rules of RFC 9110, on their own and through a view."""

import pytest
from django.test import RequestFactory

from calls.ranges import Unsatisfiable, parse_range, ranged_audio_response

DATA = bytes(range(256)) * 4  # 1,024 bytes


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=1000-", (1000, 1023)),
        ("bytes=1000-5000", (1000, 1023)),
        ("bytes=-24", (1000, 1023)),
        ("bytes=-5000", (0, 1023)),
        ("bytes=0-0", (0, 0)),
        ("bytes=10-5", None),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("bytes=-", None),
        ("nonsense", None),
    ],
)
def test_parse_range_reads_single_byte_ranges_and_ignores_the_rest(header, expected):
    assert parse_range(header, size=1024) == expected


@pytest.mark.parametrize("header", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
def test_parse_range_rejects_ranges_outside_the_file(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, size=1024)


def respond(method="get", **headers):
    request = getattr(RequestFactory(), method)("/audio", headers=headers)
    reads = []

    def read(start, length):
        reads.append((start, length))
        return DATA[start : start + length]

    response = ranged_audio_response(
        request, size=len(DATA), content_type="audio/mpeg", read=read, etag='"v1"'
    )
    return response, reads


def test_no_range_gets_the_whole_file():
    response, _ = respond()
    assert response.status_code == 200
    assert response.content == DATA
    assert response["Content-Length"] == "1024"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "audio/mpeg"


def test_a_range_gets_206_with_content_range_and_only_those_bytes():
    response, reads = respond(range="bytes=10-19")
    assert response.status_code == 206
    assert response["Content-Range"] == "bytes 10-19/1024"
    assert response["Content-Length"] == "10"
    assert response.content == DATA[10:20]
    assert reads == [(10, 10)]


def test_an_unsatisfiable_range_gets_416_with_the_size():
    response, reads = respond(range="bytes=2000-")
    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */1024"
    assert reads == []


def test_head_reads_nothing_but_announces_the_length():
    response, reads = respond(method="head")
    assert response.status_code == 200
    assert response["Content-Length"] == "1024"
    assert reads == []


def test_a_stale_if_range_gets_the_whole_file():
    response, _ = respond(range="bytes=0-9", if_range='"v0"')
    assert response.status_code == 200
    assert response.content == DATA


def test_a_current_if_range_gets_the_range():
    response, _ = respond(range="bytes=0-9", if_range='"v1"')
    assert response.status_code == 206


def test_a_matching_etag_gets_304():
    response, reads = respond(if_none_match='"v1"')
    assert response.status_code == 304
    assert reads == []
