"""CacheRouter: the cachedb app lives in `cache`, everything else in `default`, never mixed."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from cachedb.models import BackendEntry, CacheEntry, CacheLease
from cachedb.routers import CacheRouter

ROOT = Path(__file__).resolve().parents[2]
CACHE_TABLES = {"cache_entry", "cache_backend_entry", "cache_lease"}


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows if not name.startswith("sqlite_")}


def manage(*args, tmp_path):
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite3'}",
        "CACHE_DATABASE_URL": f"sqlite:///{tmp_path / 'cache.sqlite3'}",
    }
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )


def test_migrate_creates_site_tables_in_default_only_and_none_of_the_cache_tables(tmp_path):
    manage("migrate", "--noinput", tmp_path=tmp_path)
    site = tables(tmp_path / "site.sqlite3")
    assert "accounts_user" in site
    assert not site & CACHE_TABLES
    # The cache file is created by Django on connect, but migrate never touched it.
    cache_file = tmp_path / "cache.sqlite3"
    assert not cache_file.exists() or tables(cache_file) <= {"django_migrations"}


def test_migrate_database_cache_creates_the_cache_tables_only(tmp_path):
    manage("migrate", "--database", "cache", "--noinput", tmp_path=tmp_path)
    assert tables(tmp_path / "cache.sqlite3") == CACHE_TABLES | {"django_migrations"}


def test_cachedb_models_are_read_and_written_in_the_cache_database():
    router = CacheRouter()
    for model in (CacheEntry, BackendEntry, CacheLease):
        assert router.db_for_read(model) == "cache"
        assert router.db_for_write(model) == "cache"
    # Any other app's model, here one of Django's own: cachedb knows none of the site's apps.
    assert router.db_for_read(Group) == "default"
    assert router.db_for_write(Group) == "default"


def test_migrations_are_allowed_only_in_their_own_database():
    router = CacheRouter()
    assert router.allow_migrate("cache", "cachedb")
    assert not router.allow_migrate("default", "cachedb")
    assert router.allow_migrate("default", "accounts")
    assert not router.allow_migrate("cache", "accounts")


def test_relations_across_the_two_databases_are_refused():
    router = CacheRouter()
    entry, lease = CacheEntry(key="a"), CacheLease(key="a")
    assert router.allow_relation(entry, lease)
    assert not router.allow_relation(entry, Group(name="readers"))


@pytest.mark.django_db
def test_the_orm_finds_cache_rows_in_the_cache_database_through_the_router():
    CacheEntry.objects.create(key="k", value="1", created_at=0)
    assert CacheEntry.objects.db == "cache"
    assert CacheEntry.objects.using("cache").filter(key="k").exists()
