import datetime as dt
import logging
import os

import pytest

from blog import compiler, content

pytestmark = pytest.mark.django_db


def test_posts_are_read_from_front_matter_newest_first(posts_dir):
    posts_dir.write("older", title="Older", date=dt.date(2024, 1, 1), categories=["SQLite"])
    posts_dir.write(
        "newer",
        title="Newer",
        date=dt.date(2025, 1, 1),
        description="About things",
        keywords="wal, locks",
    )
    posts = content.all_posts()
    assert [post.slug for post in posts] == ["newer", "older"]
    assert posts[0].keywords == ("wal", "locks")
    assert posts[1].categories == ("SQLite",)
    assert posts[0].summary == "About things"


@pytest.mark.parametrize(
    "slug", ["Upper", "under_score", "dots.dot", "-leading", "trailing-", "double--dash", "", "é"]
)
def test_slugs_outside_lowercase_letters_digits_and_hyphens_are_refused(slug):
    assert not content.is_valid_slug(slug)
    assert content.get_post(slug) is None


def test_folders_with_invalid_names_are_not_posts(posts_dir):
    posts_dir.write("good-one")
    posts_dir.write("Bad_Name")
    assert [post.slug for post in content.all_posts()] == ["good-one"]


def test_a_post_with_broken_front_matter_is_left_out_and_logged(posts_dir, caplog):
    posts_dir.write("fine")
    broken = posts_dir.folder("broken")
    broken.mkdir()
    (broken / "index.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
    untitled = posts_dir.folder("untitled")
    untitled.mkdir()
    (untitled / "index.md").write_text("---\ndate: 2024-01-01\n---\nbody\n")
    with caplog.at_level(logging.ERROR, logger="blog.content"):
        slugs = [post.slug for post in content.all_posts()]
    assert slugs == ["fine"]
    assert (
        "broken" in caplog.text and "untitled" in caplog.text and "needs a `title`" in caplog.text
    )


def test_drafts_and_unlisted_posts_are_kept_out_of_listings(posts_dir):
    posts_dir.write("public")
    posts_dir.write("secret-draft", draft=True)
    posts_dir.write("by-link-only", unlisted=True)
    assert [post.slug for post in content.listed_posts()] == ["public"]
    assert {post.slug for post in content.all_posts()} == {"public", "secret-draft", "by-link-only"}


def test_editing_a_post_shows_the_new_version_without_a_restart(posts_dir):
    path = posts_dir.write("living", body="First version.")
    first = content.get_post("living")
    assert "First version." in content.compiled(first)["html"]

    path.write_text(path.read_text().replace("First version.", "Second, longer version."))
    # The new text differs in size anyway; a moved mtime alone also triggers a re-read.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = content.get_post("living")
    assert second.file_hash != first.file_hash
    html = content.compiled(second)["html"]
    assert "Second, longer version." in html and "First version." not in html


def test_compiled_posts_are_cached_under_slug_hash_and_compiler_version(posts_dir, monkeypatch):
    posts_dir.write("cached", body="Cache me.")
    post = content.get_post("cached")
    calls = []
    real = compiler.compile_markdown
    monkeypatch.setattr(
        compiler, "compile_markdown", lambda *a, **kw: calls.append(1) or real(*a, **kw)
    )
    content.compiled(post)
    content.compiled(post)
    assert len(calls) == 1
    monkeypatch.setattr(compiler, "COMPILER_VERSION", "test-next")
    content.compiled(post)
    assert len(calls) == 2


def test_new_and_deleted_posts_are_seen_on_the_next_request(posts_dir):
    posts_dir.write("first")
    assert [post.slug for post in content.all_posts()] == ["first"]
    posts_dir.write("second", date=dt.date(2026, 1, 1))
    assert [post.slug for post in content.all_posts()] == ["second", "first"]
    (posts_dir.folder("first") / "index.md").unlink()
    assert [post.slug for post in content.all_posts()] == ["second"]


def test_a_compile_over_the_time_bound_fails_only_that_post(
    posts_dir, settings, monkeypatch, caplog
):
    import threading

    posts_dir.write("slow")
    gate = threading.Event()
    real = compiler.compile_markdown
    monkeypatch.setattr(
        compiler, "compile_markdown", lambda *a, **kw: gate.wait() and real(*a, **kw)
    )
    settings.BLOG_COMPILE_TIMEOUT = 0.1
    try:
        with (
            caplog.at_level(logging.ERROR, logger="blog.content"),
            pytest.raises(compiler.CompileError),
        ):
            content.compiled(content.get_post("slow"))
        assert "slow could not be compiled" in caplog.text
    finally:
        gate.set()


def test_a_failed_compile_is_not_retried_for_a_minute_unless_the_file_changes(
    posts_dir, monkeypatch
):
    posts_dir.write("broken")
    attempts = []

    def fail(*args, **kwargs):
        attempts.append(1)
        raise ValueError("the compiler choked")

    monkeypatch.setattr(compiler, "compile_markdown", fail)
    for _ in range(3):
        with pytest.raises(compiler.CompileError, match="choked"):
            content.compiled(content.get_post("broken"))
    assert len(attempts) == 1

    posts_dir.write("broken", body="Fixed, or at least different.")
    with pytest.raises(compiler.CompileError):
        content.compiled(content.get_post("broken"))
    assert len(attempts) == 2  # a new version of the file is tried at once

    # A minute later (monotonic time, which the memo uses), it is tried again.
    now = content.time.monotonic()
    monkeypatch.setattr(content.time, "monotonic", lambda: now + 61)
    with pytest.raises(compiler.CompileError):
        content.compiled(content.get_post("broken"))
    assert len(attempts) == 3


def test_only_images_inside_the_post_folder_are_assets(posts_dir):
    posts_dir.write("pics")
    folder = posts_dir.folder("pics")
    (folder / "chart.png").write_bytes(b"\x89PNG")
    (folder / "notes.txt").write_text("private")
    (posts_dir.root / "outside.png").write_bytes(b"\x89PNG")
    (folder / "link.png").symlink_to(posts_dir.root / "outside.png")
    post = content.get_post("pics")
    file, content_type = content.open_asset(post, "chart.png")
    with file:
        assert (file.read(), content_type) == (b"\x89PNG", "image/png")
    for name in ("notes.txt", "index.md", "../outside.png", "link.png", "missing.png"):
        assert content.open_asset(post, name) is None, name
