"""Where the metrics server listens, the directory the workers share, and fly.toml's [metrics]."""

import logging
import socket
import tomllib
from pathlib import Path

import pytest

from litesite import metrics_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("environ", "address"),
    [
        ({}, ("127.0.0.1", 9091)),
        ({"FLY_PRIVATE_IP": "fdaa:0:1:a7b:8e:2:3:4"}, ("::", 9091)),
        # The emulated cluster names its machines like Fly's but has no private network.
        ({"FLY_APP_NAME": "litesite-local", "FLY_MACHINE_ID": "lhr-1"}, ("127.0.0.1", 9091)),
        ({"FLY_PRIVATE_IP": "fdaa::3", "METRICS_HOST": "fly-local-6pn"}, ("fly-local-6pn", 9091)),
        ({"METRICS_PORT": "19091"}, ("127.0.0.1", 19091)),
        ({"METRICS_PORT": "0"}, None),
    ],
)
def test_metrics_listen_on_a_private_address_of_their_own(environ, address):
    assert metrics_server.address(environ) == address


@pytest.mark.parametrize("port", ["metrics", "-1", "65536", "9091.5"])
def test_a_metrics_port_that_is_not_a_port_number_stops_start_up(port):
    with pytest.raises(ValueError, match="METRICS_PORT must be a port number"):
        metrics_server.address({"METRICS_PORT": port})


def test_a_given_multiprocess_directory_is_emptied_of_an_earlier_runs_files(tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_123.db").write_bytes(b"old counts")
    (directory / "notes.txt").write_text("not ours")
    environ = {"PROMETHEUS_MULTIPROC_DIR": str(directory)}
    assert metrics_server.prepare_directory(environ) == directory
    assert sorted(p.name for p in directory.iterdir()) == ["notes.txt"]
    metrics_server.remove_own_directory()
    assert directory.exists()  # the operator's directory is never removed


def test_without_a_directory_gunicorn_makes_one_and_removes_it_on_exit():
    environ = {}
    directory = metrics_server.prepare_directory(environ)
    assert environ["PROMETHEUS_MULTIPROC_DIR"] == str(directory)
    assert directory.is_dir() and not any(directory.iterdir())
    metrics_server.remove_own_directory()
    assert not directory.exists()


def test_a_metrics_port_already_taken_is_logged_and_not_fatal(caplog, monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR):
            started = metrics_server.start(
                host="127.0.0.1", port=port, log=logging.getLogger("gunicorn.error")
            )
    assert started is False
    assert f"Metrics: cannot listen on 127.0.0.1:{port}" in caplog.text


def test_fly_scrapes_the_metrics_port_which_no_service_exposes():
    fly = tomllib.loads((ROOT / "fly.toml").read_text())
    assert fly["metrics"] == {"port": metrics_server.DEFAULT_PORT, "path": "/metrics"}
    assert fly["http_service"]["internal_port"] != metrics_server.DEFAULT_PORT
    assert "services" not in fly
    assert "METRICS_PORT" not in fly["env"] and "METRICS_HOST" not in fly["env"]
