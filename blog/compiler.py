"""Markdown to HTML for posts: CommonMark plus tables, strikethrough, footnotes, heading anchors,
Pygments highlighting, a table of contents, word count and an excerpt.

The compiled result is a plain dict (JSON-serialisable) so cachedb can keep it. Bump
COMPILER_VERSION whenever the output for the same Markdown changes: it is part of the cache key,
so old entries are simply never read again.
"""

import math
import re
import threading
from collections.abc import Callable
from html import escape
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.footnote import footnote_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

COMPILER_VERSION = "5"
TOC_LEVELS = (2, 3)
EXCERPT_CHARS = 240
WORD = re.compile(r"[\w'’-]+")
# A relative link or image source has no scheme, no leading slash and no fragment-only form.
ABSOLUTE = re.compile(r"^([a-z][a-z0-9+.-]*:|/|#)", re.IGNORECASE)


class CompileError(Exception):
    """A post could not be compiled (bad Markdown input, or a compile that took too long)."""


def _highlight(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang) if lang else TextLexer()
    except ClassNotFound:
        lexer = TextLexer()
    spans = highlight(code, lexer, HtmlFormatter(nowrap=True))
    language = f' class="language-{escape(lang)}"' if lang else ""
    # markdown-it keeps this markup as it is because it starts with "<pre".
    return f'<pre class="highlight"><code{language}>{spans}</code></pre>\n'


def _make_markdown() -> MarkdownIt:
    # Raw HTML off: a tag typed in a post is shown as text, so a post can never bring its own
    # script, style or event handler past the Content-Security-Policy. Autolinks still work.
    md = MarkdownIt("commonmark", {"html": False, "highlight": _highlight, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.use(footnote_plugin)
    md.use(anchors_plugin, min_level=2, max_level=4, permalink=True, permalinkSymbol="#")
    return md


# MarkdownIt instances are safe to share for parse/render: state lives in per-call objects.
_markdown = _make_markdown()


def parse(body: str) -> list[Token]:
    return _markdown.parse(body, {})


def _walk(tokens: list[Token]):
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


def plain_text(tokens: list[Token]) -> str:
    """The words a reader reads: text, inline code and code blocks, without any markup."""
    parts = []
    for token in _walk(tokens):
        if token.type in ("text", "code_inline") or token.type in ("fence", "code_block"):
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak") or (
            token.block and token.type.endswith("_close")
        ):
            parts.append(" ")
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def word_count(tokens: list[Token]) -> int:
    return len(WORD.findall(plain_text(tokens)))


def reading_minutes(*, words: int, words_per_minute: int) -> int:
    return max(1, math.ceil(words / words_per_minute))


def excerpt(tokens: list[Token]) -> str:
    """The first paragraph as plain text, cut at a word boundary."""
    for index, token in enumerate(tokens):
        if token.type == "paragraph_open" and index + 1 < len(tokens):
            text = plain_text([tokens[index + 1]])
            if text:
                return _shorten(text)
    return ""


def _shorten(text: str) -> str:
    if len(text) <= EXCERPT_CHARS:
        return text
    return text[:EXCERPT_CHARS].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


def _toc(tokens: list[Token]) -> list[dict[str, Any]]:
    toc = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and int(token.tag[1]) in TOC_LEVELS:
            inline = tokens[index + 1]
            title = "".join(
                child.content
                for child in inline.children or []
                if child.type in ("text", "code_inline")
            )
            toc.append(
                {"id": token.attrGet("id"), "title": title.strip(), "level": int(token.tag[1])}
            )
    return toc


def _align_cells_by_class(tokens: list[Token]) -> None:
    """A table column's alignment as a class (`align-right`), not a style attribute, which the
    Content-Security-Policy (no inline styles) would block; blog.css aligns the cells."""
    for token in tokens:
        if token.type in ("th_open", "td_open"):
            style = token.attrs.pop("style", None)
            if isinstance(style, str) and style.startswith("text-align:"):
                token.attrSet("class", "align-" + style.removeprefix("text-align:"))


def _rebase_relative_urls(tokens: list[Token], *, base: str) -> None:
    """Images and links beside the post resolve to /blog/<slug>/<file>, wherever the HTML is shown
    (the page with or without its trailing slash, a feed reader, the search results)."""
    for token in _walk(tokens):
        attr = "src" if token.type == "image" else "href" if token.type == "link_open" else None
        if attr is None:
            continue
        value = token.attrGet(attr)
        if value and not ABSOLUTE.match(value):
            token.attrSet(attr, base + value.removeprefix("./"))
        if token.type == "image":
            token.attrSet("loading", "lazy")


def compile_markdown(body: str, *, base_url: str) -> dict[str, Any]:
    """HTML, table of contents and plain text (for search) of one post's Markdown body."""
    tokens = parse(body)
    _align_cells_by_class(tokens)
    _rebase_relative_urls(tokens, base=base_url)
    return {
        "html": _markdown.renderer.render(tokens, _markdown.options, {}),
        "toc": _toc(tokens),
        "text": plain_text(tokens),
    }


def run_with_timeout(func: Callable[[], Any], *, seconds: float, what: str) -> Any:
    """Run func in a daemon thread and give up after `seconds`.

    Python cannot stop a thread, but the request that asked is answered in time; the stuck
    compile finishes (or not) on its own without holding a worker.
    """
    outcome: dict[str, Any] = {}

    def target():
        try:
            outcome["value"] = func()
        except BaseException as exc:  # handed back to the caller's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"compile {what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise CompileError(f"compiling {what} took longer than {seconds:g}s")
    if "error" in outcome:
        raise CompileError(f"compiling {what} failed: {outcome['error']!r}") from outcome["error"]
    return outcome["value"]


def pygments_css() -> str:
    """Stylesheet for highlighted code, light and dark, served from this site (no external host)."""
    light = HtmlFormatter(style="default").get_style_defs(".highlight")
    dark = HtmlFormatter(style="monokai").get_style_defs(".highlight")
    return f"{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"
