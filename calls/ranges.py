"""HTTP Range responses for stored audio, so players can seek (RFC 9110, section 14).

One byte range per request is what audio players ask for; a multi-range request is answered
with the whole file, which the RFC allows.
"""

import re
from collections.abc import Callable

from django.http import Http404, HttpResponse
from django.utils.http import http_date

_SINGLE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Unsatisfiable(Exception):
    """A well-formed range that lies entirely outside the file."""


def parse_range(header: str, *, size: int) -> tuple[int, int] | None:
    """The (first, last) byte positions a Range header asks for, or None to send everything.

    Raises Unsatisfiable for a range that starts past the end, or an empty suffix.
    """
    match = _SINGLE_RANGE.match(header.replace(" ", ""))
    if not match or match.groups() == ("", ""):
        return None  # not a single byte range: ignore it and send the whole file
    first, last = match.groups()
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return max(size - suffix, 0), size - 1
    first = int(first)
    if last != "" and int(last) < first:
        return None  # invalid range-spec: the RFC says to ignore the header
    if first >= size:
        raise Unsatisfiable
    return first, size - 1 if last == "" else min(int(last), size - 1)


def ranged_audio_response(
    request,
    *,
    size: int,
    content_type: str,
    read: Callable[[int, int], bytes | None],
    etag: str,
    last_modified=None,
    cache_control: str = "private, max-age=0, must-revalidate",
) -> HttpResponse:
    """200 with everything, 206 with the asked-for range, or 416; HEAD reads no audio at all.

    `read(start, length)` returns that slice of the recording, or None when the recording went
    away after the caller looked it up (deleted or published meanwhile): that is a 404.
    """
    headers = {"Accept-Ranges": "bytes", "ETag": etag, "Cache-Control": cache_control}
    if last_modified is not None:
        headers["Last-Modified"] = http_date(last_modified.timestamp())
    byte_range = None
    header = request.headers.get("Range", "")
    # If-Range: the client's copy must still be current, or it gets the whole new file.
    if header and request.headers.get("If-Range", etag) in (etag, headers.get("Last-Modified")):
        try:
            byte_range = parse_range(header, size=size)
        except Unsatisfiable:
            response = HttpResponse(status=416, headers=headers)
            response["Content-Range"] = f"bytes */{size}"
            return response
    if request.headers.get("If-None-Match") == etag and byte_range is None:
        return HttpResponse(status=304, headers=headers)
    first, last = byte_range if byte_range else (0, size - 1)
    length = last - first + 1 if size else 0
    body = b"" if request.method == "HEAD" or length == 0 else read(first, length)
    if body is None:
        raise Http404("This recording no longer exists.")
    response = HttpResponse(body, content_type=content_type, headers=headers)
    if byte_range:
        response.status_code = 206
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Content-Length"] = str(length)
    return response
