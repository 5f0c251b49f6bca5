"""Post and home pages keep answering while reads move the standings they show.

Real threads on real SQLite files (committed, transaction=True): readers report reads of a post
while visitors open that post's page and the home page. Every read moves the post's latest-read
stamp, and every team member's read moves the standings version, so the stamps a page reads
before its standings are computed are older than the standings it gets back.
"""

import threading
import uuid

import pytest
from django.db import connections
from django.test import Client

from accounts.models import Team, User
from blog.reads import Reader, record_read
from testing.fixtures import new_client_id

pytestmark = pytest.mark.django_db(transaction=True)

READERS = 4
PAGE_VIEWS = 60


def report_reads_until(stop: threading.Event, *, slug: str, team: Team) -> None:
    """New readers each time, so that every report inserts a read: an anonymous one (moves the
    post's latest read) and a new team member's (moves the standings version too)."""
    try:
        while not stop.is_set():
            record_read(reader=Reader(client_id=new_client_id()), slug=slug)
            member = User.objects.create(
                email=f"{uuid.uuid4().hex}@example.com", first_name="Reader", team=team
            )
            record_read(reader=Reader(user=member), slug=slug)
    finally:
        for alias in connections:
            connections[alias].close()


@pytest.mark.parametrize("path", ["/blog/busy-post/", "/"])
def test_pages_answer_while_reads_of_the_post_arrive(path, posts_dir):
    posts_dir.write("busy-post")
    teams = [Team.RED, Team.BLUE, Team.YELLOW, Team.RED]
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=report_reads_until,
            args=(stop,),
            kwargs={"slug": "busy-post", "team": team},
        )
        for team in teams[:READERS]
    ]
    for thread in threads:
        thread.start()
    statuses = []
    try:
        visitor = Client()
        for _ in range(PAGE_VIEWS):
            statuses.append(visitor.get(path).status_code)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert statuses == [200] * PAGE_VIEWS
