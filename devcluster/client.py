"""A small cookie-keeping HTTP client for the emulated edge (tests, bench, demos).

Like a browser it keeps cookies (and forgets deleted ones) and does not follow redirects, so a
caller sees each response as the edge returned it.
"""

import http.client
import re
import urllib.parse
from dataclasses import dataclass
from http.cookies import SimpleCookie

_CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def set_cookies(self) -> SimpleCookie:
        jar = SimpleCookie()
        for key, value in self.headers:
            if key.lower() == "set-cookie":
                jar.load(value)
        return jar

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def served_by(self) -> str | None:
        return self.header("X-Litesite-Instance")

    @property
    def route(self) -> list[str]:
        return (self.header("X-Edge-Route") or "").split(",")

    @property
    def hops(self) -> int:
        return int(self.header("X-Edge-Hops") or 0)


class Client:
    def __init__(self, base_url: str):
        parts = urllib.parse.urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, *, body: bytes = b"", headers=None) -> Response:
        assert self.host is not None  # base_url is an http:// URL
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            all_headers = dict(headers or {})
            if self.cookies:
                all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            connection.request(method, path, body=body, headers=all_headers)
            raw = connection.getresponse()
            response = Response(raw.status, raw.getheaders(), raw.read())
        finally:
            connection.close()
        for name, morsel in response.set_cookies().items():
            if morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"]):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value
        return response

    def get(self, path: str, *, headers=None) -> Response:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, data: dict | None = None, *, body: bytes | None = None, headers=None):
        headers = dict(headers or {})
        if body is None:
            body = urllib.parse.urlencode(data or {}).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return self.request("POST", path, body=body, headers=headers)

    def csrf_token(self, path: str) -> str:
        """GET a form page and return its CSRF token (the csrftoken cookie comes with it)."""
        response = self.get(path)
        match = _CSRF_RE.search(response.text)
        if match is None:
            raise AssertionError(
                f"No CSRF token in {path} ({response.status}): {response.text[:300]}"
            )
        return match.group(1)
