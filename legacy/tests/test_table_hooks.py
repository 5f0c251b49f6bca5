"""What a legacy table needs beyond copying its columns is declared on its description."""

import re
from pathlib import Path

from legacy.postgres_import.tables import LEGACY_TABLES, LOAD_ORDER

IMPORT_PACKAGE = Path(__file__).resolve().parents[1] / "postgres_import"
COMMAND = Path(__file__).resolve().parents[1] / "management" / "commands"
# The tables' descriptions, by name (USERS is named where it comes first: see check_rows).
TABLE_NAMES = re.compile(r"\b(CALLS|SESSIONS|POST_READS)\b")


def test_the_run_names_no_table_but_the_users_outside_the_table_descriptions():
    """Per-table behaviour is a hook on the table (tables.py), not a branch in the run."""
    generic = [
        path
        for path in [*IMPORT_PACKAGE.glob("*.py"), *COMMAND.glob("*.py")]
        if path.name != "tables.py"
    ]
    assert len(generic) > 10
    for path in generic:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not TABLE_NAMES.search(line), f"{path.name}:{number}: {line.strip()}"


def test_every_table_is_loaded_once_and_checked_in_the_order_the_users_come_first():
    assert sorted(t.source for t in LOAD_ORDER) == sorted(t.source for t in LEGACY_TABLES)
    assert LEGACY_TABLES[0].source == "User"
    assert all(table.user_column for table in LEGACY_TABLES[1:])
    # The first table copied has its query started before the checks are in: only the SQL
    # checks may filter it.
    assert LOAD_ORDER[0].checked_in_sql_alone
