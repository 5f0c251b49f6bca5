"""The tests' own convention (testing/fixtures.py): a test that opens the databases opens both,
unless its django_db marker names fewer."""

import pytest
from django.db import connections

from accounts.models import User
from cachedb.models import CacheEntry


def touch_both() -> None:
    User.objects.count()
    CacheEntry.objects.count()


@pytest.mark.django_db
def test_a_test_marked_django_db_alone_opens_the_site_and_the_cache_database():
    touch_both()


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_opens_both_too():
    touch_both()


def test_a_test_asking_for_the_db_fixture_alone_opens_both(db):
    touch_both()


@pytest.mark.django_db(databases=["default"])
def test_a_test_that_names_its_databases_opens_only_those():
    User.objects.count()
    with pytest.raises(AssertionError, match="Database queries to 'cache' are not allowed"):
        CacheEntry.objects.count()


@pytest.mark.django_db
def test_the_test_databases_are_files_of_their_own(request):
    names = [connections[alias].settings_dict["NAME"] for alias in ("default", "cache")]
    assert all(name.endswith(".sqlite3") and "/test-" in name for name in names)
    worker = getattr(request.config, "workerinput", {}).get("workerid")
    if worker:
        assert all(name.endswith(f"-{worker}.sqlite3") for name in names)
