"""/healthcheck: 503 only when the site database fails; a failing cache is "degraded" but 200."""

from pathlib import Path

import pytest
from django.db import connections

# transaction=True: the tests repoint connections, which must not sit inside a test transaction.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def repoint(tmp_path):
    """Point an alias at a file in a folder that does not exist, as a lost volume would."""
    changed = {}

    def repoint(alias: str) -> None:
        connection = connections[alias]
        changed.setdefault(alias, connection.settings_dict["NAME"])
        connection.close()
        connection.settings_dict["NAME"] = str(tmp_path / "no-such-folder" / "db.sqlite3")

    yield repoint
    for alias, original in changed.items():
        connections[alias].close()
        connections[alias].settings_dict["NAME"] = original


def test_healthy_databases_answer_200_with_each_alias_ok(client):
    response = client.get("/healthcheck")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "databases": {"default": "ok", "cache": "ok"},
        "replication": {"mode": "standalone", "role": "primary", "writes": "here"},
        "cache_faults": {},
        "problems": [],
    }
    assert "no-cache" in response["Cache-Control"]


def test_head_requests_work_for_load_balancers(client):
    assert client.head("/healthcheck").status_code == 200


def test_an_unusable_site_database_answers_503_naming_it(client, repoint):
    repoint("default")
    response = client.get("/healthcheck")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert "unable to open database file" in body["databases"]["default"]


def test_an_unusable_cache_database_is_reported_degraded_but_stays_in_rotation(client, repoint):
    repoint("cache")
    response = client.get("/healthcheck")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert "unable to open database file" in body["databases"]["cache"]
    assert "broken" in body["cache_faults"]


def test_a_cache_file_without_its_tables_is_reported_and_given_them(client, own_cache_file):
    connections["cache"].close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{own_cache_file}{suffix}").unlink(missing_ok=True)
    first = client.get("/healthcheck").json()
    assert first["status"] == "degraded"
    assert first["databases"]["cache"].startswith("missing tables: cache_entry")
    assert client.get("/healthcheck").json()["databases"]["cache"] == "ok"


def test_a_garbage_cache_file_is_reported_then_replaced(client, own_cache_file):
    connections["cache"].close()
    own_cache_file.write_bytes(b"garbage " * 1000)
    for suffix in ("-wal", "-shm"):
        Path(f"{own_cache_file}{suffix}").unlink(missing_ok=True)
    first = client.get("/healthcheck").json()
    assert first["status"] == "degraded"
    assert "not a database" in first["databases"]["cache"]
    assert client.get("/healthcheck").json()["databases"]["cache"] == "ok"


def test_writes_are_not_accepted(client):
    assert client.post("/healthcheck").status_code == 405


def test_a_replica_reports_its_primary_txid_lag_and_that_writes_go_by_replay(client, fake_litefs):
    fake_litefs.make_replica("lhr-1", txid=0x2DF417)
    fake_litefs.mount.write_lag(250)
    body = client.get("/healthcheck").json()
    assert body["status"] == "ok"
    assert body["replication"] == {
        "mode": "litefs",
        "instance": "syd-1",
        "region": "syd",
        "role": "replica",
        "primary": "lhr-1",
        "txid": "00000000002df417",
        "lag_ms": 250,
        "never_synced": False,
        "writes": "by replay to the primary",
    }


def test_a_replica_whose_primary_is_gone_stays_in_rotation_but_says_writes_are_unavailable(
    client, fake_litefs
):
    fake_litefs.make_replica(None)
    response = client.get("/healthcheck")
    assert response.status_code == 200  # it still serves every read
    body = response.json()
    assert body["status"] == "degraded"
    assert body["replication"]["role"] == "no-primary"
    assert body["replication"]["primary"] is None
    assert body["replication"]["writes"].startswith("unavailable")
    assert body["problems"] == ["no primary is known: writes are refused until one is back"]


def test_a_replica_far_behind_is_degraded(client, fake_litefs):
    fake_litefs.mount.write_lag(60_000)
    body = client.get("/healthcheck").json()
    assert body["status"] == "degraded"
    assert body["problems"] == ["this replica is 60000 ms behind the primary"]


def test_the_primary_serves_writes_itself(client, fake_litefs):
    fake_litefs.make_primary(txid=7)
    body = client.get("/healthcheck").json()
    assert body["status"] == "ok"
    assert body["replication"]["role"] == "primary"
    assert body["replication"]["primary"] == "syd-1"
    assert body["replication"]["writes"] == "here"
    assert body["replication"]["lag_ms"] == 0
