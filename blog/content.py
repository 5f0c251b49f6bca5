"""Posts are Markdown files under CONTENT_DIR/blog/<slug>/index.md, with YAML front matter.

The list of posts is read from disk on demand and remembered per process, keyed by each file's
(inode, size, mtime): editing, adding or removing a post is seen on the next request without a
restart, and an unchanged tree costs one directory scan and a stat per post. The compiled HTML is
kept in cachedb (see `compiled()`), under a key holding the slug, the file's content hash and
COMPILER_VERSION, so a changed file can never be served from a stale entry.
"""

import datetime as dt
import hashlib
import logging
import os
import re
import stat
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlencode

import frontmatter
import yaml
from django.conf import settings
from django.http import Http404
from django.urls import reverse

from blog import compiler
from cachedb.cachified import cachified
from cachedb.lru import BoundedLRU
from litesite import metrics

logger = logging.getLogger(__name__)

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
ASSET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,120}")
ASSET_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".avif": "image/avif",
}
COMPILED_TTL = 30 * 24 * 60 * 60


@dataclass(frozen=True)
class Post:
    slug: str
    title: str
    date: dt.date
    description: str
    categories: tuple[str, ...]
    keywords: tuple[str, ...]
    draft: bool
    unlisted: bool
    file_hash: str
    words: int
    excerpt: str
    path: Path = field(repr=False, compare=False)

    @cached_property
    def url(self) -> str:
        return reverse("blog:post", args=[self.slug])

    @cached_property
    def mark_read_url(self) -> str:
        return reverse("blog:mark-read", args=[self.slug])

    @cached_property
    def category_links(self) -> list[tuple[str, str]]:
        index = reverse("blog:index")
        return [(name, f"{index}?{urlencode({'category': name})}") for name in self.categories]

    @cached_property
    def topics(self) -> tuple[frozenset[str], frozenset[str]]:
        """Categories and keywords, lower-cased, for comparing posts."""
        return (
            frozenset(category.lower() for category in self.categories),
            frozenset(keyword.lower() for keyword in self.keywords),
        )

    @property
    def published_at(self) -> dt.datetime:
        return dt.datetime.combine(self.date, dt.time(12, 0), tzinfo=dt.UTC)

    @property
    def listed(self) -> bool:
        """Shown in the index, feeds, sitemap, search and recommendations."""
        return not self.draft and not self.unlisted

    @property
    def summary(self) -> str:
        return self.description or self.excerpt

    @property
    def reading_minutes(self) -> int:
        return compiler.reading_minutes(
            words=self.words, words_per_minute=settings.BLOG_WORDS_PER_MINUTE
        )

    @property
    def report_after_ms(self) -> int:
        """The page reports a read after this long with the tab visible: a share
        (BLOG_READ_THRESHOLD) of the estimated reading time, unrounded."""
        minutes = self.words / settings.BLOG_WORDS_PER_MINUTE
        return round(minutes * 60_000 * settings.BLOG_READ_THRESHOLD)

    def as_json(self, *, site_url: str) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "date": self.date.isoformat(),
            "url": site_url + self.url,
            "description": self.summary,
            "categories": list(self.categories),
            "keywords": list(self.keywords),
            "reading_minutes": self.reading_minutes,
        }


def is_valid_slug(slug: str) -> bool:
    return bool(SLUG.fullmatch(slug)) and len(slug) <= 200


def _as_list(value: Any, *, name: str, path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, list):
        raise ValueError(f"{path}: `{name}` must be a list or a comma-separated string")
    return tuple(str(item).strip() for item in value if str(item).strip())


def _as_date(value: Any, *, path: Path) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{path}: `date` must be a date like 2024-05-01, not {value!r}")


def read_post(path: Path, *, slug: str) -> Post:
    """Parse one post file. Raises ValueError with a clear sentence on bad front matter."""
    raw = path.read_bytes()
    try:
        document = frontmatter.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: unreadable front matter or encoding ({exc})") from exc
    meta = document.metadata
    title = str(meta.get("title") or "").strip()
    if not title:
        raise ValueError(f"{path}: front matter needs a `title`")
    if "date" not in meta:
        raise ValueError(f"{path}: front matter needs a `date`")
    tokens = compiler.parse(document.content)
    return Post(
        slug=slug,
        title=title,
        date=_as_date(meta["date"], path=path),
        description=str(meta.get("description") or "").strip(),
        categories=_as_list(meta.get("categories"), name="categories", path=path),
        keywords=_as_list(meta.get("keywords"), name="keywords", path=path),
        draft=bool(meta.get("draft", False)),
        unlisted=bool(meta.get("unlisted", False)),
        file_hash=hashlib.sha256(raw).hexdigest(),
        words=compiler.word_count(tokens),
        excerpt=compiler.excerpt(tokens),
        path=path,
    )


def can_see_drafts(request) -> bool:
    """Drafts are for the author: shown in development and to staff, hidden elsewhere."""
    user = getattr(request, "user", None)
    return settings.DEBUG or bool(user and user.is_staff)


class Catalog:
    """One consistent view of the posts on disk. Views take one per request."""

    def __init__(self, posts: list[Post]):
        self.newest_first = sorted(posts, key=lambda post: (post.date, post.slug), reverse=True)
        self.by_slug = {post.slug: post for post in posts}
        # Computed once per change of the files, not per request.
        self.listed = [post for post in self.newest_first if post.listed]
        self.with_drafts = [post for post in self.newest_first if not post.unlisted]
        # Each post's related posts (blog/recommendations.py), worked out once per post for as
        # long as this catalog is current; one entry per post at most.
        self.related_by_slug: BoundedLRU[str, list[Post]] = BoundedLRU(len(posts))

    def get(self, slug: str) -> Post | None:
        return self.by_slug.get(slug) if is_valid_slug(slug) else None

    def visible(self, request) -> list[Post]:
        """Posts for the index: listed ones, plus drafts for those allowed to see drafts."""
        return self.with_drafts if can_see_drafts(request) else self.listed

    def get_visible_or_404(self, request, slug: str) -> Post:
        post = self.get(slug)
        if post is None or (post.draft and not can_see_drafts(request)):
            raise Http404("No such post")
        return post


class PostLibrary:
    """All posts on disk, re-read file by file when a file's stat changes.

    Every call rescans the folder (one listdir and one stat per post), so an edit is seen on the
    very next request; a file is parsed again only when its stat changed, and an unchanged tree
    hands back the same Catalog object.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._files: dict[str, tuple[tuple[int, int, int], Post | None]] = {}
        self._signature: tuple = ()
        self._catalog = Catalog([])

    @staticmethod
    def _stat_all(root: str) -> dict[str, tuple[str, tuple[int, int, int]]]:
        found: dict[str, tuple[str, tuple[int, int, int]]] = {}
        try:
            entries = os.scandir(root)
        except (FileNotFoundError, NotADirectoryError):
            return found
        # This loop runs on every request that lists posts: kept to one stat per post.
        stat, valid = os.stat, SLUG.fullmatch
        with entries:
            for entry in entries:
                name = entry.name
                if len(name) > 200 or not valid(name):
                    continue
                path = f"{entry.path}/index.md"
                try:
                    info = stat(path)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                found[name] = (path, (info.st_ino, info.st_size, info.st_mtime_ns))
        return found

    def get(self, slug: str) -> Post | None:
        """One post, checking only its own file: enough to know it is current."""
        path = os.path.join(str(settings.CONTENT_DIR), "blog", slug, "index.md")
        try:
            stat = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return self.catalog().get(slug)
        with self._lock:
            known = self._files.get(path)
            if known and known[0] == (stat.st_ino, stat.st_size, stat.st_mtime_ns):
                return known[1]
        return self.catalog().get(slug)

    def catalog(self) -> Catalog:
        root = os.path.join(str(settings.CONTENT_DIR), "blog")
        stats = self._stat_all(root)
        signature = (root, *sorted((slug, sig) for slug, (_, sig) in stats.items()))
        with self._lock:
            if signature != self._signature:
                self._reload(stats)
                self._signature = signature
            return self._catalog

    def _reload(self, stats) -> None:
        files = {}
        for slug, (path, sig) in stats.items():
            known = self._files.get(path)
            if known and known[0] == sig:
                post = known[1]
            else:
                try:
                    post = read_post(Path(path), slug=slug)
                except (OSError, ValueError) as exc:
                    # One broken file must not take the blog down: log it and leave it out.
                    logger.error("Skipping post %s: %s", slug, exc)
                    post = None
            files[path] = (sig, post)
        self._files = files
        self._catalog = Catalog([post for _, post in files.values() if post is not None])


library = PostLibrary()


def catalog() -> Catalog:
    return library.catalog()


def all_posts() -> list[Post]:
    """Every readable post, drafts and unlisted included, newest first. Do not modify it."""
    return catalog().newest_first


def listed_posts() -> list[Post]:
    """Posts for feeds, the sitemap and the JSON listing: never drafts nor unlisted."""
    return catalog().listed


def get_post(slug: str) -> Post | None:
    return library.get(slug) if is_valid_slug(slug) else None


# A compile that failed is not tried again for this long (per process, per file content): a
# post that hangs the compiler would otherwise start a new stuck thread on every request.
FAILED_COMPILE_RETRY_SECONDS = 60
# Bounded, so that a stream of broken edits cannot grow it without end.
MAX_FAILED_COMPILES = 256
# compiled()'s key -> (retry after, on the monotonic clock; the reason it failed)
failed_compiles: BoundedLRU[str, tuple[float, str]] = BoundedLRU(MAX_FAILED_COMPILES)


def compiled(post: Post) -> dict[str, Any]:
    """The post's HTML and friends, from cachedb or compiled within BLOG_COMPILE_TIMEOUT.

    Raises compiler.CompileError when the compile fails or is too slow (logged here), and
    again without retrying for FAILED_COMPILE_RETRY_SECONDS, unless the file changes.
    """

    def compile_now() -> dict[str, Any]:
        raw = post.path.read_bytes()
        if hashlib.sha256(raw).hexdigest() != post.file_hash:
            # Never store new content under the old content's key.
            raise compiler.CompileError("the file changed while it was being compiled")
        body = frontmatter.loads(raw.decode("utf-8")).content
        return compiler.run_with_timeout(
            lambda: compiler.compile_markdown(body, base_url=post.url),
            seconds=settings.BLOG_COMPILE_TIMEOUT,
            what=post.slug,
        )

    key = f"blog:post:{post.slug}:{post.file_hash}:{compiler.COMPILER_VERSION}"
    failed = failed_compiles.get(key)
    if failed is not None and time.monotonic() < failed[0]:
        raise compiler.CompileError(failed[1])
    try:
        return cachified(key=key, get_fresh_value=compile_now, ttl=COMPILED_TTL)
    except (compiler.CompileError, OSError) as exc:
        logger.error("Post %s could not be compiled: %s", post.slug, exc)
        metrics.compile_failed()
        failed_compiles.put(key, (time.monotonic() + FAILED_COMPILE_RETRY_SECONDS, str(exc)))
        raise compiler.CompileError(str(exc)) from exc


def forget_failed_compiles() -> None:
    failed_compiles.clear()


def _open_no_follow(path: str, flags: int) -> int:
    # O_NOFOLLOW: a symlink fails to open instead of being followed (to index.md, or out of the
    # folder); O_NONBLOCK: a FIFO named like an image opens at once rather than hang the worker.
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)


def open_asset(post: Post, filename: str) -> tuple[BinaryIO, str] | None:
    """An image stored beside the post, opened, with its content type; None for anything else.

    Only a regular file directly in the post's folder, by a plain name with an image suffix, is
    served: not a symlink, a directory, a FIFO, nor the post's own Markdown under a second name
    (a hard link). The checks are made on the opened file, so nothing can be swapped in between.
    """
    if not ASSET.fullmatch(filename) or ".." in filename:
        return None
    content_type = ASSET_TYPES.get(Path(filename).suffix.lower())
    if content_type is None:
        return None
    try:
        file = open(post.path.parent / filename, "rb", opener=_open_no_follow)  # noqa: SIM115
    except OSError:
        return None
    try:
        opened = os.fstat(file.fileno())
        if stat.S_ISREG(opened.st_mode) and not os.path.samestat(opened, os.stat(post.path)):
            return file, content_type
    except OSError:
        pass
    file.close()
    return None
