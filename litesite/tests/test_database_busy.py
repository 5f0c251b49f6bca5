"""When SQLite cannot write for now — another process holds the lock, the disk is full — visitors
get 503 with Retry-After (JSON for JSON clients, a page that keeps a posted form's input), and
nothing already stored is lost.

Faults are real: a second process holding the site database's write lock, and the site database
on a real 20 MB tmpfs filled to the last byte.
"""

import shutil
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest
from django.db import connections
from django.test import Client

from accounts.models import User
from blog import tickets
from blog.models import PostRead

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_busy_timeout():
    """The site database waits 0.2 s for the lock instead of 5, so the tests run quickly."""
    options = connections["default"].settings_dict["OPTIONS"]
    original = options["timeout"]
    connections["default"].close()
    options["timeout"] = 0.2
    yield
    connections["default"].close()
    options["timeout"] = original


@pytest.fixture
def site_write_lock(short_busy_timeout, lock_held_elsewhere):
    """Another process holds the site database's write lock until the test ends."""
    lock_held_elsewhere(connections["default"].settings_dict["NAME"])


def report_read(client, user):
    """What the post page's script sends once `user` has read long enough."""
    ticket = tickets.issue(
        slug="hello-litesite",
        reader=tickets.reader_name(user=user),
        served_at=time.time() - 3600,
    )
    return client.post(
        "/blog/hello-litesite/mark-read", {"ticket": ticket}, headers={"accept": "application/json"}
    )


def test_a_read_report_gets_json_503_with_retry_after_while_the_database_is_locked(
    reader, reader_client, site_write_lock
):
    response = report_read(reader_client, reader)
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert "could not save yours" in response.json()["error"]


def test_a_sign_in_request_gets_a_503_page_that_keeps_the_email(site_write_lock):
    response = Client().post("/login", {"email": "someone@example.com", "next": "/me"})
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    page = response.content.decode()
    assert "Please try again" in page
    assert 'name="email" value="someone@example.com"' in page
    assert 'name="next" value="/me"' in page
    assert 'action="/login"' in page


def test_a_profile_edit_gets_a_503_page_that_keeps_the_new_name(reader_client, site_write_lock):
    response = reader_client.post("/me", {"first_name": "Augusta"})
    assert response.status_code == 503
    assert 'name="first_name" value="Augusta"' in response.content.decode()


def test_pages_that_only_read_still_answer_while_the_database_is_locked(
    reader_client, site_write_lock
):
    assert Client().get("/blog/").status_code == 200
    assert reader_client.get("/me").status_code == 200


@pytest.fixture
def full_disk(tmp_path, short_busy_timeout):
    """The site database moved onto a real 20 MB tmpfs, which is then filled to the last byte."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    connection = connections["default"]
    original = connection.settings_dict["NAME"]
    moved = mount / "site.sqlite3"
    connection.close()
    with closing(sqlite3.connect(original)) as source, closing(sqlite3.connect(moved)) as target:
        source.backup(target)
    connection.settings_dict["NAME"] = str(moved)
    PostRead.objects.count()  # the worker was running before the disk filled up
    with open(mount / "filler", "wb") as filler:
        chunk = b"\0" * 65536
        try:
            while True:
                filler.write(chunk)
                filler.flush()
        except OSError:
            pass
    yield moved
    connection.close()
    connection.settings_dict["NAME"] = original
    # Lazily: a connection another thread still holds must not leave the mount behind.
    subprocess.run(["umount", "--lazy", str(mount)], check=True)


def test_a_full_disk_answers_503_and_loses_nothing_already_stored(reader, reader_client, full_disk):
    client = reader_client
    before = PostRead.objects.count()
    response = report_read(client, reader)
    assert response.status_code == 503
    assert "disk space" in response.json()["error"]
    page = client.post("/me", {"first_name": "Augusta"})
    assert page.status_code == 503 and "Augusta" in page.content.decode()
    connections["default"].close()
    with closing(sqlite3.connect(full_disk)) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert check.execute("SELECT first_name FROM accounts_user").fetchall() == [("Ada",)]
        assert check.execute("SELECT COUNT(*) FROM blog_postread").fetchone() == (before,)
    (Path(full_disk).parent / "filler").unlink()
    assert client.post("/me", {"first_name": "Augusta"}).status_code == 302
    assert shutil.disk_usage(Path(full_disk).parent).free > 0


def test_while_the_lock_is_held_later_writes_are_answered_without_trying_to_write(
    reader_client, site_write_lock
):
    assert reader_client.post("/me", {"first_name": "Augusta"}).status_code == 503  # waited, failed
    attempted = []

    def watch(execute, sql, params, many, context):
        attempted.append(sql)
        return execute(sql, params, many, context)

    with connections["default"].execute_wrapper(watch):
        again = reader_client.post("/me", {"first_name": "Augusta"})
    assert again.status_code == 503 and "Augusta" in again.content.decode()
    assert attempted == []  # no thread waited on the lock for it


def test_once_the_lock_is_gone_the_next_write_goes_through(
    reader_client, short_busy_timeout, monkeypatch
):
    from litesite.errors import WriteBreaker

    monkeypatch.setattr(WriteBreaker, "OPEN_SECONDS", 0.0)  # the pause is over at once
    path = connections["default"].settings_dict["NAME"]
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")
        assert reader_client.post("/me", {"first_name": "Augusta"}).status_code == 503
        holder.execute("ROLLBACK")
    assert reader_client.post("/me", {"first_name": "Augusta"}).status_code == 302
    assert User.objects.get().first_name == "Augusta"
