"""Blog fragments, each rendered once per distinct input (see blog/fragments.py)."""

import json

from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from blog.fragments import post_page_key, remembered, rendered_fragments

register = template.Library()


def _render(template_name: str, context: dict, *, key: tuple) -> SafeString:
    html = remembered(
        rendered_fragments,
        (template_name, *key),
        lambda: render_to_string(template_name, context),
    )
    return mark_safe(html)


@register.simple_tag
def standings_table(standings: dict, caption: str) -> SafeString:
    return _render(
        "blog/_standings.html",
        {"standings": standings, "caption": caption},
        key=(json.dumps(standings, sort_keys=True), caption),
    )


@register.simple_tag
def post_page(*, post, compiled, standings, has_read, recommended, required_ms) -> SafeString:
    """Everything in a post page's main column; the reader-specific parts (the CSRF token, the
    user's menu) live outside it, in the page template."""
    key = post_page_key(
        post=post,
        standings=standings,
        has_read=has_read,
        recommended=recommended,
        required_ms=required_ms,
    )
    context = {
        "post": post,
        "compiled": compiled,
        "standings": standings,
        "has_read": has_read,
        "recommended": recommended,
        "required_ms": required_ms,
    }
    return _render("blog/_post_page.html", context, key=key)


@register.simple_tag
def post_card(post, is_read: bool | None, snippet: str = "") -> SafeString:
    return _render(
        "blog/_post_card.html",
        {"post": post, "is_read": is_read, "snippet": snippet},
        key=(post.slug, post.file_hash, is_read, snippet, settings.BLOG_WORDS_PER_MINUTE),
    )
