"""The build file's bookkeeping: what a rerun does with a file an earlier run left behind."""

import sqlite3
from types import SimpleNamespace

from legacy.postgres_import import build as build_module
from legacy.postgres_import.build import META, PROGRESS, BuildFile, TableProgress
from legacy.postgres_import.tables import USERS


def test_a_build_file_made_but_never_started_is_taken_up_by_the_next_run(tmp_path):
    """A run killed after creating the schema, before recording what it copies, left a file
    with no rows: the next run takes it as it is instead of creating the schema again."""
    path = tmp_path / "site.postgres-import.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE accounts_user (id TEXT PRIMARY KEY)")
        build_module._prepare(conn)
    said = []

    build = BuildFile.open(path, fingerprint="this run", write=said.append)
    try:
        assert (build.resumed, build.adopted, said) == (False, True, [])
        stored = build.conn.execute(f"SELECT value FROM {META} WHERE key = 'fingerprint'")
        assert stored.fetchone() == ("this run",)
        assert build.conn.execute(f"SELECT sum(rows) FROM {PROGRESS}").fetchone() == (0,)
    finally:
        build.close()

    again = BuildFile.open(path, fingerprint="this run", write=said.append)
    try:
        assert (again.resumed, again.adopted, said) == (True, False, [])
    finally:
        again.close()


def test_a_work_folder_without_room_for_the_copy_is_named_with_the_sizes(tmp_path, monkeypatch):
    monkeypatch.setattr(
        build_module.shutil, "disk_usage", lambda folder: SimpleNamespace(free=500_000_000)
    )

    assert build_module.Room(tmp_path, needed=499_000_000).problem is None
    problem = build_module.Room(tmp_path, needed=1_234_000_000).problem
    assert problem == (
        f"the copy needs about 1,234 MB in {tmp_path} (the new database, and the calls' "
        "recordings decoded while it runs) and only 500 MB are free: free some space or choose "
        "another --work-dir"
    )


def test_a_tables_progress_reads_back_by_name(tmp_path):
    path = tmp_path / "site.postgres-import.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE accounts_user (id TEXT PRIMARY KEY)")
        build_module._prepare(conn)
    build = BuildFile.open(path, fingerprint="this run", write=print)
    try:
        assert build.state(USERS) == TableProgress(last_id=None, rows=0, done=False)
        build.conn.execute(
            f"UPDATE {PROGRESS} SET last_id = 'u-9', rows = 3, done = 1 WHERE name = ?",
            (USERS.source,),
        )

        progress = build.state(USERS)

        assert (progress.last_id, progress.rows, progress.done) == ("u-9", 3, True)
    finally:
        build.close()
