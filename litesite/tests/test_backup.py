"""manage.py backup: a consistent, timestamped snapshot of the site database."""

import sqlite3
import uuid
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import User

pytestmark = pytest.mark.django_db(transaction=True)

NOON = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def backup(*args) -> str:
    out = StringIO()
    call_command("backup", *args, stdout=out)
    return out.getvalue()


def make_reader() -> User:
    return User.objects.create(email=f"{uuid.uuid4().hex}@example.com", first_name="B", team="RED")


def snapshot_stem() -> str:
    return Path(connection.settings_dict["NAME"]).stem


def test_a_backup_is_a_timestamped_sqlite_file_holding_the_data(tmp_path):
    reader = make_reader()
    with time_machine.travel(NOON, tick=False):
        output = backup(str(tmp_path / "backups"))
    [snapshot] = (tmp_path / "backups").iterdir()
    assert snapshot.name == f"{snapshot_stem()}-20261125T120000Z.sqlite3"
    assert "Wrote" in output and str(snapshot) in output
    copy = sqlite3.connect(snapshot)
    assert copy.execute("SELECT email FROM accounts_user").fetchall() == [(reader.email,)]
    assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    copy.close()


def test_a_dry_run_writes_nothing(tmp_path):
    output = backup(str(tmp_path / "backups"), "--dry-run")
    assert "Would write" in output
    assert not (tmp_path / "backups").exists()


def test_keep_deletes_all_but_the_newest_snapshots(tmp_path):
    for hour in (9, 10, 11, 12):
        with time_machine.travel(NOON.replace(hour=hour), tick=False):
            backup(str(tmp_path), "--keep", "2")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert [name[-24:] for name in names] == [
        "20261125T110000Z.sqlite3",
        "20261125T120000Z.sqlite3",
    ]


def test_two_backups_in_the_same_second_refuse_rather_than_overwrite(tmp_path):
    with time_machine.travel(NOON, tick=False):
        backup(str(tmp_path))
        with pytest.raises(CommandError, match="already exists"):
            backup(str(tmp_path))


def test_a_file_in_place_of_the_directory_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(CommandError, match="is a file, not a directory"):
        backup(str(tmp_path / "file"))


def test_a_directory_inside_the_litefs_mount_is_refused(tmp_path, settings):
    settings.LITEFS_DIR = str(tmp_path / "litefs")
    with pytest.raises(CommandError, match="inside the LiteFS mount"):
        backup(str(tmp_path / "litefs" / "backups"))
    assert not (tmp_path / "litefs").exists()


def test_an_unknown_database_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="no database called 'nope'"):
        backup(str(tmp_path), "--database", "nope")


def test_a_negative_keep_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="--keep must be 0 or more"):
        backup(str(tmp_path), "--keep", "-1")


def test_no_partial_file_is_left_when_the_backup_fails(tmp_path, monkeypatch):
    from litesite.management.commands import backup as command

    monkeypatch.setattr(
        command.Command, "integrity_problem", staticmethod(lambda path: "page 3: bad")
    )
    with pytest.raises(CommandError, match="integrity check: page 3: bad"):
        backup(str(tmp_path))
    assert list(tmp_path.iterdir()) == []
