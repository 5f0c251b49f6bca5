"""The reader's post reads, rendered by the blog for the accounts profile (accounts knows no
blog code: its template loads this library)."""

from django import template

from blog.reads import latest_reads

register = template.Library()


@register.inclusion_tag("blog/_reads.html", takes_context=True)
def reads_of(context, user) -> dict:
    """`{% load blog_reads %}{% reads_of user %}`: the user's reads, newest first, by title."""
    reads, total = latest_reads(user=user, request=context.get("request"))
    return {"reads": reads, "reads_total": total}
