"""Rendered HTML remembered in-process, keyed by everything it is rendered from.

Rendering Django templates is most of the cost of a warm blog page: the compiled post and the
standings come from cachedb in microseconds. Fragments that depend only on their arguments are
rendered once per distinct key; a change of any input makes a new key, so nothing is ever
stale, and each memo is bounded (cachedb.lru.BoundedLRU: least recently used entries go first).
In DEBUG nothing is remembered, so template edits show at once.

Whole pages are remembered only for anonymous visitors, who all see the same page for the same
address: the key holds the full path (the sign-in link carries it as ?next=) and the view's own
inputs; the region in the footer is this machine's, the same on every page it serves. The
visitor's CSRF token, and the values a view names as per-request (a post's read ticket), are
holes punched into the stored HTML per request. Signed-in
readers, and anyone with a flash message pending, get a normal render. If base.html starts to
show other per-request details to anonymous visitors, they belong in `anonymous_page_key`.
"""

import json
import secrets
from collections.abc import Callable

from django.conf import settings
from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.html import escape

from blog.compiler import COMPILER_VERSION
from cachedb.lru import BoundedLRU

MAX_FRAGMENTS = 1024
MAX_PAGES = 256
# Stand in for per-request values in a remembered page; random, so no post can contain them.
_HOLE_SECRET = secrets.token_hex(16)
CSRF_HOLE = f"csrf-hole-{_HOLE_SECRET}"


def hole(name: str) -> str:
    """What stands in for the per-request context value `name` in a remembered page."""
    return f"{name}-hole-{_HOLE_SECRET}"


# Rendered template fragments, keyed by template and inputs (blog/templatetags/blog_fragments.py).
rendered_fragments: BoundedLRU[tuple, str] = BoundedLRU(MAX_FRAGMENTS)
# Whole pages as anonymous visitors see them, with holes for the per-request values.
anonymous_pages: BoundedLRU[tuple, str] = BoundedLRU(MAX_PAGES)


def remembered(memo: BoundedLRU[tuple, str], key: tuple, render_now: Callable[[], str]) -> str:
    """The HTML `memo` holds under `key`, or `render_now()` remembered there (not in DEBUG)."""
    if settings.DEBUG:
        return render_now()
    return memo.get_or_compute(key, render_now)


def post_page_key(*, post, standings, has_read, recommended, required_ms) -> tuple:
    """Everything the main column of a post page is rendered from."""
    return (
        post.slug,
        post.file_hash,
        COMPILER_VERSION,
        json.dumps(standings, sort_keys=True),
        has_read,
        tuple((other.slug, other.file_hash) for other in recommended),
        required_ms,
        settings.BLOG_WORDS_PER_MINUTE,
    )


def anonymous_page_key(request, template_name: str, key: tuple) -> tuple:
    return (template_name, request.get_full_path(), *key)


def render_page(
    request, template_name: str, context: dict, *, key: tuple, per_request: dict | None = None
) -> HttpResponse:
    """render(), remembered for anonymous visitors under `key` (every input of `context`).

    `per_request` holds context values of this request alone (strings, shown as text): they
    are not part of the key but punched into the remembered page, as the CSRF token is.
    """
    per_request = per_request or {}
    user = getattr(request, "user", None)
    if (user is not None and user.is_authenticated) or len(get_messages(request)):
        return render(request, template_name, {**context, **per_request})

    def render_now() -> str:
        holes = {name: hole(name) for name in per_request}
        return render_to_string(
            template_name, {**context, **holes, "csrf_token": CSRF_HOLE}, request
        )

    html = remembered(anonymous_pages, anonymous_page_key(request, template_name, key), render_now)
    html = html.replace(CSRF_HOLE, get_token(request))
    for name, value in per_request.items():
        html = html.replace(hole(name), escape(value))
    return HttpResponse(html)
