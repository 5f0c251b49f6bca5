"""Deleting an account (/me/delete, or a user in the admin): the reader's post reads go, and the
team standings stop counting them on every machine."""

import pytest

from blog import leaderboard
from blog.models import PostRead
from testing.fixtures import new_client_id

pytestmark = pytest.mark.django_db


def reads_by_team() -> dict[str, int]:
    return {row["team"]: row["reads"] for row in leaderboard.overall_standings()["teams"]}


@pytest.fixture
def reads(reader, other_reader):
    PostRead.objects.create(user=reader, post_slug="a-post")
    PostRead.objects.create(user=other_reader, post_slug="a-post")
    PostRead.objects.create(client_id=new_client_id(), post_slug="a-post")


def test_deleting_the_account_deletes_the_readers_reads_only(
    reader_client, reader, other_reader, reads
):
    reader_client.post("/me/delete", {"confirm_email": "ada@example.com"})
    assert not PostRead.objects.filter(user_id=reader.pk).exists()
    assert PostRead.objects.filter(user=other_reader).count() == 1
    assert PostRead.objects.filter(user__isnull=True).count() == 1


def test_the_team_standings_stop_counting_a_deleted_readers_reads(reader_client, reads):
    assert reads_by_team()["RED"] == 1  # cached now, with the reader's read in it
    reader_client.post("/me/delete", {"confirm_email": "ada@example.com"})
    after = reads_by_team()
    assert after["RED"] == 0
    assert after["BLUE"] == 1


def test_a_user_deleted_in_the_admin_stops_counting_for_their_team(staff_client, reader, reads):
    assert reads_by_team()["RED"] == 1  # cached now, with the reader's read in it
    response = staff_client.post(f"/admin/accounts/user/{reader.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert reads_by_team()["RED"] == 0
