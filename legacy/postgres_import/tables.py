"""What each table of the old Postgres site becomes in the site's SQLite database.

The legacy schema (legacy-schema.sql beside this module, as Prisma 4 created it) quotes
PascalCase tables and camelCase columns, keeps TEXT uuids as ids, TIMESTAMP(3) WITHOUT TIME ZONE
holding UTC, and Postgres enums for role and team.

Conversions that Postgres can do are written as SQL and run there, in the server's own process:
it formats timestamps exactly as Django stores them in SQLite, so the Python side only moves
tuples. The site's constraints (NOT NULL, lengths, choices, foreign keys) are read from the
models, so a constraint added to a model is checked here too.

What a table needs beyond copying its columns (a check across rows, values computed in Python, a
recording decoded beforehand, a check of the copied rows) is declared on its description as a
hook, below; the code that runs the import calls the hooks and names no table.
"""

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast

from django.apps import apps
from django.db import models

from .conversions import ENCODE_SLICE, SessionPayloads, data_url_problem, md5_data_url
from .recordings import Recordings, with_recordings

# Django stores an aware datetime in SQLite as str() of the naive UTC value: microseconds
# only when non-zero. Both spellings parse, but equality lookups compare text. (A CASE costs
# Postgres half what a regexp_replace of the fraction did.)
_DJANGO_DATETIME = (
    "CASE WHEN date_trunc('second', {col}) = {col} "
    "THEN to_char({col}, 'YYYY-MM-DD HH24:MI:SS') "
    "ELSE to_char({col}, 'YYYY-MM-DD HH24:MI:SS.US') END"
)
# Instants compared as whole milliseconds since the epoch, computed independently each side.
_PG_MILLISECONDS = "(extract(epoch from {col}) * 1000)::bigint"
# SQLite keeps a julianday as whole milliseconds and returns it divided by 86,400,000: scaled
# back and rounded it is exact (a double's error there is ~0.03 ms); 210866760000000 is the Unix
# epoch's julian day in milliseconds. Half the cost of parsing the text twice with strftime().
_SQLITE_MILLISECONDS = "(CAST(round(julianday({col}) * 86400000) AS INTEGER) - 210866760000000)"
# Checksummed rows join their columns with US and spell NULL as RS: neither occurs in text.
_SEPARATOR_PG, _NULL_PG = "chr(31)", "chr(30)"
_SEPARATOR_SQLITE, _NULL_SQLITE = "char(31)", "char(30)"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Column:
    """A legacy column copied into a model field."""

    source: str
    field: str
    timestamp: bool = False


@dataclass(frozen=True)
class CrossRowCheck:
    """A constraint no row breaks alone, checked in SQL over the legacy table after the per-row
    checks: `sql` selects (id, detail) of each row it rejects, given %(skip)s, the ids the
    per-row checks rejected already."""

    message: str
    sql: str


@dataclass(frozen=True)
class Preparation:
    """Work the copy of a table waits for, begun in a thread of its own as early as the run can.

    `start(source, folder)` returns a context manager (leaving it removes `folder`) whose
    `wait(skipped_ids=..., notes=...)` returns what the table's `derive` hook takes. The folder
    sits beside the build file, named `<database>.postgres-import-<folder>`; `done` is what the
    run says once it has waited.
    """

    start: Callable[[Any, Path], Any]
    folder: str
    done: str


@dataclass(frozen=True)
class CopyCheck:
    """A check of the copied rows beyond their checksum: `find(conn)` lists the keys of the rows
    that fail it; the verification then says "<label>: <how many> <failure>"."""

    label: str
    failure: str
    find: Callable[[sqlite3.Connection], list[str]]


@dataclass(frozen=True)
class LegacyTable:
    source: str
    model_label: str
    columns: tuple[Column, ...]
    # The legacy column holding a "User" id, for the foreign-key checks.
    user_column: str | None = None
    # Model fields computed in Python (the `derive` hook) from these legacy columns, appended
    # in order.
    derived_fields: tuple[str, ...] = ()
    derived_from: tuple[str, ...] = ()
    # Extra (Postgres expression, SQLite expression) pairs for the verification checksum.
    derived_checksums: tuple[tuple[str, str], ...] = ()
    # Extra (condition, message) checks in SQL on the legacy row, beyond the model's.
    extra_checks: tuple[tuple[str, str], ...] = field(default=())

    # --- hooks: what the table needs beyond copying its columns (nothing, by default) ----------
    # Checks across rows, in SQL on the source, after the per-row ones.
    cross_row_checks: tuple[CrossRowCheck, ...] = ()
    # A legacy column checked in Python, after the SQL checks, by a function of its value's
    # UTF-8 bytes returning the problem or None (see LegacySource.problems).
    python_check: tuple[str, Callable[[bytes], str | None]] | None = None
    # Work begun at the start of the run that the copy of this table waits for.
    preparation: Preparation | None = None
    # (streamed rows, what the preparation made or None) -> the rows with the derived fields'
    # values appended.
    derive: Callable[[Iterator[tuple], Any], Iterator[tuple]] | None = None
    # A derived field whose value is a file (its .path and .size), written into an empty blob
    # of its size a slice at a time (batches.BlobBatch): it is never whole in memory.
    blob_field: str | None = None
    # An SQL aggregate over the legacy table: bytes written beside the new database while the
    # copy runs (the preparation's files), for the room check.
    room_sql: str | None = None
    # (conn, path of the new database) -> a context manager that registers on `conn` the SQL
    # functions the SQLite half of derived_checksums calls.
    checksum_functions: Callable[[sqlite3.Connection, Path], AbstractContextManager] | None = None
    # Checks of the copied rows beyond the checksum.
    copy_checks: tuple[CopyCheck, ...] = ()

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_label)

    @property
    def label(self) -> str:
        return self.source

    @property
    def db_table(self) -> str:
        return self.model._meta.db_table

    @property
    def pk_column(self) -> str:
        return self.model._meta.pk.column

    def model_field(self, name: str) -> "models.Field[Any, Any]":
        # Always a concrete field of the table's own model here, never a relation's reverse side.
        return cast("models.Field[Any, Any]", self.model._meta.get_field(name))

    @property
    def required_source_columns(self) -> list[str]:
        return [c.source for c in self.columns] + [
            c for c in self.derived_from if c not in {col.source for col in self.columns}
        ]

    # --- streaming ------------------------------------------------------------------------
    @property
    def target_columns(self) -> list[str]:
        """SQLite columns in the order of the streamed (and derived) values."""
        names = [c.field for c in self.columns] + list(self.derived_fields)
        return [self.model_field(name).column for name in names]

    def select_list(self) -> str:
        exprs = []
        for column in self.columns:
            col = quote(column.source)
            if column.timestamp:
                exprs.append(_DJANGO_DATETIME.format(col=col))
            elif self.model_field(column.field).choices:
                exprs.append(f"{col}::text")
            else:
                exprs.append(col)
        return ", ".join(exprs)

    @property
    def source_id(self) -> str:
        return self.columns[0].source

    @property
    def checked_in_sql_alone(self) -> bool:
        """Whether problem_sql() holds every check: a row it passes is a row the site takes."""
        return not (self.cross_row_checks or self.python_check)

    # --- the site's constraints -----------------------------------------------------------
    def checks(self) -> list[tuple[str, str]]:
        """(SQL condition on the legacy row `t`, SQL message) for every constraint it may break."""
        found = []
        for column in self.columns:
            model_field = self.model_field(column.field)
            col = f"t.{quote(column.source)}"
            if not model_field.null:
                found.append((f"{col} IS NULL", sql_string(f"{column.source} is missing (NULL)")))
            if model_field.choices:
                known = [str(value) for value, _ in model_field.flatchoices]
                found.append(
                    (
                        f"{col}::text NOT IN ({', '.join(sql_string(v) for v in known)})",
                        f"{sql_string(column.source + ' ')} || {col}::text || "
                        + sql_string(f" is not a value the site knows ({', '.join(known)})"),
                    )
                )
            elif model_field.max_length and not column.timestamp:
                limit = model_field.max_length
                found.append(
                    (
                        f"length({col}) > {limit}",
                        sql_string(f"{column.source} is longer than {limit} characters"),
                    )
                )
        if self.user_column:
            col = f"t.{quote(self.user_column)}"
            found.append(
                (
                    f"{col} IS NOT NULL AND NOT EXISTS "
                    f'(SELECT 1 FROM "User" u WHERE u."id" = {col})',
                    sql_string(f"{self.user_column} names a user that does not exist"),
                )
            )
            found.append(
                (
                    f"{col} = ANY(%(skipped_users)s)",
                    sql_string("its user is skipped (see that user's problem)"),
                )
            )
        found += list(self.extra_checks)
        return found

    def problem_sql(self) -> str:
        """The first problem of each legacy row, NULL when it has none."""
        whens = " ".join(f"WHEN {condition} THEN {message}" for condition, message in self.checks())
        return f"CASE {whens} END"

    # --- verification ---------------------------------------------------------------------
    def checksum_postgres(self) -> str:
        parts = []
        for column in self.columns:
            col = quote(column.source)
            expr = _PG_MILLISECONDS.format(col=col) if column.timestamp else col
            parts.append(f"coalesce(({expr})::text, {_NULL_PG})")
        parts += [f"coalesce(({pg})::text, {_NULL_PG})" for pg, _ in self.derived_checksums]
        return f" || {_SEPARATOR_PG} || ".join(parts)

    def checksum_sqlite(self) -> str:
        parts = []
        for column in self.columns:
            col = quote(self.model_field(column.field).column)
            expr = _SQLITE_MILLISECONDS.format(col=col) if column.timestamp else col
            parts.append(f"coalesce(CAST({expr} AS TEXT), {_NULL_SQLITE})")
        parts += [
            f"coalesce(CAST({lite} AS TEXT), {_NULL_SQLITE})" for _, lite in self.derived_checksums
        ]
        return f" || {_SEPARATOR_SQLITE} || ".join(parts)


# --- the hooks' work, table by table ----------------------------------------------------------
_ASCII_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Emails equal once lower-cased the way SQLite's lower() does it: ASCII letters only. The earliest
# account keeps its email; the later ones are the rows the site rejects.
_EMAILS_DIFFERING_ONLY_IN_CASE = CrossRowCheck(
    message="email differs only in case from an earlier user's email",
    sql=f"""
        SELECT id, 'same as user ' || kept FROM (
            SELECT t.id, first_value(t.id) OVER w AS kept, row_number() OVER w AS n
            FROM "User" t
            WHERE t.email IS NOT NULL AND NOT (t.id = ANY(%(skip)s))
            WINDOW w AS (
                PARTITION BY translate(t.email, '{_ASCII_UPPER}', '{_ASCII_UPPER.lower()}')
                ORDER BY t."createdAt", t.id COLLATE "C"
            )
        ) d WHERE n > 1 ORDER BY id COLLATE "C"
    """,
)


def _with_session_payloads(rows: Iterator[tuple], _prepared: None) -> Iterator[tuple]:
    """Each session with the Django session payload that signs its user in."""
    payloads = SessionPayloads()
    for row in rows:
        yield (*row, payloads.encode(row[1]))


def _sessions_not_naming_their_user(conn: sqlite3.Connection) -> list[str]:
    """Every migrated session must decode, with the current SECRET_KEY, to its own user."""
    payloads = SessionPayloads()
    user_column = SESSIONS.model_field("user").column
    bad = []
    query = (
        f"SELECT session_key, {quote(user_column)}, session_data FROM {quote(SESSIONS.db_table)}"
    )
    for key, user_id, data in conn.execute(query):
        if payloads.user_id(data) != user_id:
            bad.append(key)
    return bad


def _call_data_url_problem(url: bytes) -> str | None:
    """Only a canonical data URL can be stored as bytes and rebuilt into the identical string."""
    limit = CALLS.model_field("audio_mime_type").max_length
    assert limit is not None  # a CharField
    return data_url_problem(url, max_mime_length=limit)


def _decode_recordings(source, folder: Path) -> Recordings:
    return Recordings(source, folder, table=CALLS, column="base64")


def _with_recordings(rows: Iterator[tuple], recordings) -> Iterator[tuple]:
    return with_recordings(rows, recordings=recordings or {})


@contextmanager
def _md5_of_recordings(conn: sqlite3.Connection, path: Path) -> Iterator[None]:
    """md5_data_url(mime, rowid) on `conn`: the md5 of the call's original data URL, rebuilt
    from its stored audio. The audio is read from its blob a slice at a time, on a connection
    of its own: never whole in memory (as a SQL function's argument it would be, twice)."""
    blobs = sqlite3.connect(path)
    audio = CALLS.model_field("audio").column

    def md5_of_call(mime: str | None, rowid: int) -> str | None:
        if mime is None:
            return None
        with blobs.blobopen(CALLS.db_table, audio, rowid, readonly=True) as blob:
            return md5_data_url(mime, iter(partial(blob.read, ENCODE_SLICE), b""))

    conn.create_function("md5_data_url", 2, md5_of_call)
    try:
        yield
    finally:
        blobs.close()


# --- the tables --------------------------------------------------------------------------------
USERS = LegacyTable(
    source="User",
    model_label="accounts.User",
    columns=(
        Column("id", "id"),
        Column("email", "email"),
        Column("firstName", "first_name"),
        Column("discordId", "discord_id"),
        Column("convertKitId", "convert_kit_id"),
        Column("role", "role"),
        Column("team", "team"),
        Column("createdAt", "created_at", timestamp=True),
        Column("updatedAt", "updated_at", timestamp=True),
    ),
    cross_row_checks=(_EMAILS_DIFFERING_ONLY_IN_CASE,),
)

SESSIONS = LegacyTable(
    source="Session",
    model_label="accounts.Session",
    columns=(
        Column("id", "session_key"),
        Column("userId", "user"),
        Column("createdAt", "created_at", timestamp=True),
        Column("expirationDate", "expire_date", timestamp=True),
    ),
    user_column="userId",
    derived_fields=("session_data",),
    derive=_with_session_payloads,
    copy_checks=(
        CopyCheck(
            label="session payloads",
            failure="do not name their user",
            find=_sessions_not_naming_their_user,
        ),
    ),
)

CALLS = LegacyTable(
    source="Call",
    model_label="calls.Call",
    columns=(
        Column("id", "id"),
        Column("createdAt", "created_at", timestamp=True),
        Column("updatedAt", "updated_at", timestamp=True),
        Column("title", "title"),
        Column("description", "description"),
        Column("keywords", "keywords"),
        Column("userId", "user"),
    ),
    user_column="userId",
    # From the data URL, decoded by a thread of its own (see recordings.py).
    derived_fields=("audio", "audio_mime_type", "duration_seconds"),
    derived_from=("base64",),
    # The stored audio must rebuild the very same data URL.
    derived_checksums=(('md5("base64")', "md5_data_url(audio_mime_type, rowid)"),),
    extra_checks=(('t."base64" IS NULL', sql_string("base64 is missing (NULL)")),),
    python_check=("base64", _call_data_url_problem),
    preparation=Preparation(
        start=_decode_recordings,
        folder="recordings",
        done="Decoded the calls' recordings and found their durations",
    ),
    derive=_with_recordings,
    blob_field="audio",
    # The recordings, decoded into files beside the new database while it is built.
    room_sql='coalesce(sum(octet_length("base64")), 0)::bigint * 3 / 4',
    checksum_functions=_md5_of_recordings,
)

POST_READS = LegacyTable(
    source="PostRead",
    model_label="blog.PostRead",
    columns=(
        Column("id", "id"),
        Column("createdAt", "created_at", timestamp=True),
        Column("userId", "user"),
        Column("clientId", "client_id"),
        Column("postSlug", "post_slug"),
    ),
    user_column="userId",
)

# The tables whose rows name a user (user_column): a row whose user is rejected is rejected too.
USER_ROWS = (SESSIONS, CALLS, POST_READS)
# The order of the checks and reports: the users first, for the tables that name them.
LEGACY_TABLES = (USERS, *USER_ROWS)
# The order of the copy: the largest table first; then the calls, whose recordings (up to 10 MB
# each) go in while memory is free; then the longest part of the verification, integrity_check
# over the post reads and their indexes, starts and runs while the small tables load (see
# Migration.copy). Foreign keys are not enforced during the copy; foreign_key_check proves them
# once all is in.
LOADED_BEFORE_THE_CHECK = (POST_READS, CALLS)
LOADED_WHILE_IT_RUNS = (USERS, SESSIONS)
LOAD_ORDER = LOADED_BEFORE_THE_CHECK + LOADED_WHILE_IT_RUNS
# The table whose integrity_check runs while the last tables load.
CHECKED_DURING_THE_COPY = POST_READS
# Prisma's bookkeeping: no site data in it.
ORM_BOOKKEEPING = "_prisma_migrations"
