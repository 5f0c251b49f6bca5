"""Deleting an account (/me/delete, or a user in the admin): the reader's post reads go, and the
team standings stop counting them on every machine."""

import pytest

from accounts.models import Role, Team
from blog import leaderboard
from blog.models import PostRead
from blog.tests.conftest import BOTH_DATABASES, new_client_id

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES)


def reads_by_team() -> dict[str, int]:
    return {row["team"]: row["reads"] for row in leaderboard.overall_standings()["teams"]}


@pytest.fixture
def reader(make_user):
    return make_user(Team.BLUE, email="reader@example.com")


@pytest.fixture
def stranger(make_user):
    return make_user(Team.RED)


@pytest.fixture
def reads(reader, stranger):
    PostRead.objects.create(user=reader, post_slug="a-post")
    PostRead.objects.create(user=stranger, post_slug="a-post")
    PostRead.objects.create(client_id=new_client_id(), post_slug="a-post")


def test_deleting_the_account_deletes_the_readers_reads_only(client, reader, stranger, reads):
    client.force_login(reader, backend="accounts.backends.MagicLinkBackend")
    client.post("/me/delete", {"confirm_email": "reader@example.com"})
    assert not PostRead.objects.filter(user_id=reader.pk).exists()
    assert PostRead.objects.filter(user=stranger).count() == 1
    assert PostRead.objects.filter(user__isnull=True).count() == 1


def test_the_team_standings_stop_counting_a_deleted_readers_reads(client, reader, reads):
    assert reads_by_team()["BLUE"] == 1  # cached now, with the reader's read in it
    client.force_login(reader, backend="accounts.backends.MagicLinkBackend")
    client.post("/me/delete", {"confirm_email": "reader@example.com"})
    after = reads_by_team()
    assert after["BLUE"] == 0
    assert after["RED"] == 1


def test_a_user_deleted_in_the_admin_stops_counting_for_their_team(
    client, make_user, reader, reads
):
    assert reads_by_team()["BLUE"] == 1  # cached now, with the reader's read in it
    client.force_login(make_user(role=Role.ADMIN), backend="accounts.backends.MagicLinkBackend")
    response = client.post(f"/admin/accounts/user/{reader.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert reads_by_team()["BLUE"] == 0
