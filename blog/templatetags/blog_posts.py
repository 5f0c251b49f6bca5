"""Posts looked up by slug from other apps' templates (a reader's reads on /me)."""

from django import template

from blog import content

register = template.Library()


@register.filter
def post_title(slug: str) -> str:
    """The title of the post at `slug`, or "" when no such post exists any more.

    One stat of the post's file (content.get_post), not a scan of the whole folder."""
    post = content.get_post(slug)
    return post.title if post is not None else ""
