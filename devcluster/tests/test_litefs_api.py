"""The emulated LiteFS API answers GET /info as LiteFS v0.5.14 does (shared/LITEFS.md,
"Observed on a real LiteFS v0.5.14 cluster")."""

import re
import urllib.request

import pytest

from devcluster.litefs_api import LiteFSAPI, new_cluster_id


@pytest.fixture
def api():
    info = {"isPrimary": False, "candidate": True, "path": "/var/lib/litefs", "primary": {}}
    running = LiteFSAPI(lambda: info, hostname="lhr-2", cluster_id="LFSC0123456789ABCDEF")
    running.start()
    running.state = info
    yield running
    running.stop()


def get_info(api):
    with urllib.request.urlopen(f"{api.url}/info", timeout=5) as response:
        return response.status, response.headers, response.read().decode()


def test_info_is_pretty_printed_json_as_plain_text_with_the_node_and_cluster_ids(api):
    api.state["primary"] = {"hostname": "lhr-1"}
    status, headers, body = get_info(api)
    assert status == 200
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert re.fullmatch(r"[0-9A-F]{16}", headers["Litefs-Id"])
    assert headers["Litefs-Cluster-Id"] == "LFSC0123456789ABCDEF"
    assert body == (
        "{\n"
        '  "clusterID": "LFSC0123456789ABCDEF",\n'
        '  "isPrimary": false,\n'
        '  "candidate": true,\n'
        '  "path": "/var/lib/litefs",\n'
        '  "primary": {\n'
        '    "hostname": "lhr-1"\n'
        "  }\n"
        "}\n"
    )


def test_a_node_that_knows_no_primary_says_an_empty_hostname(api):
    assert '"primary": {\n    "hostname": ""\n  }' in get_info(api)[2]


def test_node_ids_are_stable_per_hostname_and_cluster_ids_look_like_litefs_s(api):
    other = LiteFSAPI(dict, hostname="lhr-2")
    assert other.node_id == api.node_id
    assert LiteFSAPI(dict, hostname="syd-1").node_id != api.node_id
    assert re.fullmatch(r"LFSC[0-9A-F]{16}", new_cluster_id())
    other.server.server_close()
