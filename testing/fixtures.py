"""What every app's tests share: the databases, users, signed-in clients, and helpers.

A pytest plugin (the root conftest.py registers it), so the fixtures need no import; the helper
functions below are imported from here (`from testing.fixtures import add_read`).

The vocabulary, one name per thing:
- `make_user(team, role=..., email=..., first_name=...)`: a new user on each call.
- `reader` (Ada, red team) and `other_reader` (Bob, blue): members.
- `staff_user` (Host, yellow): role ADMIN, which makes them staff in the admin and the calls desk.
  pytest-django's `admin_user` and `admin_client` keep their meaning (a user made by
  `create_superuser`, signed in with a password); nothing here overrides them.
- `reader_client`, `staff_client`: Django test clients signed in as them.
"""

import datetime as dt
import itertools
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core import mail

from accounts.models import Role, Team, User
from blog.models import PostRead

READER_EMAIL = "ada@example.com"
STAFF_EMAIL = "host@example.com"
SIGN_IN_LINK = re.compile(r"https?://\S+/magic\?token=\S+")

# Fixtures through which a test opens the databases without (or besides) a django_db marker.
DATABASE_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "live_server",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
    }
)


def pytest_collection_modifyitems(items):
    """A test that opens the databases opens both, `default` and `cache`: nearly every page reads
    the cache, and the router sends the cache's tables to its own alias. Only a test whose
    django_db marker names its databases opens fewer."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is None:
            if not DATABASE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
                continue
            args, kwargs = (), {}
        elif "databases" in marker.kwargs or len(marker.args) > 2:
            continue
        else:
            args, kwargs = marker.args, marker.kwargs
        # pytest-django reads the closest django_db marker only: this one, with the same options.
        item.add_marker(pytest.mark.django_db(*args, **kwargs, databases="__all__"), append=False)


@pytest.fixture(scope="session")
def django_db_modify_db_settings_xdist_suffix(request):
    """Under pytest-xdist each worker builds test database files of its own, named
    var/test-site-gw0.sqlite3: pytest-django's own suffix (test-site.sqlite3_gw0) would leave
    files in var/ whose names no longer say what they are."""
    from django.conf import settings

    worker = getattr(request.config, "workerinput", {}).get("workerid")
    if not worker:
        return
    for database in settings.DATABASES.values():
        path = Path(database["TEST"]["NAME"])
        database["TEST"]["NAME"] = str(path.with_name(f"{path.stem}-{worker}{path.suffix}"))


# --- Every test ----------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _static_files_from_source():
    """Serve static files from the source folders: the production manifest storage would need
    a `collectstatic` run before every test session."""
    from django.conf import settings
    from django.test import override_settings

    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        yield


@pytest.fixture(autouse=True)
def _no_cache_faults_from_earlier_tests():
    """Cache faults are remembered per process for a minute (the health check reports them);
    one test's injected fault must not show in the next test's answers."""
    from cachedb import faults

    faults.forget()
    yield
    faults.forget()


# --- Users and signed-in clients ---------------------------------------------------------------


@pytest.fixture
def make_user(db):
    numbers = itertools.count(1)

    def make(team=Team.RED, *, role=Role.MEMBER, email=None, first_name=None) -> User:
        number = next(numbers)
        return User.objects.create(
            email=email or f"reader{number}@example.com",
            first_name=first_name or f"Reader {number}",
            team=team,
            role=role,
        )

    return make


@pytest.fixture
def reader(db) -> User:
    return User.objects.create(email=READER_EMAIL, first_name="Ada", team=Team.RED)


@pytest.fixture
def other_reader(db) -> User:
    return User.objects.create(email="bob@example.com", first_name="Bob", team=Team.BLUE)


@pytest.fixture
def staff_user(db) -> User:
    return User.objects.create(
        email=STAFF_EMAIL, first_name="Host", team=Team.YELLOW, role=Role.ADMIN
    )


@pytest.fixture
def reader_client(client, reader):
    client.force_login(reader)
    return client


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


# --- Helpers ------------------------------------------------------------------------------------


def new_client_id() -> str:
    """An anonymous browser's id, as the `client_id` cookie carries it."""
    return str(uuid.uuid4())


def add_read(*, slug: str, at: dt.datetime, user=None, client_id=None) -> PostRead:
    """A read with a chosen time (created_at is auto_now_add, so it is set after the insert)."""
    read = PostRead.objects.create(post_slug=slug, user=user, client_id=client_id)
    PostRead.objects.filter(pk=read.pk).update(created_at=at)
    read.refresh_from_db()
    return read


def emailed_link_path(message=None) -> str:
    """The path and query of the sign-in link in the newest (or given) email."""
    message = message or mail.outbox[-1]
    url = SIGN_IN_LINK.search(message.body).group(0)
    return url[url.index("/magic") :]


def ask_for_link(client, email=READER_EMAIL, **extra) -> str:
    """POST the sign-in form like a browser would; return the emailed link's path."""
    response = client.post("/login", {"email": email, **extra})
    assert response.status_code == 302, response.content
    return emailed_link_path()


# --- Databases broken for real -----------------------------------------------------------------


@pytest.fixture
def own_cache_file(tmp_path):
    """Point the cache alias at a file of this test's own, with its tables, for tests that break
    the file for real (delete it, overwrite it, make it read-only). Restored afterwards.

    Yields the file's path. Use with transaction=True: the connection is reopened.
    """
    from django.core.management import call_command
    from django.db import connections

    from cachedb import faults, store

    connection = connections["cache"]
    original = connection.settings_dict["NAME"]
    path = tmp_path / "cache.sqlite3"
    connection.close()
    connection.settings_dict["NAME"] = str(path)
    call_command("migrate", database="cache", interactive=False, verbosity=0)
    store.reset_memory()
    faults.forget()
    yield path
    connection.close()
    connection.settings_dict["NAME"] = original
    store.reset_memory()
    faults.forget()


@pytest.fixture
def lock_held_elsewhere():
    """lock_held_elsewhere(path, exclusive=False): another process takes `path`'s write lock
    (BEGIN IMMEDIATE) and holds it until the test ends. `exclusive=True` locks readers out too,
    which in WAL mode takes an exclusive locking mode (and no other connection open to the file).
    """
    holders = []

    def hold(path, *, exclusive: bool = False) -> None:
        take = (
            "c.execute('PRAGMA locking_mode=EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE')"
            if exclusive
            else "c.execute('BEGIN IMMEDIATE')"
        )
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys\n"
                f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
                f"{take}\n"
                "print('locked', flush=True)\n"
                "sys.stdin.read()\n",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        holders.append(holder)
        assert holder.stdout.readline().strip() == "locked"

    yield hold
    for holder in holders:
        holder.stdin.close()
        holder.wait(timeout=30)
