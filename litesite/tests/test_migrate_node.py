"""manage.py migrate_node: gunicorn's start-up migrations (gunicorn.conf.py, when_ready).

The cache is migrated on every machine, the replicated site database only on the primary, and
a database with nothing to apply is left alone.
"""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from devcluster.litefs_api import LiteFSAPI
from devcluster.mount import Mount

ROOT = Path(__file__).resolve().parents[2]


def tables(path: Path) -> set[str]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    finally:
        connection.close()


def migrate_node(tmp_path, *args, **variables) -> str:
    """Run the command in a fresh process on this test's own files; its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "LITEFS_", "FLY_"))}
    env |= {
        "SECRET_KEY": "k",
        "DATABASE_URL": f"sqlite:///{tmp_path}/site.sqlite3",
        "CACHE_DATABASE_URL": f"sqlite:///{tmp_path}/cache.sqlite3",
        **variables,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate_node", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_standalone_it_migrates_both_databases_then_leaves_them_alone(tmp_path):
    output = migrate_node(tmp_path)
    assert "Migrating the cache database" in output
    assert "Migrating the site database" in output
    assert "accounts_user" in tables(tmp_path / "site.sqlite3")
    assert "cache_entry" in tables(tmp_path / "cache.sqlite3")

    site_before = (tmp_path / "site.sqlite3").read_bytes()
    output = migrate_node(tmp_path)
    assert output.splitlines() == [
        "The cache database is up to date.",
        "The site database is up to date.",
    ]
    assert (tmp_path / "site.sqlite3").read_bytes() == site_before


def test_on_a_replica_it_never_touches_the_site_database(tmp_path):
    mount = Mount(tmp_path / "litefs", "site.sqlite3")
    mount.make_replica("lhr-1")
    api = LiteFSAPI(lambda: {"isPrimary": False, "primary": {"hostname": "lhr-1"}}, hostname="x")
    api.start()
    try:
        output = migrate_node(
            tmp_path,
            DATABASE_URL=f"sqlite:///{mount.db_path}",
            LITEFS_DIR=str(mount.path),
            LITEFS_API_URL=api.url,
            FLY_MACHINE_ID="syd-1",
        )
    finally:
        api.stop()
        mount.path.chmod(0o755)
    assert "The site database is not migrated here: this node is a replica (primary: lhr-1)" in (
        output
    )
    assert not mount.db_path.exists()  # not even opened
    assert "cache_entry" in tables(tmp_path / "cache.sqlite3")


def test_a_dry_run_says_what_it_would_migrate_and_changes_nothing(tmp_path):
    output = migrate_node(tmp_path, "--dry-run")
    assert "Would migrate the site database:" in output
    assert "Create model User" in output
    assert "accounts_user" not in tables(tmp_path / "site.sqlite3")


@pytest.mark.django_db
def test_on_the_primary_it_looks_at_both_databases(fake_litefs, capsys):
    fake_litefs.make_primary()
    call_command("migrate_node")
    assert capsys.readouterr().out.splitlines() == [
        "The cache database is up to date.",
        "The site database is up to date.",
    ]
