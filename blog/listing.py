"""The blog index's filters: category, full-text search and read/unread, in that order."""

from dataclasses import dataclass
from urllib.parse import urlencode

from blog import search
from blog.content import Catalog, Post

READ_FILTERS = ("read", "unread")
MAX_QUERY = search.MAX_QUERY_CHARS


@dataclass(frozen=True)
class Filters:
    category: str = ""
    query: str = ""
    read: str = ""

    @classmethod
    def from_query(cls, params) -> "Filters":
        """From the request's GET parameters; unknown values are ignored rather than refused."""
        read = params.get("read", "")
        return cls(
            category=params.get("category", "").strip(),
            query=params.get("q", "").strip()[:MAX_QUERY],
            read=read if read in READ_FILTERS else "",
        )

    def urlencode(self) -> str:
        """The active filters as a query string, for pagination links."""
        pairs = {"q": self.query, "category": self.category, "read": self.read}
        return urlencode({name: value for name, value in pairs.items() if value})


def categories(posts: list[Post]) -> list[str]:
    return sorted({category for post in posts for category in post.categories}, key=str.lower)


def apply(
    filters: Filters, *, posts: list[Post], catalog: Catalog, read_slugs: set[str]
) -> list[Post]:
    """The posts matching `filters`: newest first, or best match first when searching."""
    if filters.category:
        wanted = filters.category.lower()
        posts = [post for post in posts if wanted in (c.lower() for c in post.categories)]
    if filters.query:
        posts = search.search(filters.query, visible=posts, catalog=catalog)
    if filters.read == "read":
        posts = [post for post in posts if post.slug in read_slugs]
    elif filters.read == "unread":
        posts = [post for post in posts if post.slug not in read_slugs]
    return posts


def snippets(filters: Filters, *, shown: list[Post]) -> dict[str, str]:
    """The search snippets of the posts shown (one page), by slug; none without a search."""
    return search.snippets(filters.query, posts=shown) if filters.query else {}
