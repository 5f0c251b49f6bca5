"""The deployment files say what they must: read and checked, since Fly is not reachable here."""

import copy
import http.client
import os
import re
import runpy
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest
from django.urls import resolve
from setuptools import find_namespace_packages

from devcluster import litefs_config as litefs_yml
from litesite.health import healthcheck
from testing.gunicorn import Gunicorn

ROOT = Path(__file__).resolve().parents[2]

# LiteFS 0.5's config struct (cmd/litefs/config.go, v0.5.14): it decodes with KnownFields(true),
# so any other key aborts start-up. `None` marks a leaf; `exec` is a list of ExecConfig.
LITEFS_KEYS = {
    "exit-on-error": None,
    "skip-sync": None,
    "strict-verify": None,
    "exec": {"cmd": None, "if-candidate": None},
    "data": {"dir": None, "compress": None, "retention": None, "retention-monitor-interval": None},
    "fuse": {"dir": None, "allow-other": None, "debug": None},
    "http": {"addr": None, "snapshot-timeout": None},
    "proxy": dict.fromkeys(
        [
            "addr",
            "target",
            "db",
            "max-lag",
            "debug",
            "passthrough",
            "always-forward",
            "primary-redirect-timeout",
            "read-timeout",
            "read-header-timeout",
            "write-timeout",
            "idle-timeout",
        ]
    ),
    "lease": {
        **dict.fromkeys(
            [
                "type",
                "hostname",
                "advertise-url",
                "candidate",
                "promote",
                "reconnect-delay",
                "demote-delay",
                "databases",
            ]
        ),
        "consul": dict.fromkeys(["url", "key", "ttl", "lock-delay"]),
    },
    "backup": dict.fromkeys(["type", "path", "url", "cluster", "auth-token"]),
    "log": dict.fromkeys(["format", "timestamp", "debug"]),
    "tracing": dict.fromkeys(["enabled", "path", "max-size", "max-count", "compress"]),
}

FLY_MACHINE_ENV = {
    "FLY_APP_NAME": "litesite",
    "FLY_CONSUL_URL": "https://consul.example/abc",
    "HOSTNAME": "e784079b1d4e86",
    "PRIMARY_REGION": "lhr",
}


def litefs_config(region: str) -> dict:
    return litefs_yml.load({**FLY_MACHINE_ENV, "FLY_REGION": region}, ROOT / "litefs.yml")


@pytest.fixture(scope="module")
def fly() -> dict:
    return tomllib.loads((ROOT / "fly.toml").read_text())


def sqlite_path(url: str) -> Path:
    assert url.startswith("sqlite:////"), f"{url} is not an absolute sqlite URL"
    return Path(url.removeprefix("sqlite:///"))


def unknown_keys(config, allowed, prefix=""):
    if allowed is None:
        return []
    if isinstance(config, list):
        return [key for item in config for key in unknown_keys(item, allowed, prefix)]
    found = []
    for key, value in config.items():
        if key not in allowed:
            found.append(prefix + key)
        elif isinstance(value, dict | list):
            found += unknown_keys(value, allowed[key], f"{prefix}{key}.")
    return found


def test_every_litefs_yml_key_is_one_litefs_accepts():
    assert unknown_keys(litefs_config("lhr"), LITEFS_KEYS) == []


def test_only_machines_in_the_primary_region_are_candidates_and_they_promote():
    assert litefs_config("lhr")["lease"]["candidate"] is True
    assert litefs_config("syd")["lease"]["candidate"] is False
    lease = litefs_config("lhr")["lease"]
    assert (lease["type"], lease["promote"]) == ("consul", True)
    assert lease["consul"] == {"url": "https://consul.example/abc", "key": "litefs/litesite"}
    assert lease["advertise-url"] == "http://e784079b1d4e86.vm.litesite.internal:20202"


def migration_problems(config: dict) -> list[str]:
    """Where litefs.yml would let a deploy's migrations run on a replica, or not at all.

    `if-candidate` tests the node's `candidate` setting, not whether it holds the lease: only
    `promote: true` makes a booting candidate the primary before `exec` runs. The app's own
    start-up (gunicorn's when_ready: manage.py migrate_node) migrates only on the primary, so
    it needs the booting candidate to be the primary too.
    """
    lease, commands = config["lease"], litefs_yml.exec_commands(config)
    if lease.get("promote") is True or lease.get("candidate") is not True:
        return []
    problems = [
        f"`{c.cmd}` runs if-candidate on a standby that is a replica"
        for c in commands
        if c.if_candidate and "migrate" in c.cmd
    ]
    if commands and commands[-1].cmd.startswith("gunicorn"):
        problems.append("the booting candidate is not the primary when gunicorn migrates")
    return problems


def test_the_app_is_the_only_exec_command_and_no_migration_runs_before_it():
    for region in ("lhr", "syd"):
        commands = litefs_yml.exec_commands(litefs_config(region))
        assert [c.cmd for c in commands] == ["gunicorn --config gunicorn.conf.py"]
        assert not commands[0].if_candidate


def test_gunicorn_migrates_this_machines_databases_after_binding_and_before_its_workers(
    monkeypatch,
):
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    ran, halted = [], []

    def run(argv, **kwargs):
        ran.append(argv)
        return types.SimpleNamespace(returncode=0)

    monkeypatch.setattr(subprocess, "run", run)
    server = types.SimpleNamespace(halt=lambda **kw: halted.append(kw))
    config["when_ready"](server)  # gunicorn calls it once listening, before spawning workers
    assert [Path(a).name for a in ran[0][1:]] == ["manage.py", "migrate_node"]
    assert halted == []

    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: types.SimpleNamespace(returncode=1))
    config["when_ready"](server)
    assert halted == [{"reason": "manage.py migrate_node failed", "exit_status": 1}]


def test_a_booting_candidate_is_promoted_so_migrations_run_on_the_primary():
    assert migration_problems(litefs_config("lhr")) == []
    assert migration_problems(litefs_config("syd")) == []


@pytest.mark.parametrize(
    "exec_commands",
    [
        None,  # litefs.yml's own: gunicorn migrates on the primary as it starts
        [
            {"cmd": "python manage.py migrate --database default --noinput", "if-candidate": True},
            {"cmd": "gunicorn --config gunicorn.conf.py"},
        ],
    ],
)
def test_dropping_promote_is_caught_while_a_candidate_migrates(exec_commands):
    config = copy.deepcopy(litefs_config("lhr"))
    if exec_commands is not None:
        config["exec"] = exec_commands
    config["lease"].pop("promote", None)
    assert migration_problems(config)


def test_both_databases_live_on_the_volume_and_the_cache_outside_the_litefs_mount(fly):
    volume = Path(fly["mounts"]["destination"])
    config = litefs_config("lhr")
    mount, data = Path(config["fuse"]["dir"]), Path(config["data"]["dir"])
    env = fly["env"]
    database, cache = sqlite_path(env["DATABASE_URL"]), sqlite_path(env["CACHE_DATABASE_URL"])
    assert data.is_relative_to(volume) and mount.is_relative_to(volume)
    assert not data.is_relative_to(mount) and not mount.is_relative_to(data)
    assert database.parent == mount == Path(env["LITEFS_DIR"])
    assert database.name == env["LITEFS_DB_NAME"]
    assert cache.is_relative_to(volume)
    assert not cache.is_relative_to(mount) and not cache.is_relative_to(data)


def test_the_ports_agree_and_the_litefs_api_stays_private(fly, monkeypatch):
    port = fly["http_service"]["internal_port"]
    assert fly["env"]["PORT"] == str(port)
    monkeypatch.setenv("PORT", fly["env"]["PORT"])
    gunicorn = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert gunicorn["bind"] == f"0.0.0.0:{port}"
    assert f"EXPOSE {port}" in (ROOT / "Dockerfile").read_text()
    api_port = litefs_config("lhr")["http"]["addr"].rsplit(":", 1)[1]
    assert fly["env"]["LITEFS_API_URL"] == f"http://127.0.0.1:{api_port}"
    assert "services" not in fly  # only the http_service on gunicorn's port is public


def test_machines_are_never_stopped_automatically(fly):
    service = fly["http_service"]
    assert service["auto_stop_machines"] in ("off", False)
    assert service["min_machines_running"] >= 1
    assert service["concurrency"]["hard_limit"] >= service["concurrency"]["soft_limit"] > 0


@pytest.mark.django_db
def test_the_health_check_path_resolves_to_the_health_view_and_answers(fly, client):
    check = fly["http_service"]["checks"][0]
    assert resolve(check["path"]).func is healthcheck
    assert check["method"] == "GET"
    assert client.get(check["path"]).status_code == 200


def test_the_image_is_multi_stage_with_pinned_litefs_and_the_system_tools():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) >= 3
    assert re.search(r"^FROM flyio/litefs:0\.5\.\d+ AS litefs$", dockerfile, re.M)
    assert re.search(r"^FROM python:\S+-slim", dockerfile, re.M)
    for package in ("fuse3", "ca-certificates", "sqlite3", "ffmpeg"):
        assert re.search(rf"apt-get install[^\n]*\b{package}\b", dockerfile)
    assert "pyproject.toml" in dockerfile
    assert "collectstatic --noinput" in dockerfile
    assert 'ENTRYPOINT ["litefs", "mount"]' in dockerfile


def test_gunicorn_runs_threads_from_the_environment_and_opens_nothing_before_the_fork(
    monkeypatch,
):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "6")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert (config["worker_class"], config["workers"], config["threads"]) == ("gthread", 3, 6)
    assert config["preload_app"] is False


def test_the_docker_context_leaves_out_local_state_the_development_cluster_and_test_support():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".git", ".venv", "var", "devcluster", "testing"):
        assert path in ignored
    copies = re.findall(r"^COPY .*$", (ROOT / "Dockerfile").read_text(), re.M)
    assert copies and not any("devcluster" in line for line in copies)


def test_the_package_ships_the_product_without_the_development_cluster_or_the_test_support():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    shipped = set(find_namespace_packages(where=str(ROOT), include=include))
    assert {"litesite", "accounts", "blog", "calls", "cachedb"} <= shipped
    assert not {p for p in shipped if p.split(".")[0] in ("devcluster", "testing")}


@pytest.mark.parametrize("debug", ["false", "true"])
def test_the_site_runs_where_the_development_cluster_is_not(tmp_path, debug):
    # Outside the checkout, as in the image: only the installed packages are importable.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DEVCLUSTER"))}
    env |= {
        "DEBUG": debug,
        "SECRET_KEY": "image-test-secret-key",
        "DATABASE_URL": f"sqlite:///{tmp_path}/site.sqlite3",
        "CACHE_DATABASE_URL": f"sqlite:///{tmp_path}/cache.sqlite3",
        "DJANGO_SETTINGS_MODULE": "litesite.settings",
    }
    probe = (
        "import importlib.util, django\n"
        "assert importlib.util.find_spec('devcluster') is None\n"
        "django.setup()\n"
        "from django.conf import settings\n"
        "from django.core.management import call_command\n"
        "call_command('check')\n"
        "import litesite.wsgi\n"
        "print('devcluster' in settings.INSTALLED_APPS)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "False"


def test_env_of_this_test_does_not_leak_into_the_gunicorn_defaults(monkeypatch):
    for name in ("PORT", "BIND_HOST", "WEB_CONCURRENCY", "GUNICORN_THREADS"):
        monkeypatch.delenv(name, raising=False)
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert config["bind"] == "0.0.0.0:8080"
    assert (config["workers"], config["threads"]) == (2, 4)
    assert os.environ.get("PORT") is None


# --- Who may say the visitor used HTTPS ---------------------------------------------------------
FLY_IDENTITY = {"FLY_APP_NAME": "litesite", "FLY_MACHINE_ID": "e784079b1d4e86"}
# Linux routes all of 127.0.0.0/8 to loopback: a client bound to 127.0.0.2 reaches a server on
# 127.0.0.1 without being the trusted "proxy on this machine" at 127.0.0.1.
STRANGER = "127.0.0.2"
LOCAL_PROXY = "127.0.0.1"
# The site as production serves it: HTTPS only.
SITE_URL = "https://litesite.example"


@pytest.mark.parametrize(
    ("variables", "allowed"),
    [
        ({}, ["127.0.0.1", "::1"]),
        (FLY_IDENTITY, ["*"]),
        ({**FLY_IDENTITY, "TRUST_FLY_PROXY": "false"}, ["127.0.0.1", "::1"]),
        ({"TRUST_FLY_PROXY": "true"}, ["*"]),
        ({**FLY_IDENTITY, "FORWARDED_ALLOW_IPS": "10.1.2.3"}, ["10.1.2.3"]),
    ],
)
def test_gunicorn_believes_forwarded_headers_from_anyone_only_on_fly(
    monkeypatch, variables, allowed
):
    for name in ("FLY_APP_NAME", "FLY_MACHINE_ID", "TRUST_FLY_PROXY", "FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert config["forwarded_allow_ips"].split(",") == allowed


def test_gunicorn_refuses_a_trust_fly_proxy_that_is_neither_true_nor_false(monkeypatch):
    monkeypatch.setenv("TRUST_FLY_PROXY", "sometimes")
    with pytest.raises(ValueError, match="TRUST_FLY_PROXY must be true or false"):
        runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def get(port, path, *, source, forwarded_proto=None):
    """GET `path` from the address `source`; None while the server is not listening yet."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=30, source_address=(source, 0)
    )
    headers = {"Host": "litesite.example"}
    if forwarded_proto:
        headers["X-Forwarded-Proto"] = forwarded_proto
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response
    except ConnectionRefusedError:
        return None
    finally:
        connection.close()


@pytest.fixture(scope="module")
def off_fly_server(tmp_path_factory):
    with Gunicorn(tmp_path_factory.mktemp("off-fly"), SITE_URL=SITE_URL) as server:
        yield server.port


@pytest.fixture(scope="module")
def fly_server(tmp_path_factory):
    with Gunicorn(tmp_path_factory.mktemp("on-fly"), SITE_URL=SITE_URL, **FLY_IDENTITY) as server:
        yield server.port


def test_off_fly_a_client_claiming_https_is_still_redirected_to_https(off_fly_server):
    response = get(off_fly_server, "/logout", source=STRANGER, forwarded_proto="https")
    assert response.status == 301
    assert response.getheader("Location") == "https://litesite.example/logout"


def test_off_fly_a_proxy_on_this_machine_is_believed(off_fly_server):
    response = get(off_fly_server, "/logout", source=LOCAL_PROXY, forwarded_proto="https")
    assert response.status == 302 and response.getheader("Location") == "/"
    assert response.getheader("Strict-Transport-Security")


def test_on_fly_the_proxys_https_is_believed(fly_server):
    response = get(fly_server, "/logout", source=STRANGER, forwarded_proto="https")
    assert response.status == 302 and response.getheader("Location") == "/"
    assert response.getheader("Strict-Transport-Security")


def test_on_fly_plain_http_is_redirected_to_https(fly_server):
    response = get(fly_server, "/logout", source=STRANGER, forwarded_proto="http")
    assert response.status == 301
    assert response.getheader("Location") == "https://litesite.example/logout"
