"""Rendered HTML remembered in-process, keyed by everything it is rendered from.

Rendering Django templates is most of the cost of a warm blog page: the compiled post and the
standings come from cachedb in microseconds. Fragments that depend only on their arguments are
rendered once per distinct key; a change of any input makes a new key, so nothing is ever
stale, and the memo is bounded (least recently used entries go first). In DEBUG nothing is
remembered, so template edits show at once.

Whole pages are remembered only for anonymous visitors, who all see the same page for the same
address: the key holds the full path (the sign-in link carries it as ?next=) and the view's own
inputs; the region in the footer is this machine's, the same on every page it serves. The
visitor's CSRF token is the one hole, punched into the stored HTML per request. Signed-in
readers, and anyone with a flash message pending, get a normal render. If base.html starts to
show other per-request details to anonymous visitors, they belong in `anonymous_page_key`.
"""

import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable

from django.conf import settings
from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string

from blog.compiler import COMPILER_VERSION

MAX_FRAGMENTS = 1024
MAX_PAGES = 256
# Stands in for the CSRF token in a remembered page; random, so no post can contain it.
CSRF_HOLE = f"csrf-hole-{secrets.token_hex(16)}"


class RenderMemo:
    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple, str] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_render(self, key: tuple, render_now: Callable[[], str]) -> str:
        if settings.DEBUG:
            return render_now()
        with self._lock:
            html = self._entries.get(key)
            if html is not None:
                self._entries.move_to_end(key)
                return html
        html = render_now()
        with self._lock:
            self._entries[key] = html
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return html

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


fragments = RenderMemo(MAX_FRAGMENTS)
pages = RenderMemo(MAX_PAGES)


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


def render_page(request, template_name: str, context: dict, *, key: tuple) -> HttpResponse:
    """render(), remembered for anonymous visitors under `key` (every input of `context`)."""
    user = getattr(request, "user", None)
    if (user is not None and user.is_authenticated) or len(get_messages(request)):
        return render(request, template_name, context)

    def render_now() -> str:
        return render_to_string(template_name, {**context, "csrf_token": CSRF_HOLE}, request)

    html = pages.get_or_render(anonymous_page_key(request, template_name, key), render_now)
    return HttpResponse(html.replace(CSRF_HOLE, get_token(request)))
