"""manage.py cluster: starts the two-region emulation, prints its URLs, stops on Ctrl-C."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from litesite.cluster.client import Client

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]


def test_the_cluster_command_serves_two_regions_until_interrupted(tmp_path):
    env = {**os.environ, "DEBUG": "true"}
    command = [sys.executable, "manage.py", "cluster", "--directory", str(tmp_path / "c")]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        urls = {}
        for line in process.stdout:
            if match := re.match(r"\s+(lhr|syd): (http://127\.0\.0\.1:\d+)/$", line):
                urls[match.group(1)] = match.group(2)
            if "Press Ctrl-C" in line:
                break
        assert set(urls) == {"lhr", "syd"}
        response = Client(urls["syd"]).post("/logout")
        assert response.route == ["syd-1", "lhr-1"]  # replayed to the primary
        assert response.served_by == "lhr-1"
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output
    assert "Stopped." in output


def test_the_cluster_command_refuses_a_directory_in_use(tmp_path):
    (tmp_path / "something").write_text("x")
    with pytest.raises(CommandError, match="not empty"):
        call_command("cluster", "--directory", str(tmp_path))
