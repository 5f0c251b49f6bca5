"""The Content-Security-Policy header (django-csp), and templates that need no inline code.

The browser tests check that pages satisfy the policy; these check the policy itself.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import RequestFactory

from litesite import errors

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "media-src": ["'self'", "blob:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# Served as pages; emails are not (mail clients need inline styles, and ignore the header).
PAGE_TEMPLATES = [
    path
    for path in Path(settings.BASE_DIR, "templates").rglob("*.html")
    if "email" not in path.parts
]


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


@pytest.mark.parametrize("path", ["/", "/blog/", "/blog/hello-litesite/", "/calls/", "/login"])
def test_pages_carry_a_policy_that_allows_no_inline_code(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert directives(response["Content-Security-Policy"]) == POLICY


def test_signed_in_pages_carry_the_policy(reader_client):
    for path in ("/me", "/calls/record/"):
        assert directives(reader_client.get(path)["Content-Security-Policy"]) == POLICY, path


def test_the_not_found_page_carries_the_policy(client):
    response = client.get("/certainly-not-a-page")
    assert response.status_code == 404
    assert directives(response["Content-Security-Policy"]) == POLICY


def test_a_post_svg_keeps_its_own_stricter_policy(client):
    response = client.get("/blog/litefs-replication-explained/replication.svg")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"


def test_the_error_pages_load_their_style_from_a_file():
    for response in (
        errors.page_not_found(RequestFactory().get("/x"), Exception("not found")),
        errors.server_error(RequestFactory().get("/")),
    ):
        html = response.content.decode()
        assert "<style" not in html
        assert 'href="/static/css/error.css"' in html


@pytest.mark.parametrize(
    "template", PAGE_TEMPLATES, ids=lambda path: str(path.relative_to(settings.BASE_DIR))
)
def test_no_page_template_has_inline_script_style_or_event_handlers(template):
    html = template.read_text("utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline <script>"
    assert "<style" not in html, "<style> block"
    assert not re.search(r"\sstyle=", html), "style attribute"
    assert not re.search(r"\son[a-z]+\s*=", html), "on* event handler"
    assert "javascript:" not in html, "javascript: URL"
