"""Blog pages keep answering when the per-machine cache file fails for real.

The cache holds compiled posts, standings and the search index; each can be computed again, so a
deleted, garbage or locked cache file makes pages slower, never errors.
"""

from pathlib import Path

import pytest
from django.db import connections

from cachedb import faults

pytestmark = pytest.mark.django_db(transaction=True)
PAGES = ["/", "/blog/", "/blog/wal-notes/", "/blog/?q=checkpoint", "/blog/rss.xml", "/sitemap.xml"]


@pytest.fixture
def posts(posts_dir):
    posts_dir.write(
        "wal-notes",
        title="Notes on the write-ahead log",
        description="How a checkpoint moves pages back.",
        body="A checkpoint copies pages from the WAL into the database file.",
    )
    posts_dir.write("other-post", title="Something else", body="Nothing about logs here.")
    return posts_dir


def break_file(path: Path, contents: bytes | None) -> None:
    """Close this thread's connection and replace the file (and its side files)."""
    connections["cache"].close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if contents is not None:
        path.write_bytes(contents)


@pytest.mark.parametrize("contents", [None, b"garbage " * 2000], ids=["deleted", "garbage"])
def test_every_page_answers_when_the_cache_file_is_lost(client, posts, own_cache_file, contents):
    for path in PAGES:
        assert client.get(path).status_code == 200, path
    break_file(own_cache_file, contents)
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
    assert "Notes on the write-ahead log" in client.get("/blog/?q=checkpoint").content.decode()


def test_search_finds_posts_while_the_index_cannot_be_read(
    client, posts, own_cache_file, lock_held_elsewhere
):
    connections["cache"].close()  # the holder needs the file to itself to lock readers out
    lock_held_elsewhere(own_cache_file, exclusive=True)
    page = client.get("/blog/?q=checkpoint")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Notes on the write-ahead log" in body and "Something else" not in body
    assert "<mark>checkpoint</mark>" in body
    assert "busy" in faults.recent_faults()
