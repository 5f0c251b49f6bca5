"""The blog index's filters: category, full-text search and read/unread, in that order."""

from dataclasses import dataclass
from urllib.parse import urlencode

from blog import search
from blog.content import Catalog, Post

READ_FILTERS = ("read", "unread")
MAX_QUERY = 200


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


@dataclass(frozen=True)
class Entry:
    post: Post
    snippet: str = ""  # search matches, as safe HTML with <mark>


def categories(posts: list[Post]) -> list[str]:
    return sorted({category for post in posts for category in post.categories}, key=str.lower)


def apply(
    filters: Filters, *, posts: list[Post], catalog: Catalog, read_slugs: set[str]
) -> list[Entry]:
    """The posts matching `filters`: newest first, or best match first when searching."""
    if filters.category:
        wanted = filters.category.lower()
        posts = [post for post in posts if wanted in (c.lower() for c in post.categories)]
    if filters.query:
        entries = [
            Entry(post, snippet)
            for post, snippet in search.search(filters.query, visible=posts, catalog=catalog)
        ]
    else:
        entries = [Entry(post) for post in posts]
    if filters.read == "read":
        entries = [entry for entry in entries if entry.post.slug in read_slugs]
    elif filters.read == "unread":
        entries = [entry for entry in entries if entry.post.slug not in read_slugs]
    return entries
