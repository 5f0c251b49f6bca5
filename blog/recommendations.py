"""Three posts to read next: related to this one, not read yet, never drafts or unlisted."""

from blog.content import Catalog, Post

COUNT = 3


def _score(post: Post, *, like: Post) -> int:
    """Shared categories weigh more than shared keywords; ties go to the newer post."""
    return 3 * len(like.topics[0] & post.topics[0]) + len(like.topics[1] & post.topics[1])


def related(post: Post, *, catalog: Catalog) -> list[Post]:
    """Every listed post but this one, most related first. Worked out once per post and per
    version of the files (the catalog is replaced when a file changes), not per request: the
    sort grows with the number of posts."""
    return catalog.related_by_slug.get_or_compute(
        post.slug,
        lambda: sorted(
            (candidate for candidate in catalog.listed if candidate.slug != post.slug),
            key=lambda candidate: (_score(candidate, like=post), candidate.date),
            reverse=True,
        ),
    )


def recommend(
    *, post: Post, catalog: Catalog, exclude_slugs: set[str], count: int = COUNT
) -> list[Post]:
    chosen = []
    for candidate in related(post, catalog=catalog):
        if candidate.slug not in exclude_slugs:
            chosen.append(candidate)
            if len(chosen) == count:
                break
    return chosen
