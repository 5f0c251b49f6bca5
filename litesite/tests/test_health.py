"""/healthcheck: 200 while both databases answer, 503 naming the one that does not."""

import pytest
from django.db import connections

# transaction=True: the test repoints a connection, which must not sit inside a test transaction.
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "cache"])


@pytest.fixture
def unusable_cache_database(tmp_path):
    """Point the cache alias at a file in a folder that does not exist, as a lost volume would.

    Yields a function that puts the real database back."""
    connection = connections["cache"]
    original = connection.settings_dict["NAME"]

    def restore():
        connection.close()
        connection.settings_dict["NAME"] = original

    connection.close()
    connection.settings_dict["NAME"] = str(tmp_path / "no-such-folder" / "cache.sqlite3")
    yield restore
    restore()


def test_healthy_databases_answer_200_with_each_alias_ok(client):
    response = client.get("/healthcheck")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "databases": {"default": "ok", "cache": "ok"}}
    assert "no-cache" in response["Cache-Control"]


def test_head_requests_work_for_load_balancers(client):
    assert client.head("/healthcheck").status_code == 200


def test_an_unusable_cache_database_answers_503_naming_it(client, unusable_cache_database):
    response = client.get("/healthcheck")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert list(body["failed"]) == ["cache"]
    assert "unable to open database file" in body["failed"]["cache"]


def test_the_check_recovers_once_the_database_is_back(client, unusable_cache_database):
    assert client.get("/healthcheck").status_code == 503
    unusable_cache_database()
    assert client.get("/healthcheck").status_code == 200


def test_writes_are_not_accepted(client):
    assert client.post("/healthcheck").status_code == 405
