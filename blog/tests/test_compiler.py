import re
import threading
from pathlib import Path

import frontmatter
import pytest
from django.conf import settings

from blog import compiler

DOCUMENT = """
Opening paragraph with *emphasis* and a footnote.[^note]

## First section

| Engine | Writers |
|---|---:|
| SQLite | 1 |

~~struck out~~ text and `inline code`.

```python
def answer():
    return 42
```

```rust
fn main() {}
```

```no-such-language
plain text stays plain
```

### A sub-section

![Diagram](diagram.svg) and [a sibling](notes.png) and [elsewhere](https://example.com/x).

## Second section

[^note]: The footnote text.
"""


def compile_document(body=DOCUMENT):
    return compiler.compile_markdown(body, base_url="/blog/example/")


def test_tables_strikethrough_and_footnotes_are_rendered():
    html = compile_document()["html"]
    assert "<table>" in html and '<th class="align-right">Writers</th>' in html
    assert "<s>struck out</s>" in html
    assert 'class="footnote-ref"' in html and "The footnote text." in html


def test_headings_get_anchors_that_the_table_of_contents_links_to():
    result = compile_document()
    assert result["toc"] == [
        {"id": "first-section", "title": "First section", "level": 2},
        {"id": "a-sub-section", "title": "A sub-section", "level": 3},
        {"id": "second-section", "title": "Second section", "level": 2},
    ]
    assert '<h2 id="first-section">' in result["html"]
    assert 'href="#first-section"' in result["html"]


def test_code_is_highlighted_on_the_server_by_language():
    html = compile_document()["html"]
    assert '<pre class="highlight"><code class="language-python">' in html
    assert '<span class="k">def</span>' in html
    assert '<code class="language-rust">' in html
    # An unknown language falls back to plain, escaped text rather than failing the post.
    assert "plain text stays plain" in html


def test_relative_images_and_links_point_at_the_post_folder():
    html = compile_document()["html"]
    assert 'src="/blog/example/diagram.svg"' in html
    assert 'href="/blog/example/notes.png"' in html
    assert 'href="https://example.com/x"' in html
    assert 'href="#first-section"' in html


def test_table_alignment_is_a_class_not_a_style_attribute():
    html = compile_document("| a | b | c |\n|:-|:-:|-:|\n| 1 | 2 | 3 |\n")["html"]
    assert '<th class="align-left">a</th>' in html
    assert '<td class="align-center">2</td>' in html
    assert '<td class="align-right">3</td>' in html
    assert "style=" not in html


def test_raw_html_in_a_post_is_shown_as_text_not_markup():
    html = compile_document(
        """
        <script>alert("block")</script>

        <div onclick="steal()">a block</div>

        Inline <img src=x onerror="steal()"> and <b onmouseover="steal()">bold</b>,
        <style>body { display: none }</style> and an autolink <https://example.com/ok>.
        """.replace("        ", "")
    )["html"]
    for tag in ("<script", "<div", "<img", "<b ", "<style"):
        assert tag not in html
    assert "&lt;script&gt;alert(&quot;block&quot;)&lt;/script&gt;" in html
    assert "&lt;b onmouseover=&quot;steal()&quot;&gt;bold&lt;/b&gt;" in html
    assert '<a href="https://example.com/ok">https://example.com/ok</a>' in html


@pytest.mark.parametrize(
    "post",
    sorted(Path(settings.BASE_DIR, "content", "blog").glob("*/index.md")),
    ids=lambda path: path.parent.name,
)
def test_the_sample_posts_use_no_raw_html(post):
    """With raw HTML off, a tag in a post would show up escaped: none outside code does."""
    html = compile_document(frontmatter.loads(post.read_text("utf-8")).content)["html"]
    outside_code = re.sub(r"<(pre|code)\b.*?</\1>", "", html, flags=re.DOTALL)
    assert "&lt;" not in outside_code
    assert "style=" not in html


def test_plain_text_has_no_markup_and_counts_words():
    tokens = compiler.parse("# Title\n\nOne two *three*.\n\n| a | b |\n|---|---|\n| c | d |\n")
    assert compiler.plain_text(tokens) == "Title One two three. a b c d"
    assert compiler.word_count(tokens) == 8


def test_reading_time_is_at_least_a_minute_and_rounds_up():
    assert compiler.reading_minutes(words=10, words_per_minute=230) == 1
    assert compiler.reading_minutes(words=231, words_per_minute=230) == 2
    assert compiler.reading_minutes(words=2300, words_per_minute=230) == 10


def test_excerpt_is_the_first_paragraph_cut_at_a_word():
    tokens = compiler.parse("## Heading\n\n" + "word " * 100 + "\n\nSecond paragraph.")
    text = compiler.excerpt(tokens)
    assert text.startswith("word word") and text.endswith("…")
    assert len(text) <= compiler.EXCERPT_CHARS + 1
    assert "Second" not in text


def test_a_compile_that_takes_too_long_fails_with_a_compile_error():
    release = threading.Event()
    try:
        with pytest.raises(compiler.CompileError, match="took longer than"):
            compiler.run_with_timeout(release.wait, seconds=0.05, what="slow-post")
    finally:
        release.set()


def test_a_compile_that_raises_fails_with_a_compile_error():
    def broken():
        raise RuntimeError("boom")

    with pytest.raises(compiler.CompileError, match="boom"):
        compiler.run_with_timeout(broken, seconds=5, what="broken-post")


def test_the_shipped_code_stylesheet_matches_the_installed_pygments():
    shipped = Path(settings.BASE_DIR, "static", "blog", "pygments.css").read_text()
    assert shipped == compiler.pygments_css(), "regenerate static/blog/pygments.css"
