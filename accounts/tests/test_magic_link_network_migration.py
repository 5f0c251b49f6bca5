"""accounts 0003: links made before it keep counting, under their client network."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("accounts", "0002_magic_link")]
AFTER = [("accounts", "0003_magic_link_client_network")]


@pytest.fixture
def migrate(transactional_db):
    def to(targets):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(targets)
        return executor.loader.project_state(targets).apps

    yield to
    to(MigrationExecutor(connection).loader.graph.leaf_nodes("accounts"))


def test_old_rows_get_a_client_network_and_forged_addresses_are_emptied(migrate):
    old_apps = migrate(BEFORE)
    MagicLink = old_apps.get_model("accounts", "MagicLink")
    stored = {
        "v4": "203.0.113.9",
        "v6": "2001:DB8:1:2::7",
        "mapped": "::ffff:198.51.100.1",
        "appended": "6.6.6.6,127.0.0.1",
        "huge": "1" * 5000,
    }
    for name, address in stored.items():
        MagicLink.objects.create(
            id=name,
            email="a@example.com",
            browser_hash="h",
            client_address=address,
            created_at=timezone.now(),
        )

    new_apps = migrate(AFTER)
    rows = {
        link.id: (link.client_address, link.client_network)
        for link in new_apps.get_model("accounts", "MagicLink").objects.all()
    }
    assert rows == {
        "v4": ("203.0.113.9", "203.0.113.9/32"),
        "v6": ("2001:db8:1:2::7", "2001:db8:1:2::/64"),
        "mapped": ("198.51.100.1", "198.51.100.1/32"),
        "appended": ("", ""),
        "huge": ("", ""),
    }
