"""/me/download.json: the blog's section of the export, the reader's post reads."""

import datetime as dt
import json

import pytest

from testing.fixtures import add_read, new_client_id

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_the_export_lists_the_readers_post_reads_and_nobody_elses(client, make_user):
    reader = make_user()
    mine = add_read(slug="first-post", user=reader, at=AT)
    add_read(slug="not-mine", user=make_user(), at=AT)
    add_read(slug="anonymous", client_id=new_client_id(), at=AT)
    client.force_login(reader)

    data = json.loads(client.get("/me/download.json").content)
    assert data["post_reads"] == [
        {"id": mine.id, "post_slug": "first-post", "read_at": "2026-02-03T04:05:00+00:00"}
    ]


def test_a_reader_without_reads_exports_an_empty_list(client, make_user):
    client.force_login(make_user())
    assert json.loads(client.get("/me/download.json").content)["post_reads"] == []
