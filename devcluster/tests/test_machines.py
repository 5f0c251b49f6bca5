"""Machines stopping and booting as on Fly, seen by a visitor near Sydney whose writes replay to
the primary in London (shared/LITEFS.md, "Observed on a real LiteFS v0.5.14 cluster")."""

import json
import sqlite3
import threading
import urllib.request

import pytest

from devcluster.harness import Cluster, wait_for

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster(tmp_path, cluster_template):
    # A migration waiting on a held lock must outlast the test's steps, not fail after 5 s.
    running = Cluster(
        tmp_path / "cluster",
        extra_env={"DJANGO_SETTINGS_MODULE": "devcluster.tests.slow_lock_settings"},
    )
    running.start(template=cluster_template)
    try:
        yield running
    finally:
        running.stop()


def litefs_info(node) -> dict:
    with urllib.request.urlopen(f"{node.api.url}/info", timeout=5) as response:
        return json.loads(response.read())


def test_replicas_answer_writes_503_once_their_stopped_primary_is_gone_then_replay_when_it_returns(
    cluster,
):
    primary, syd = cluster.node("lhr-1"), cluster.node("syd-1")
    visitor = cluster.client("syd")
    cluster.stop_machine(primary)

    answers = []

    def refused_by_syd():
        response = visitor.post("/logout")
        answers.append(response.status)
        return response.status == 503 and response

    response = wait_for(refused_by_syd, timeout=30, message=f"syd-1 kept replaying: {answers}")
    assert response.route == ["syd-1"]
    assert response.header("Retry-After") == "1"
    # Until syd-1 let go of the dead name, the edge could not reach the stopped machine.
    assert set(answers[:-1]) <= {502}
    assert not syd.mount.primary_path.exists()
    assert litefs_info(syd)["primary"] == {"hostname": ""}
    assert litefs_info(syd)["isPrimary"] is False

    cluster.boot(primary)
    served = wait_for(
        lambda: (r := visitor.post("/logout")).served_by == "lhr-1" and r,
        timeout=30,
        message="syd-1 never named lhr-1 again",
    )
    assert served.route == ["syd-1", "lhr-1"]
    assert syd.mount.primary_path.read_text() == "lhr-1\n"


def test_a_write_replayed_to_a_new_primary_still_migrating_waits_instead_of_meeting_a_closed_port(
    cluster,
):
    primary = cluster.node("lhr-1")
    visitor = cluster.client("syd")
    token = visitor.csrf_token("/login")  # served by syd-1
    cluster.stop_machine(primary)
    cluster.empty_volume(primary)  # a first deploy: its migrations have everything to do
    # Another writer holds the new database: the migrations wait for it, as long as the test says.
    holder = sqlite3.connect(primary.mount.db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    booting = threading.Thread(target=cluster.boot, args=(primary,))
    booting.start()
    answer = {}
    posting = threading.Thread(
        target=lambda: answer.update(
            response=visitor.post("/logout", {"csrfmiddlewaretoken": token})
        )
    )
    try:
        wait_for(
            lambda: primary.is_primary and primary.listening(),
            timeout=60,
            message="lhr-1 took the lease but did not listen while its migrations waited",
        )
        posting.start()
        wait_for(
            lambda: any(e.route == ["syd-1", "lhr-1"] for e in cluster.edge.history),
            timeout=30,
            message="the write was never replayed to lhr-1",
        )
    finally:
        holder.rollback()
        holder.close()
    posting.join(timeout=120)
    booting.join(timeout=120)

    response = answer["response"]
    assert response.status == 302  # signed out, by the new primary, once it was ready
    assert response.route == ["syd-1", "lhr-1"]
    assert response.served_by == "lhr-1"
    assert "Migrating the site database" in primary.log()
