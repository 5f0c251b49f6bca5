"""Full-text search over the posts (never unlisted ones) with SQLite FTS5, in the cache database.

The index is disposable (each machine has its own cache database), so its tables are created here
on demand rather than by a migration. It is stamped with a hash of every post's slug and file
hash; when the content changes the stamp no longer matches and the index is rebuilt before the
next search answers.
"""

import hashlib
import logging
import re
from html import escape

from django.db import connections, transaction

from blog import compiler
from blog.content import Catalog, Post, compiled
from cachedb import faults

logger = logging.getLogger(__name__)

ALIAS = "cache"
# Bump when the table's definition changes: a new name means a new table, built on first use
# (the old one is a harmless leftover in the disposable cache database).
SCHEMA_VERSION = 2
TABLE = f"blog_search_v{SCHEMA_VERSION}"
STAMP_TABLE = f"{TABLE}_stamp"
# Column weights for bm25(): a hit in the title matters most, then description and keywords.
WEIGHTS = (0.0, 10.0, 5.0, 5.0, 1.0)
TERM = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 12


def corpus_hash(posts: list[Post]) -> str:
    digest = hashlib.sha256(compiler.COMPILER_VERSION.encode())
    for post in sorted(posts, key=lambda post: post.slug):
        digest.update(f"{post.slug}:{post.file_hash};".encode())
    return digest.hexdigest()


# Common English endings, trimmed from the reader's words so that a prefix query finds the other
# forms too ("replicating" -> "replicat*" finds "replication"). A stemming tokenizer would not
# do: FTS5 does not stem prefix queries, so "replicat*" would find nothing in a stemmed index.
ENDINGS = (
    ("ations", "at"),
    ("ation", "at"),
    ("ings", ""),
    ("ing", ""),
    ("ies", "y"),
    ("ions", ""),
    ("ion", ""),
    ("ers", ""),
    ("er", ""),
    ("ed", ""),
    ("es", ""),
    ("s", ""),
)
MIN_STEM = 4


def _trim(term: str) -> str:
    for ending, replacement in ENDINGS:
        if term.endswith(ending) and len(term) - len(ending) + len(replacement) >= MIN_STEM:
            return term[: -len(ending)] + replacement
    return term


def match_expression(query: str) -> str:
    """The reader's words as an FTS5 query: every word must match, each as a prefix.

    Words are quoted, so FTS5's own syntax (AND, NEAR, column filters, stray quotes) typed into the
    search box is searched for as text instead of breaking the query.
    """
    terms = TERM.findall(query.lower())[:MAX_TERMS]
    return " ".join(f'"{_trim(term)}"*' for term in terms)


def _ensure_tables(cursor) -> None:
    cursor.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5("
        "slug UNINDEXED, title, description, keywords, body, "
        "tokenize = 'unicode61 remove_diacritics 2')"
    )
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {STAMP_TABLE} (id INTEGER PRIMARY KEY, hash TEXT)")


def _current_stamp(cursor) -> str | None:
    cursor.execute(f"SELECT hash FROM {STAMP_TABLE} WHERE id = 1")
    row = cursor.fetchone()
    return row[0] if row else None


def _body_text(post: Post) -> str:
    try:
        return compiled(post)["text"]
    except compiler.CompileError:
        # Logged by compiled(); the post stays findable by its title and description.
        return ""


def ensure_index(posts: list[Post]) -> None:
    """Build or rebuild the index when the listed posts changed since it was last built."""
    wanted = corpus_hash(posts)
    connection = connections[ALIAS]
    with connection.cursor() as cursor:
        _ensure_tables(cursor)
        if _current_stamp(cursor) == wanted:
            return
    rows = [
        (post.slug, post.title, post.description, " ".join(post.keywords), _body_text(post))
        for post in posts
    ]
    # IMMEDIATE: one machine's processes rebuild one at a time; a second one sees the new stamp.
    with transaction.atomic(using=ALIAS), connection.cursor() as cursor:
        if _current_stamp(cursor) == wanted:
            return
        cursor.execute(f"DELETE FROM {TABLE}")
        cursor.executemany(
            f"INSERT INTO {TABLE} (slug, title, description, keywords, body) "
            "VALUES (%s, %s, %s, %s, %s)",
            rows,
        )
        cursor.execute(
            f"INSERT INTO {STAMP_TABLE} (id, hash) VALUES (1, %s) "
            "ON CONFLICT (id) DO UPDATE SET hash = excluded.hash",
            [wanted],
        )
    logger.info("Rebuilt the search index over %d posts", len(rows))


def search(query: str, *, visible: list[Post], catalog: Catalog) -> list[tuple[Post, str]]:
    """Posts of `visible` matching `query`, best first, each with a snippet: HTML-escaped text
    with <mark> around the matched words.

    The index lives in the disposable cache file: when that fails, the posts are scanned
    instead (slower, same matching rule) and the fault is left to cachedb to heal.
    """
    expression = match_expression(query)
    if not expression or not visible:
        return []
    try:
        return _search_index(expression, visible=visible, catalog=catalog)
    except faults.ERRORS as error:
        faults.note("search the index", error)
        return scan(query, visible=visible)


def _search_index(
    expression: str, *, visible: list[Post], catalog: Catalog
) -> list[tuple[Post, str]]:
    # Drafts are indexed too (staff search them) and filtered out of everyone else's results, so
    # the index does not flip between two audiences. Unlisted posts are never indexed.
    ensure_index(catalog.with_drafts)
    by_slug = {post.slug: post for post in visible}
    weights = ", ".join(str(weight) for weight in WEIGHTS)
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(
            f"SELECT slug, snippet({TABLE}, 4, char(1), char(2), '…', 24) FROM {TABLE} "
            f"WHERE {TABLE} MATCH %s ORDER BY bm25({TABLE}, {weights}) LIMIT 100",
            [expression],
        )
        rows = cursor.fetchall()
    return [(by_slug[slug], _mark(snippet)) for slug, snippet in rows if slug in by_slug]


def scan(query: str, *, visible: list[Post]) -> list[tuple[Post, str]]:
    """The index's answer without the index: every word must start a word of the post, and a
    hit in the title counts most (the same weights as bm25's columns)."""
    prefixes = [_trim(term) for term in TERM.findall(query.lower())[:MAX_TERMS]]
    scored = []
    for post in visible:
        body = _body_text(post)
        columns = (post.title, post.description, " ".join(post.keywords), body)
        words = [TERM.findall(text.lower()) for text in columns]
        score = 0.0
        for prefix in prefixes:
            hits = [sum(word.startswith(prefix) for word in column) for column in words]
            if not any(hits):
                break
            score += sum(weight * hit for weight, hit in zip(WEIGHTS[1:], hits, strict=True))
        else:
            scored.append((score, post, _scan_snippet(body or post.description, prefixes)))
    scored.sort(key=lambda row: -row[0])
    return [(post, snippet) for _, post, snippet in scored[:100]]


def _scan_snippet(text: str, prefixes: list[str], *, words: int = 24) -> str:
    """About `words` words of `text` around the first match, escaped, matches in <mark>."""
    tokens = text.split()
    matched = [
        any(t.startswith(tuple(prefixes)) for t in TERM.findall(tok.lower())) for tok in tokens
    ]
    start = max(0, matched.index(True) - words // 3) if True in matched else 0
    shown = [
        f"<mark>{escape(token)}</mark>" if hit else escape(token)
        for token, hit in zip(
            tokens[start : start + words], matched[start : start + words], strict=True
        )
    ]
    before = "…" if start > 0 else ""
    after = "…" if start + words < len(tokens) else ""
    return before + " ".join(shown) + after


def _mark(snippet: str) -> str:
    return escape(snippet or "").replace("\x01", "<mark>").replace("\x02", "</mark>")
