"""migrate_from_postgres against a real PostgreSQL server: the copy, the dry run, kills, LiteFS.

The command runs as an operator runs it (manage.py in a subprocess) with its own SQLite files in
a temporary folder; the results are read back with sqlite3 and Django's parsers.
"""

import base64
import datetime as dt
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import import_module
from pathlib import Path

import pytest
from django.conf import settings
from django.utils.dateparse import parse_datetime

from legacy.postgres_import.source import LegacySource
from legacy.postgres_import.tables import POST_READS
from legacy.postgres_import.verify import check_table_integrity, verify
from legacy.tests.pg_server import (
    PROJECT_DIR,
    command_env,
    insert_call,
    insert_post_read,
    insert_session,
    insert_user,
    run_migrate_from_postgres,
    sine_recording,
)

pytestmark = pytest.mark.postgres

UTC = dt.UTC


def instant(text: str) -> dt.datetime:
    """A legacy naive-UTC timestamp as the aware instant it means."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def stored(text: str) -> dt.datetime:
    """A datetime as Django reads it back from SQLite with USE_TZ: naive text meaning UTC."""
    return parse_datetime(text).replace(tzinfo=UTC)


def rows(path, query: str, params=()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def migrated_site_database(folder: Path, *, env: dict | None = None) -> Path:
    """The site's database in `folder`, migrated and empty, as a deploy leaves it."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=PROJECT_DIR,
        env=env or command_env(folder),
        check=True,
    )
    return folder / "site.sqlite3"


def data_url(mime: str, audio: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(audio).decode()}"


def test_every_column_round_trips_into_sqlite(legacy, tmp_path):
    url, pg = legacy
    wav = sine_recording(tmp_path, seconds=30, codec=["-ac", "1", "-ar", "44100"], name="long.wav")
    webm = sine_recording(tmp_path, seconds=3, codec=["-c:a", "libopus"], name="short.webm")
    assert len(base64.b64encode(wav)) > 3_000_000  # multi-megabyte base64

    unicode_user = insert_user(
        pg,
        email="zoë.ñandú@exämple.com",
        firstName="Zoë 🚀 Ñandú",
        discordId="",
        convertKitId="ck-42",
        role="ADMIN",
        team="RED",
        createdAt="2020-02-29 23:59:59.999",
        updatedAt="2021-01-01 00:00:00.000",
    )
    plain_user = insert_user(pg, firstName="", team="YELLOW")
    session = insert_session(pg, user_id=unicode_user["id"], createdAt="2023-05-06 07:08:09.120")
    long_call = insert_call(
        pg,
        user_id=unicode_user["id"],
        data_url=data_url("audio/wav", wav),
        title="Ça va? 🎙",
        description="",
        keywords="",
    )
    short_call = insert_call(
        pg, user_id=plain_user["id"], data_url=data_url("audio/webm;codecs=opus", webm)
    )
    read_by_user = insert_post_read(pg, userId=plain_user["id"], clientId=None, postSlug="ünï-post")
    read_by_client = insert_post_read(pg, createdAt="1999-12-31 23:59:59.001")
    read_by_nobody = insert_post_read(pg, clientId=None, postSlug="")

    result = run_migrate_from_postgres(tmp_path, "--source", url)

    assert result.returncode == 0, result.stderr
    assert "integrity_check: ok" in result.stdout
    db = tmp_path / "site.sqlite3"
    users = {row["id"]: row for row in rows(db, "SELECT * FROM accounts_user")}
    assert set(users) == {unicode_user["id"], plain_user["id"]}
    for source in (unicode_user, plain_user):
        user = users[source["id"]]
        assert user["email"] == source["email"]
        assert user["first_name"] == source["firstName"]
        assert user["discord_id"] == source["discordId"]
        assert user["convert_kit_id"] == source["convertKitId"]
        assert (user["role"], user["team"]) == (source["role"], source["team"])
        assert stored(user["created_at"]) == instant(source["createdAt"])
        assert stored(user["updated_at"]) == instant(source["updatedAt"])
    # Stored exactly as Django stores datetimes: no fraction when there are no microseconds.
    assert users[unicode_user["id"]]["updated_at"] == "2021-01-01 00:00:00"
    assert users[unicode_user["id"]]["created_at"] == "2020-02-29 23:59:59.999000"

    (stored_session,) = rows(db, "SELECT * FROM accounts_session")
    assert stored_session["session_key"] == session["id"]
    assert stored_session["user_id"] == unicode_user["id"]
    assert stored(stored_session["created_at"]) == instant(session["createdAt"])
    assert stored(stored_session["expire_date"]) == instant(session["expirationDate"])
    payload = (
        import_module(settings.SESSION_ENGINE).SessionStore().decode(stored_session["session_data"])
    )
    assert payload == {
        "_auth_user_id": unicode_user["id"],
        "_auth_user_backend": "accounts.backends.MagicLinkBackend",
    }

    calls = {row["id"]: row for row in rows(db, "SELECT * FROM calls_call")}
    for source, mime, audio, seconds in (
        (long_call, "audio/wav", wav, 30.0),
        (short_call, "audio/webm;codecs=opus", webm, 3.0),
    ):
        call = calls[source["id"]]
        assert call["audio_mime_type"] == mime
        assert bytes(call["audio"]) == audio
        assert data_url(call["audio_mime_type"], bytes(call["audio"])) == source["base64"]
        assert call["duration_seconds"] == pytest.approx(seconds, abs=0.1)
        for column, field in (
            ("title", "title"),
            ("description", "description"),
            ("keywords", "keywords"),
            ("userId", "user_id"),
        ):
            assert call[field] == source[column]
        assert stored(call["created_at"]) == instant(source["createdAt"])
        assert stored(call["updated_at"]) == instant(source["updatedAt"])

    reads = {row["id"]: row for row in rows(db, "SELECT * FROM blog_postread")}
    for source in (read_by_user, read_by_client, read_by_nobody):
        read = reads[source["id"]]
        assert read["user_id"] == source["userId"]
        assert read["client_id"] == source["clientId"]
        assert read["post_slug"] == source["postSlug"]
        assert stored(read["created_at"]) == instant(source["createdAt"])

    # Secondary indexes were dropped for the load; the schema ends as a fresh migrate makes it.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    migrated_site_database(fresh)
    schema = "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
    assert [tuple(r) for r in rows(db, schema)] == [
        tuple(r) for r in rows(fresh / "site.sqlite3", schema)
    ]
    assert not (tmp_path / "site.postgres-import.sqlite3").exists()
    assert rows(db, "PRAGMA journal_mode")[0][0] == "wal"


def test_the_command_says_which_tables_it_ignores(legacy, tmp_path):
    url, pg = legacy
    pg.execute('CREATE TABLE "Newsletter" (id text)')
    pg.execute('ALTER TABLE "User" ADD COLUMN "nickname" text')

    result = run_migrate_from_postgres(tmp_path, "--source", url)

    assert result.returncode == 0, result.stderr
    assert "Ignoring _prisma_migrations: the old ORM's bookkeeping, no site data." in result.stdout
    assert 'Ignoring unknown table(s) "Newsletter"' in result.stdout
    assert 'Ignoring unknown column(s) "nickname" of "User"' in result.stdout


def test_a_dry_run_counts_and_checks_without_writing_anything(legacy, tmp_path):
    url, pg = legacy
    user = insert_user(pg)
    insert_post_read(pg, userId=user["id"])
    insert_post_read(pg)
    recording = sine_recording(tmp_path, seconds=30, codec=[], name="call.wav")
    insert_call(pg, user_id=user["id"], data_url=data_url("audio/wav", recording))
    (tmp_path / "call.wav").unlink()

    result = run_migrate_from_postgres(tmp_path, "--source", url, "--dry-run")

    assert result.returncode == 0, result.stderr
    assert "PostRead            2         0" in result.stdout
    # The room it asks for covers the recording twice: in the database and decoded meanwhile.
    (needed,) = re.findall(r"Room: the copy needs about ([\d,]+) MB in ", result.stdout)
    assert int(needed.replace(",", "")) >= 2 * len(recording) / 1e6
    assert "Dry run: nothing was written." in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_dry_run_with_problems_lists_them_and_fails(legacy, tmp_path):
    url, pg = legacy
    pg.execute("""ALTER TYPE "Team" ADD VALUE 'GREEN'""")
    bad = insert_user(pg, team="GREEN")

    result = run_migrate_from_postgres(tmp_path, "--source", url, "--dry-run")

    assert result.returncode == 1
    assert f"team GREEN is not a value the site knows (RED, BLUE, YELLOW): id {bad['id']}" in (
        result.stderr
    )
    assert "A real run would stop" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_target_holding_site_data_is_refused_unless_replace_is_given(legacy, tmp_path):
    url, pg = legacy
    newcomer = insert_user(pg)
    db = migrated_site_database(tmp_path)
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO accounts_user (id, email, first_name, role, team, created_at, updated_at) "
        "VALUES ('local', 'local@example.com', 'Local', 'MEMBER', 'RED', "
        "'2024-01-01', '2024-01-01')"
    )
    conn.commit()
    conn.close()
    before = db.read_bytes()

    refused = run_migrate_from_postgres(tmp_path, "--source", url)

    assert refused.returncode == 1
    assert "already holds site data (1 rows in accounts_user)" in refused.stderr
    assert "--replace" in refused.stderr
    assert db.read_bytes() == before

    replaced = run_migrate_from_postgres(tmp_path, "--source", url, "--replace")

    assert replaced.returncode == 0, replaced.stderr
    assert [row["id"] for row in rows(db, "SELECT id FROM accounts_user")] == [newcomer["id"]]


def test_skip_invalid_migrates_the_rest_and_writes_the_rejected_rows_whole(legacy, tmp_path):
    url, pg = legacy
    pg.execute("""ALTER TYPE "Team" ADD VALUE 'GREEN'""")
    good = insert_user(pg)
    green = insert_user(pg, team="GREEN")
    green_session = insert_session(pg, user_id=green["id"])
    green_read = insert_post_read(pg, userId=green["id"], clientId=None)
    good_read = insert_post_read(pg, userId=good["id"])
    long_slug = insert_post_read(pg, postSlug="x" * 201)
    rejected_file = tmp_path / "rejected.jsonl"

    result = run_migrate_from_postgres(
        tmp_path, "--source", url, "--skip-invalid", str(rejected_file)
    )

    assert result.returncode == 0, result.stderr
    records = {r["id"]: r for r in map(json.loads, rejected_file.read_text().splitlines())}
    assert set(records) == {green["id"], green_session["id"], green_read["id"], long_slug["id"]}
    assert records[green["id"]]["table"] == "User"
    assert records[green["id"]]["row"]["team"] == "GREEN"
    assert records[green["id"]]["row"]["email"] == green["email"]
    assert "GREEN is not a value the site knows" in records[green["id"]]["problem"]
    assert records[green_session["id"]]["problem"].startswith("its user is skipped")
    assert records[long_slug["id"]]["problem"] == "postSlug is longer than 200 characters"
    db = tmp_path / "site.sqlite3"
    assert [r["id"] for r in rows(db, "SELECT id FROM accounts_user")] == [good["id"]]
    assert [r["id"] for r in rows(db, "SELECT id FROM blog_postread")] == [good_read["id"]]
    assert rows(db, "SELECT count(*) FROM accounts_session")[0][0] == 0
    assert "User                2         1" in result.stdout


def kill_while_copying(folder: Path, url: str, table: str, *, batch_size: int) -> int:
    """Run the command, SIGKILL it once it has committed some of `table`'s rows, and return
    how many the build file holds."""
    child = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "migrate_from_postgres",
            "--source",
            url,
            "--batch-size",
            str(batch_size),
        ],
        cwd=PROJECT_DIR,
        env=command_env(folder),
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in child.stdout:
        if line.startswith(f"{table}:") and "rows committed" in line:
            child.send_signal(signal.SIGKILL)
            break
    child.wait()
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    build = folder / "site.postgres-import.sqlite3"
    query = "SELECT rows FROM postgres_import_progress WHERE name = ?"
    return rows(build, query, (table,))[0][0]


def test_a_run_killed_midway_leaves_the_target_alone_and_a_rerun_finishes_without_duplicates(
    legacy, tmp_path
):
    url, pg = legacy
    pg.execute(
        """INSERT INTO "User" (id, "createdAt", "updatedAt", email, "firstName", team)
           SELECT 'user-' || i, now(), now(), 'user' || i || '@example.com', 'U', 'RED'
           FROM generate_series(1, 50) i"""
    )
    pg.execute(
        """INSERT INTO "PostRead" (id, "createdAt", "userId", "clientId", "postSlug")
           SELECT md5(i::text), now(), 'user-' || (1 + i % 50), NULL, 'post-' || (i % 40)
           FROM generate_series(1, 60000) i"""
    )
    db = tmp_path / "site.sqlite3"
    build = tmp_path / "site.postgres-import.sqlite3"
    copied = kill_while_copying(tmp_path, url, "PostRead", batch_size=1000)

    assert not db.exists()
    assert 0 < copied < 60000

    rerun = run_migrate_from_postgres(tmp_path, "--source", url, "--batch-size", "1000")

    assert rerun.returncode == 0, rerun.stderr
    assert "Resuming the interrupted copy" in rerun.stdout
    # Post reads are copied first: the rerun picks them up where the kill left them.
    assert f"PostRead: resuming after {copied:,} of 60,000 rows" in rerun.stdout
    count, distinct = rows(db, "SELECT count(*), count(DISTINCT id) FROM blog_postread")[0]
    assert count == distinct == 60000
    assert rows(db, "SELECT count(*) FROM accounts_user")[0][0] == 50
    assert not build.exists()


def test_a_run_killed_while_copying_calls_resumes_them_and_leaves_no_recordings_behind(
    legacy, tmp_path
):
    url, pg = legacy
    user = insert_user(pg)
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    # Two dozen recordings of about a megabyte: each call's transaction takes a few
    # milliseconds, so the kill lands while they are being copied.
    wav = sine_recording(recordings, seconds=10, codec=[], name="call.wav")
    calls = [
        insert_call(pg, user_id=user["id"], data_url=data_url("audio/wav", wav)) for _ in range(24)
    ]
    copied = kill_while_copying(tmp_path, url, "Call", batch_size=1)
    assert 0 < copied < 24

    rerun = run_migrate_from_postgres(tmp_path, "--source", url, "--batch-size", "1")

    assert rerun.returncode == 0, rerun.stderr
    assert f"Call: resuming after {copied} of 24 rows" in rerun.stdout
    db = tmp_path / "site.sqlite3"
    copied_calls = {row["id"]: row for row in rows(db, "SELECT * FROM calls_call")}
    assert sorted(copied_calls) == sorted(call["id"] for call in calls)
    for call in calls:
        stored = copied_calls[call["id"]]
        assert data_url(stored["audio_mime_type"], bytes(stored["audio"])) == call["base64"]
        assert stored["duration_seconds"] == pytest.approx(10.0, abs=0.05)
    # The recordings decoded for the copy were scratch files: none is left.
    assert {p.name for p in tmp_path.iterdir()} == {"site.sqlite3", "recordings"}


class FakeLiteFSAPI(BaseHTTPRequestHandler):
    """LiteFS's HTTP API as this node sees it: the one thing outside the machine here."""

    def do_GET(self):
        body = json.dumps({"isPrimary": True}).encode()
        self.send_response(200 if self.path == "/info" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def litefs_primary_api():
    server = HTTPServer(("127.0.0.1", 0), FakeLiteFSAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def litefs_env(tmp_path, api_url: str) -> tuple[dict, os.PathLike]:
    mount = tmp_path / "litefs"
    volume = tmp_path / "volume"
    mount.mkdir()
    volume.mkdir()
    env = command_env(volume)
    env.update(
        LITEFS_DIR=str(mount),
        LITEFS_API_URL=api_url,
        DATABASE_URL=f"sqlite:///{mount / 'site.sqlite3'}",
    )
    migrated_site_database(mount, env=env)
    return env, mount


def test_under_litefs_the_copy_goes_into_the_live_database_in_one_transaction(
    legacy, tmp_path, litefs_primary_api
):
    url, pg = legacy
    user = insert_user(pg)
    read = insert_post_read(pg, userId=user["id"])
    env, mount = litefs_env(tmp_path, litefs_primary_api)
    live = mount / "site.sqlite3"
    inode = live.stat().st_ino

    result = run_migrate_from_postgres(tmp_path, "--source", url, env=env)

    assert result.returncode == 0, result.stderr
    assert "copied into the live LiteFS database in one transaction" in result.stdout
    assert live.stat().st_ino == inode  # the same file: no rename inside the mount
    assert [r["id"] for r in rows(live, "SELECT id FROM blog_postread")] == [read["id"]]
    # Nothing but the database (and SQLite's own side files) was created in the mount.
    assert {p.name for p in mount.iterdir()} <= {
        "site.sqlite3",
        "site.sqlite3-wal",
        "site.sqlite3-shm",
    }
    assert not list((tmp_path / "volume").glob("*postgres-import*"))


def test_under_litefs_a_replica_refuses_to_run(legacy, tmp_path, litefs_primary_api):
    url, pg = legacy
    insert_user(pg)
    env, mount = litefs_env(tmp_path, litefs_primary_api)
    (mount / ".primary").write_text("e784079b1d4e86\n")

    result = run_migrate_from_postgres(tmp_path, "--source", url, env=env)

    assert result.returncode == 1
    assert "not the LiteFS primary" in result.stderr
    assert rows(mount / "site.sqlite3", "SELECT count(*) FROM accounts_user")[0][0] == 0


def test_a_swap_is_refused_while_another_process_has_the_database_open_and_a_rerun_finishes_it(
    legacy, tmp_path
):
    url, pg = legacy
    user = insert_user(pg)
    db = migrated_site_database(tmp_path)
    server = sqlite3.connect(db)  # a web server's connection, say
    server.execute("SELECT count(*) FROM accounts_user").fetchone()

    refused = run_migrate_from_postgres(tmp_path, "--source", url)

    assert refused.returncode == 1
    assert f"Another process has {db} open" in refused.stderr
    assert server.execute("SELECT count(*) FROM accounts_user").fetchone() == (0,)
    server.close()

    rerun = run_migrate_from_postgres(tmp_path, "--source", url)

    assert rerun.returncode == 0, rerun.stderr
    assert "is complete; verifying it again" in rerun.stdout
    assert "rows copied" not in rerun.stdout
    assert [r["id"] for r in rows(db, "SELECT id FROM accounts_user")] == [user["id"]]


def test_verification_finds_a_copy_that_differs_from_postgres(legacy, tmp_path):
    url, pg = legacy
    user = insert_user(pg)
    insert_post_read(pg, userId=user["id"], postSlug="sqlite-at-the-edge")
    assert run_migrate_from_postgres(tmp_path, "--source", url).returncode == 0
    copy = tmp_path / "site.sqlite3"
    with sqlite3.connect(copy) as conn:  # one post read quietly altered after the copy
        conn.execute("UPDATE blog_postread SET post_slug = 'something-else'")

    source = LegacySource(url)
    try:
        verification = verify(source=source, path=copy, skipped={})
    finally:
        source.close()

    assert not verification.ok
    report = "\n".join(verification.lines())
    assert "PostRead" in report and "MISMATCH" in report
    assert [line for line in verification.lines() if line.startswith("User")][0].endswith("ok")


@pytest.mark.parametrize(
    ("table", "column"), [("blog_postread", "created_at"), ("accounts_session", "user_id")]
)
def test_verification_finds_an_index_that_disagrees_with_its_table(legacy, tmp_path, table, column):
    """The post reads' integrity_check runs on its own, as soon as they are in; every other
    table's at the end: a broken index is found either way."""
    url, pg = legacy
    user = insert_user(pg)
    insert_session(pg, user_id=user["id"])
    insert_post_read(pg, userId=user["id"])
    assert run_migrate_from_postgres(tmp_path, "--source", url).returncode == 0
    copy = tmp_path / "site.sqlite3"
    (index,) = rows(
        copy,
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql LIKE ?",
        (table, f'% ON "{table}" ("{column}")'),
    )[0]
    with sqlite3.connect(copy) as conn:  # the index now says it holds no rows; it holds one
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("UPDATE sqlite_master SET sql = sql || ' WHERE 0' WHERE name = ?", (index,))

    source = LegacySource(url)
    try:
        early = {"blog_postread": check_table_integrity(copy, "blog_postread")}
        verification = verify(source=source, path=copy, skipped={}, checked_tables=early)
    finally:
        source.close()

    assert not verification.ok
    assert f"wrong # of entries in index {index}" in "\n".join(verification.lines())
    assert [line for line in verification.lines() if line.startswith("PostRead")][0].endswith("ok")


def test_worker_connections_see_the_runs_snapshot_not_later_writes(legacy):
    """Checks and checksums run on worker connections while the copy runs: they must see the
    very rows the copy sees, even when the old site writes in the meantime."""
    url, pg = legacy
    user = insert_user(pg)
    insert_post_read(pg, userId=user["id"])
    source = LegacySource(url)
    try:
        before = source.count(POST_READS)
        insert_post_read(pg, userId=user["id"])  # the old site is still taking writes
        with source.workers(2) as workers:
            counted = [workers.submit(LegacySource.count, POST_READS).result() for _ in range(3)]
        later = LegacySource(url)
        try:
            now = later.count(POST_READS)
        finally:
            later.close()
    finally:
        source.close()

    assert (before, counted, now) == (1, [1, 1, 1], 2)
