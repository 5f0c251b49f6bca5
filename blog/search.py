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
# A word as FTS5's unicode61 tokenizer sees one: letters and digits (an underscore separates).
TERM = re.compile(r"[^\W_]+")
# Bounds on what one search may ask of FTS5. Every term is a lookup (a prefix term one per
# matching word of the index) and snippet() scores every term in every row it is run on.
MAX_QUERY_CHARS = 200  # of the typed text; the rest is ignored, as the search box's maxlength
MAX_TERMS = 8
# A prefix term needs this many letters: "a*" expands to a large share of all the words in the
# index, so a shorter word is matched as a whole word ("C", "R", "a").
MIN_PREFIX = 2
MAX_RESULTS = 100


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


def search_terms(query: str) -> list[tuple[str, bool]]:
    """The reader's words as (term, is_prefix) pairs, bounded: only the first MAX_QUERY_CHARS
    characters are read, a term repeated (or trimmed to one already there) is kept once, a
    one-letter word matches only as a whole word, and at most MAX_TERMS terms are kept."""
    terms: list[tuple[str, bool]] = []
    for word in TERM.findall(query[:MAX_QUERY_CHARS].lower()):
        term = (_trim(word), True) if len(word) >= MIN_PREFIX else (word, False)
        if term not in terms:
            terms.append(term)
            if len(terms) == MAX_TERMS:
                break
    return terms


def match_expression(query: str) -> str:
    """The reader's words as an FTS5 query: every word must match, each as a prefix.

    Words are quoted, so FTS5's own syntax (AND, NEAR, column filters, stray quotes) typed into the
    search box is searched for as text instead of breaking the query.
    """
    return " ".join(f'"{term}"*' if prefix else f'"{term}"' for term, prefix in search_terms(query))


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


def search(query: str, *, visible: list[Post], catalog: Catalog) -> list[Post]:
    """Posts of `visible` matching `query`, best first (at most MAX_RESULTS of them).

    No snippets here: they cost far more than the match, so `snippets()` makes them for the
    page of results that is shown. The index lives in the disposable cache file: when that
    fails, the posts are scanned instead (slower, same matching rule) and cachedb heals the file.
    """
    expression = match_expression(query)
    if not expression or not visible:
        return []
    try:
        return _search_index(expression, visible=visible, catalog=catalog)
    except faults.ERRORS as error:
        faults.note("search the index", error)
        return scan(query, visible=visible)


def _search_index(expression: str, *, visible: list[Post], catalog: Catalog) -> list[Post]:
    # Drafts are indexed too (staff search them) and filtered out of everyone else's results, so
    # the index does not flip between two audiences. Unlisted posts are never indexed.
    ensure_index(catalog.with_drafts)
    by_slug = {post.slug: post for post in visible}
    weights = ", ".join(str(weight) for weight in WEIGHTS)
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(
            f"SELECT slug FROM {TABLE} WHERE {TABLE} MATCH %s "
            f"ORDER BY bm25({TABLE}, {weights}) LIMIT {MAX_RESULTS}",
            [expression],
        )
        slugs = [slug for (slug,) in cursor.fetchall()]
    return [by_slug[slug] for slug in slugs if slug in by_slug]


def snippets(query: str, *, posts: list[Post]) -> dict[str, str]:
    """A snippet per post of `posts` (the page of results shown) that matches `query`, by slug:
    HTML-escaped text of the body with <mark> around the matched words."""
    expression = match_expression(query)
    if not expression or not posts:
        return {}
    slugs = [post.slug for post in posts]
    placeholders = ", ".join(["%s"] * len(slugs))
    try:
        with connections[ALIAS].cursor() as cursor:
            # snippet() runs only on the rows the WHERE clause keeps: this page's posts.
            cursor.execute(
                f"SELECT slug, snippet({TABLE}, 4, char(1), char(2), '…', 24) FROM {TABLE} "
                f"WHERE {TABLE} MATCH %s AND slug IN ({placeholders})",
                [expression, *slugs],
            )
            return {slug: _mark(snippet) for slug, snippet in cursor.fetchall()}
    except faults.ERRORS as error:
        faults.note("make search snippets", error)
        terms = search_terms(query)
        return {post.slug: _scan_snippet(_body_text(post), terms) for post in posts}


# --- Without the index (the cache file failed) -------------------------------------------------
def _matches(word: str, term: str, prefix: bool) -> bool:
    return word.startswith(term) if prefix else word == term


def scan(query: str, *, visible: list[Post]) -> list[Post]:
    """The index's answer without the index: every term must match a word of the post (as a
    prefix, or whole for one-letter words), ranked by the same column weights as bm25()."""
    terms = search_terms(query)
    scored = []
    for order, post in enumerate(visible):
        columns = (post.title, post.description, " ".join(post.keywords), _body_text(post))
        words = [TERM.findall(text.lower()) for text in columns]
        score = 0.0
        for term, prefix in terms:
            hits = [sum(_matches(word, term, prefix) for word in column) for column in words]
            if not any(hits):
                break
            score += sum(weight * hit for weight, hit in zip(WEIGHTS[1:], hits, strict=True))
        else:
            scored.append((-score, order, post))
    return [post for _, _, post in sorted(scored)[:MAX_RESULTS]]


def _scan_snippet(text: str, terms: list[tuple[str, bool]], *, words: int = 24) -> str:
    """About `words` words of `text` around the first match, escaped, matches in <mark>."""
    tokens = text.split()
    hits = [
        any(
            _matches(w, term, prefix) for w in TERM.findall(token.lower()) for term, prefix in terms
        )
        for token in tokens
    ]
    start = max(0, hits.index(True) - words // 3) if True in hits else 0
    end = start + words
    shown = [
        f"<mark>{escape(token)}</mark>" if hit else escape(token)
        for token, hit in zip(tokens[start:end], hits[start:end], strict=True)
    ]
    return ("…" if start else "") + " ".join(shown) + ("…" if end < len(tokens) else "")


def _mark(snippet: str) -> str:
    return escape(snippet or "").replace("\x01", "<mark>").replace("\x02", "</mark>")
