"""migrate_from_postgres on bad input: one sentence saying what to fix, exit 1, nothing written."""

import pytest

from legacy.tests.pg_server import (
    free_port,
    insert_call,
    insert_post_read,
    insert_user,
    run_migrate_from_postgres,
)

pytestmark = pytest.mark.postgres


def assert_refused_without_writing(result, tmp_path, *fragments: str) -> None:
    assert result.returncode == 1, result.stdout
    for fragment in fragments:
        assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_no_source_at_all_is_refused_with_how_to_give_one(tmp_path):
    result = run_migrate_from_postgres(tmp_path)

    assert_refused_without_writing(
        result, tmp_path, "--source postgresql://", "POSTGRES_DATABASE_URL"
    )


def test_a_source_that_is_not_a_postgres_url_is_refused(tmp_path):
    result = run_migrate_from_postgres(tmp_path, "--source", "mysql://root@localhost/site")

    assert_refused_without_writing(result, tmp_path, "must be a URL like postgresql://")


def test_an_unreachable_server_is_named_with_its_host_and_port(tmp_path):
    port = free_port()

    result = run_migrate_from_postgres(
        tmp_path, "--source", f"postgresql://postgres:x@127.0.0.1:{port}/site"
    )

    assert_refused_without_writing(
        result, tmp_path, f"Cannot reach Postgres at 127.0.0.1:{port}", "Check the host and port"
    )


def test_wrong_credentials_are_refused_with_the_user_named(postgres_server, tmp_path):
    result = run_migrate_from_postgres(
        tmp_path, "--source", postgres_server.url(password="wrong-password")
    )

    assert_refused_without_writing(
        result, tmp_path, "refused the credentials for user 'postgres'", "password authentication"
    )


def test_a_missing_database_is_named(postgres_server, tmp_path):
    result = run_migrate_from_postgres(tmp_path, "--source", postgres_server.url("no_such_db"))

    assert_refused_without_writing(result, tmp_path, "has no database 'no_such_db'")


def test_a_database_without_the_old_sites_tables_is_refused(postgres_server, tmp_path):
    name = postgres_server.create_database(schema=False)
    try:
        result = run_migrate_from_postgres(tmp_path, "--source", postgres_server.url(name))
    finally:
        postgres_server.drop_database(name)

    assert_refused_without_writing(
        result,
        tmp_path,
        'has no "User", "Session", "Call", "PostRead" tables',
        "is --source pointing at the old site's database?",
    )


def test_missing_columns_are_listed_per_table(legacy, tmp_path):
    url, pg = legacy
    pg.execute('ALTER TABLE "User" DROP COLUMN "team"')
    pg.execute('ALTER TABLE "PostRead" DROP COLUMN "clientId"')

    result = run_migrate_from_postgres(tmp_path, "--source", url)

    assert_refused_without_writing(
        result, tmp_path, '"User" lacks column "team"', '"PostRead" lacks column "clientId"'
    )


def test_an_enum_value_the_site_does_not_know_is_listed_by_id(legacy, tmp_path):
    url, pg = legacy
    pg.execute("""ALTER TYPE "Role" ADD VALUE 'EDITOR'""")
    editors = [insert_user(pg, role="EDITOR") for _ in range(2)]
    insert_user(pg)

    result = run_migrate_from_postgres(tmp_path, "--source", url)

    ids = ", ".join(sorted(user["id"] for user in editors))
    assert_refused_without_writing(
        result,
        tmp_path,
        f'"User": role EDITOR is not a value the site knows (ADMIN, MEMBER): id {ids}',
        "nothing was written",
        "--skip-invalid FILE",
    )


def test_emails_that_differ_only_in_case_are_listed_by_id(legacy, tmp_path):
    url, pg = legacy
    first = insert_user(pg, email="Ann@Example.com", createdAt="2020-01-01 00:00:00")
    later = insert_user(pg, email="ann@example.com", createdAt="2021-01-01 00:00:00")

    result = run_migrate_from_postgres(tmp_path, "--source", url)

    assert_refused_without_writing(
        result,
        tmp_path,
        f"email differs only in case from an earlier user's email: id {later['id']} "
        f"(same as user {first['id']})",
    )


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ({"firstName": "x" * 61}, '"User": firstName is longer than 60 characters'),
        ({"discordId": "9" * 65}, '"User": discordId is longer than 64 characters'),
    ],
)
def test_user_rows_longer_than_the_site_allows_are_listed(legacy, tmp_path, bad_row, message):
    url, pg = legacy
    user = insert_user(pg, **bad_row)

    result = run_migrate_from_postgres(tmp_path, "--source", url)

    assert_refused_without_writing(result, tmp_path, f"{message}: id {user['id']}")


NOT_CANONICAL = "base64's data is not canonical base64 (it could not be rebuilt exactly)"


@pytest.mark.parametrize(
    ("data_url", "message"),
    [
        ("https://example.com/call.mp3", "base64 is not a data:<type>;base64,<data> URL"),
        ("data:audio/mpeg;base64,AAAA\nAAAA", NOT_CANONICAL),
        ("data:audio/mpeg;base64,AB==", NOT_CANONICAL),
        ("data:" + "a" * 101 + ";base64,AAAA", "base64's MIME type is longer than 100 characters"),
    ],
)
def test_calls_whose_audio_could_not_be_rebuilt_exactly_are_listed(
    legacy, tmp_path, data_url, message
):
    url, pg = legacy
    user = insert_user(pg)
    call = insert_call(pg, user_id=user["id"], data_url=data_url)

    result = run_migrate_from_postgres(tmp_path, "--source", url)

    assert_refused_without_writing(result, tmp_path, f'"Call": {message}: id {call["id"]}')


def test_rows_pointing_at_missing_users_are_listed(legacy, tmp_path):
    url, pg = legacy
    pg.execute('ALTER TABLE "PostRead" DROP CONSTRAINT "PostRead_userId_fkey"')
    orphan = insert_post_read(pg, userId="gone-user")

    result = run_migrate_from_postgres(tmp_path, "--source", url)

    assert_refused_without_writing(
        result, tmp_path, f'"PostRead": userId names a user that does not exist: id {orphan["id"]}'
    )


def test_a_skip_file_in_a_missing_folder_is_refused_before_connecting(tmp_path):
    result = run_migrate_from_postgres(
        tmp_path,
        "--source",
        "postgresql://postgres@127.0.0.1:1/x",
        "--skip-invalid",
        str(tmp_path / "nowhere" / "rejected.jsonl"),
    )

    assert_refused_without_writing(result, tmp_path, "does not exist")
