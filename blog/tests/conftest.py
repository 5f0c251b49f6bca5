"""Fixtures for the blog's tests: a content folder of our own, no pages remembered between tests."""

import datetime as dt
import textwrap
from pathlib import Path

import pytest
import yaml

from blog import content
from blog.fragments import anonymous_pages, rendered_fragments


class ContentFolder:
    """A temporary CONTENT_DIR that tests write posts into."""

    def __init__(self, root: Path):
        self.root = root
        (root / "blog").mkdir(parents=True)

    def folder(self, slug: str) -> Path:
        return self.root / "blog" / slug

    def write(self, slug: str, body: str = "Some words for the body.", **meta) -> Path:
        meta.setdefault("title", slug.replace("-", " ").title())
        meta.setdefault("date", dt.date(2025, 1, 1))
        folder = self.folder(slug)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "index.md"
        front = yaml.safe_dump(meta, sort_keys=False)
        path.write_text(f"---\n{front}---\n\n{textwrap.dedent(body).strip()}\n", "utf-8")
        return path


@pytest.fixture(autouse=True)
def forget_rendered_html():
    """Each test starts without remembered pages, fragments or failed compiles (per-process)."""
    rendered_fragments.clear()
    anonymous_pages.clear()
    content.forget_failed_compiles()
    yield
    rendered_fragments.clear()
    anonymous_pages.clear()
    content.forget_failed_compiles()


@pytest.fixture
def posts_dir(tmp_path, settings) -> ContentFolder:
    settings.CONTENT_DIR = tmp_path / "content"
    return ContentFolder(settings.CONTENT_DIR)
