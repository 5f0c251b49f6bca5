"""manage.py cluster: starts the two-region emulation, prints its URLs, takes commands on its
standard input (failover), stops on Ctrl-C."""

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from devcluster.client import Client
from devcluster.harness import wait_for

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 120


class RunningCommand:
    """`manage.py cluster` in a subprocess; its output read line by line as it comes."""

    def __init__(self, directory: Path):
        env = {**os.environ, "DEBUG": "true"}
        command = [sys.executable, "manage.py", "cluster", "--directory", str(directory)]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Ctrl-C must reach it even when the test run itself ignores SIGINT, as a background
            # job of a shell without job control does (`make test &`), and its children inherit.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def read_until(self, pattern: str) -> re.Match:
        """Lines until one matches `pattern`; its match."""
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"No {pattern!r} in:\n{''.join(self.seen)}") from None
            if line is None:
                raise AssertionError(f"Ended without {pattern!r}:\n{''.join(self.seen)}")
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match

    def send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()


@pytest.fixture(scope="module")
def command(tmp_path_factory):
    """One running `manage.py cluster` for the module's tests, in order; always stopped."""
    running = RunningCommand(tmp_path_factory.mktemp("cluster-command") / "c")
    try:
        running.urls = {}
        while len(running.urls) < 2:
            match = running.read_until(r"^\s+(lhr|syd): (http://127\.0\.0\.1:\d+)/$")
            running.urls[match.group(1)] = match.group(2)
        running.read_until("Press Ctrl-C")
        yield running
    finally:
        if running.process.poll() is None:
            running.process.send_signal(signal.SIGINT)
            try:
                running.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                running.process.kill()


def test_the_cluster_command_serves_two_regions(command):
    assert set(command.urls) == {"lhr", "syd"}
    response = Client(command.urls["syd"]).post("/logout")
    assert response.route == ["syd-1", "lhr-1"]  # replayed to the primary
    assert response.served_by == "lhr-1"


def test_its_failover_command_stops_the_primary_and_writes_then_replay_to_the_new_one(command):
    command.send("failover")
    assert command.read_until(r"(\S+) is the primary\.").group(1) == "lhr-2"
    command.send("status")
    command.read_until(r"lhr-1 \(lhr, candidate, stopped\)")

    syd = Client(command.urls["syd"])
    answers = []

    def replayed_to_lhr_2():
        response = syd.post("/logout")
        answers.append((response.status, response.route))
        return response.served_by == "lhr-2" and response

    response = wait_for(replayed_to_lhr_2, timeout=60, message=f"never reached lhr-2: {answers}")
    assert response.route == ["syd-1", "lhr-2"]
    # Meanwhile syd-1 either still named lhr-1, whose machine is gone (the edge's 502), or
    # already knew no primary (503): never an answer from the stopped machine.
    assert {status for status, _ in answers[:-1]} <= {502, 503}


def test_ctrl_c_stops_the_cluster_and_everything_in_it(command):
    command.process.send_signal(signal.SIGINT)
    command.read_until("Stopped.")
    assert command.process.wait(timeout=60) == 0


def test_the_cluster_command_refuses_a_directory_in_use(tmp_path):
    (tmp_path / "something").write_text("x")
    with pytest.raises(CommandError, match="not empty"):
        call_command("cluster", "--directory", str(tmp_path))
