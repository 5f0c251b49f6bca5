"""Fixtures for the blog's tests: a content folder of our own, readers and team members."""

import datetime as dt
import textwrap
import uuid
from pathlib import Path

import pytest
import yaml

from accounts.models import Role, Team, User
from blog import content
from blog.fragments import anonymous_pages, rendered_fragments
from blog.models import PostRead

BOTH_DATABASES = ["default", "cache"]


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


@pytest.fixture
def make_user(db):
    counter = iter(range(1, 1_000_000))

    def make(team=Team.RED, *, role=Role.MEMBER, email=None) -> User:
        number = next(counter)
        return User.objects.create(
            email=email or f"reader{number}@example.com",
            first_name=f"Reader {number}",
            team=team,
            role=role,
        )

    return make


def add_read(*, slug: str, at: dt.datetime, user=None, client_id=None) -> PostRead:
    """A read with a chosen time (created_at is auto_now_add, so it is set after the insert)."""
    read = PostRead.objects.create(post_slug=slug, user=user, client_id=client_id)
    PostRead.objects.filter(pk=read.pk).update(created_at=at)
    read.refresh_from_db()
    return read


def new_client_id() -> str:
    return str(uuid.uuid4())
