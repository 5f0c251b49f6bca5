"""litesite/litefs.py: what LiteFS says about this node, read strictly and cheaply."""

import logging

import pytest

from litesite import litefs


def node() -> litefs.Node:
    return litefs.Node.from_settings()


def test_without_litefs_the_node_is_a_standalone_primary(settings):
    settings.LITEFS_DIR = ""
    assert node().standalone
    assert node().is_primary
    assert node().primary_hostname is None
    assert node().txid is None
    litefs.ensure_primary()  # does not raise


def test_a_replica_knows_its_primary_from_the_primary_file(fake_litefs):
    fake_litefs.make_replica("lhr-1", txid=0x2DF417)
    assert node().role is litefs.Role.REPLICA
    assert node().primary_hostname == "lhr-1"
    assert node().txid == 0x2DF417


def test_the_primary_is_told_apart_from_a_lost_replica_by_the_litefs_api(fake_litefs):
    fake_litefs.make_primary(txid=7)
    assert node().is_primary
    assert node().primary_hostname == "syd-1"  # under LiteFS the primary names itself
    assert node().txid == 7


def test_a_replica_without_a_primary_file_that_litefs_says_is_not_primary_has_no_primary(
    fake_litefs,
):
    fake_litefs.make_replica(None)
    assert node().role is litefs.Role.NO_PRIMARY
    assert node().primary_hostname is None
    assert not node().is_primary


def test_the_litefs_api_may_name_the_primary_while_the_file_is_missing(fake_litefs):
    fake_litefs.make_replica(None)
    fake_litefs.info["primary"] = {"hostname": "lhr-2"}
    assert node().role is litefs.Role.REPLICA
    assert node().primary_hostname == "lhr-2"


def test_an_unreachable_litefs_api_means_no_primary_and_a_warning(fake_litefs, caplog):
    fake_litefs.make_replica(None)
    fake_litefs.api.answering = False
    with caplog.at_level(logging.WARNING, logger="litesite.litefs"):
        assert node().role is litefs.Role.NO_PRIMARY
    assert "did not answer" in caplog.text


def test_the_litefs_api_answer_is_cached_briefly(fake_litefs, monkeypatch):
    fake_litefs.make_primary()
    assert node().is_primary
    fake_litefs.info["isPrimary"] = False  # LiteFS changed its mind; the cache has not expired
    assert node().is_primary
    monkeypatch.setattr(litefs, "INFO_CACHE_SECONDS", 0)
    assert not node().is_primary


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"lhr-1",
        b"lhr-1\n\n",
        b"lhr-1\nlhr-2\n",
        b" lhr-1\n",
        b"lhr 1\n",
        b"\xff\xfe\n",
        b"syd-1\n",
    ],
    ids=[
        "empty",
        "no-newline",
        "two-newlines",
        "two-lines",
        "leading-space",
        "space",
        "binary",
        "self",
    ],
)
def test_a_malformed_primary_file_means_unknown_with_a_warning_never_primary(
    fake_litefs, caplog, content
):
    fake_litefs.make_primary()  # even where LiteFS's API would say "primary"
    fake_litefs.mount.write_raw(".primary", content)
    with caplog.at_level(logging.WARNING, logger="litesite.litefs"):
        assert node().role is litefs.Role.NO_PRIMARY
    assert ".primary" in caplog.text


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"00000000002df417/ce552e44f23fbbdd",  # 33 bytes: no newline
        b"00000000002DF417/ce552e44f23fbbdd\n",  # upper case
        b"0000000002df417/ce552e44f23fbbdd\n\n",  # 15 hex digits
        b"00000000002df417-ce552e44f23fbbdd\n",
        b"00000000002df417/ce552e44f23fbbdd\nx",
        b"zzzzzzzzzzzzzzzz/ce552e44f23fbbdd\n",
    ],
)
def test_a_malformed_pos_file_means_an_unknown_txid_with_a_warning(fake_litefs, caplog, content):
    fake_litefs.mount.write_raw("site.sqlite3-pos", content)
    with caplog.at_level(logging.WARNING, logger="litesite.litefs"):
        assert node().txid is None
    assert "site.sqlite3-pos" in caplog.text


def test_pos_files_are_parsed_exactly():
    assert litefs.parse_pos(b"00000000002df417/ce552e44f23fbbdd\n") == 0x2DF417
    assert litefs.parse_pos(b"0000000000000000/0000000000000000\n") == 0


def test_lag_files_are_parsed_exactly(fake_litefs):
    assert litefs.parse_lag(b"+000000000\n") == 0
    assert litefs.parse_lag(b"+000001500\n") == 1500
    assert litefs.parse_lag(b"+2147483647\n") == 2_147_483_647  # never synced
    assert litefs.parse_lag(b"1500\n") is None
    assert litefs.parse_lag(b"+000001500") is None
    fake_litefs.mount.write_lag(250)
    assert node().lag_ms == 250
    fake_litefs.mount.write_raw(".lag", b"soon\n")
    assert node().lag_ms is None


def test_txid_cookies_are_sixteen_lower_case_hex_digits():
    assert litefs.parse_txid("00000000002df417") == 0x2DF417
    assert litefs.format_txid(0x2DF417) == "00000000002df417"
    for bad in ["2df417", "00000000002DF417", "00000000002df417 ", "0x0000000002df41", "", None]:
        assert litefs.parse_txid(bad) is None


def test_a_node_reads_each_fact_once_so_a_request_sees_one_consistent_state(fake_litefs):
    looked_at = node()
    assert looked_at.primary_hostname == "lhr-1"
    assert looked_at.txid == 1
    fake_litefs.mount.set_primary_file("lhr-2")
    fake_litefs.mount.write_pos(9, "0123456789abcdef")
    assert looked_at.primary_hostname == "lhr-1"
    assert looked_at.txid == 1
    assert looked_at.read_txid() == 9  # polling reads afresh


def test_within_a_request_scope_every_caller_shares_the_one_node(fake_litefs):
    state = litefs.RequestState(node=node())
    with litefs.request_scope(state):
        assert litefs.current_node() is state.node
        assert litefs.primary_hostname() == "lhr-1"
        fake_litefs.mount.set_primary_file("lhr-2")
        assert litefs.primary_hostname() == "lhr-1"
    assert litefs.primary_hostname() == "lhr-2"


def test_ensure_primary_raises_on_a_replica_and_records_why(fake_litefs):
    state = litefs.RequestState(node=node())
    with litefs.request_scope(state), pytest.raises(litefs.ReplayToPrimary):
        litefs.ensure_primary("extending a session")
    assert state.replay_reason == "extending a session"


def test_ensure_primary_passes_on_the_primary(fake_litefs):
    fake_litefs.make_primary()
    litefs.ensure_primary()


def test_templates_get_the_primarys_machine_id_for_uploads_that_bypass_replay(fake_litefs, rf):
    from litesite.context_processors import site

    assert site(rf.get("/"))["PRIMARY_INSTANCE_ID"] == "lhr-1"
    fake_litefs.make_primary()
    assert site(rf.get("/"))["PRIMARY_INSTANCE_ID"] == "syd-1"
    fake_litefs.make_replica(None)
    assert site(rf.get("/"))["PRIMARY_INSTANCE_ID"] is None


def test_while_one_thread_asks_litefs_the_others_use_its_last_answer(monkeypatch):
    import threading
    import time

    cache = litefs._InfoCache()
    answers = iter([{"isPrimary": True}, {"isPrimary": False}])
    asking, release = threading.Event(), threading.Event()

    def fetch(api_url):
        answer = next(answers)
        if answer == {"isPrimary": False}:  # the second look-up hangs until released
            asking.set()
            release.wait(5)
        return answer

    monkeypatch.setattr(litefs, "_fetch_info", fetch)
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    assert cache.get("http://api") == {"isPrimary": True}
    clock[0] += litefs.INFO_CACHE_SECONDS + 1  # expired: the next caller asks again
    slow = threading.Thread(target=cache.get, args=("http://api",))
    slow.start()
    assert asking.wait(5)
    assert cache.get("http://api") == {"isPrimary": True}  # at once, not a second look-up
    release.set()
    slow.join(5)
    assert cache.get("http://api") == {"isPrimary": False}
