"""Every response is counted by view (its URL pattern's name, never its path) and status, and
timed; the counts are those of the response that leaves the site, after any replay."""

import pytest

from testing.metrics import sample

pytestmark = pytest.mark.django_db


def requests(view: str, status: int) -> float:
    return sample("litesite_requests_total", view=view, status=str(status))


def timed(view: str) -> float:
    return sample("litesite_request_duration_seconds_count", view=view)


def test_a_request_is_counted_under_its_url_name_and_status_and_timed(client):
    before, before_timed = requests("healthcheck", 200), timed("healthcheck")
    assert client.get("/healthcheck").status_code == 200
    assert requests("healthcheck", 200) == before + 1
    assert timed("healthcheck") == before_timed + 1


def test_pages_of_one_route_share_its_name_whatever_their_path(client):
    before = requests("blog:post", 404)
    client.get("/blog/no-such-post/")
    client.get("/blog/another-missing-post/")
    assert requests("blog:post", 404) == before + 2
    assert sample("litesite_requests_total", view="/blog/no-such-post/", status="404") == 0


def test_a_path_no_route_matches_is_counted_as_unmatched(client):
    before = requests("unmatched", 404)
    assert client.get("/wp-login.php").status_code == 404
    assert requests("unmatched", 404) == before + 1


def test_static_files_are_counted_as_static(client):
    status = client.get("/static/css/site.css").status_code
    before = requests("static", status)
    client.get("/static/css/site.css")
    assert requests("static", status) == before + 1


def test_a_write_replayed_by_a_replica_is_counted_under_its_view_with_the_replay_status(
    client, fake_litefs
):
    before = requests("accounts:logout", 409)
    response = client.post("/logout")
    assert response.status_code == 409 and "fly-replay" in response
    assert requests("accounts:logout", 409) == before + 1
