"""Fixtures for the cut-over's tests: a real PostgreSQL server holding the old site's schema."""

import psycopg
import pytest

from legacy.tests.pg_server import start_postgres


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway server for the test session (see pg_server.py)."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def legacy_source(postgres_server):
    """A fresh database with the old site's schema; yields its connection URL."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def legacy(legacy_source):
    """(URL, autocommit connection) of a fresh database with the old site's schema."""
    with psycopg.connect(legacy_source, autocommit=True) as conn:
        yield legacy_source, conn
