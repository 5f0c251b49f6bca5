"""Three posts to read next: related to this one, not read yet, never drafts or unlisted."""

from blog.content import Post

COUNT = 3


def _score(post: Post, *, like: Post) -> int:
    """Shared categories weigh more than shared keywords; ties go to the newer post."""
    categories = {category.lower() for category in like.categories}
    keywords = {keyword.lower() for keyword in like.keywords}
    return 3 * len(categories & {c.lower() for c in post.categories}) + len(
        keywords & {k.lower() for k in post.keywords}
    )


def recommend(
    *, post: Post, candidates: list[Post], exclude_slugs: set[str], count: int = COUNT
) -> list[Post]:
    eligible = [
        candidate
        for candidate in candidates
        if candidate.listed and candidate.slug != post.slug and candidate.slug not in exclude_slugs
    ]
    eligible.sort(
        key=lambda candidate: (_score(candidate, like=post), candidate.date), reverse=True
    )
    return eligible[:count]
