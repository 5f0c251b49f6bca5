"""What each table of the old Postgres site becomes in the site's SQLite database.

The legacy schema (legacy-schema.sql beside this module, as Prisma 4 created it) quotes
PascalCase tables and camelCase columns, keeps TEXT uuids as ids, TIMESTAMP(3) WITHOUT TIME ZONE
holding UTC, and Postgres enums for role and team.

Conversions that Postgres can do are written as SQL and run there, in the server's own process:
it formats timestamps exactly as Django stores them in SQLite, so the Python side only moves
tuples. The site's constraints (NOT NULL, lengths, choices, foreign keys) are read from the
models, so a constraint added to a model is checked here too.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps
from django.db import models

from .conversions import data_url_problem

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
class LegacyTable:
    source: str
    model_label: str
    columns: tuple[Column, ...]
    # The legacy column holding a "User" id, for the foreign-key checks.
    user_column: str | None = None
    # Model fields computed in Python (build.py) from these legacy columns, appended in order.
    derived_fields: tuple[str, ...] = ()
    derived_from: tuple[str, ...] = ()
    # Extra (Postgres expression, SQLite expression) pairs for the verification checksum.
    derived_checksums: tuple[tuple[str, str], ...] = ()
    # Extra (condition, message) checks in SQL on the legacy row, beyond the model's.
    extra_checks: tuple[tuple[str, str], ...] = field(default=())
    # A legacy column checked in Python, after the SQL checks, by a function of its value's
    # UTF-8 bytes returning the problem or None (see LegacySource.problems).
    python_check: tuple[str, Callable[[bytes], str | None]] | None = None

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

    def model_field(self, name: str) -> models.Field:
        return self.model._meta.get_field(name)

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
)


def _call_data_url_problem(url: bytes) -> str | None:
    """Only a canonical data URL can be stored as bytes and rebuilt into the identical string."""
    limit = CALLS.model_field("audio_mime_type").max_length
    return data_url_problem(url, max_mime_length=limit)


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

# The order of the checks and reports: users first, as the other tables' rows whose user is
# rejected are rejected too.
LEGACY_TABLES = (USERS, SESSIONS, CALLS, POST_READS)
# The order of the copy: the largest table first; then the calls, whose recordings (up to 10 MB
# each) go in while memory is free; then the longest part of the verification, integrity_check
# over the post reads and their indexes, runs while the small tables load (see the command).
# Foreign keys are not enforced during the copy; foreign_key_check proves them once all is in.
LOAD_ORDER = (POST_READS, CALLS, USERS, SESSIONS)
# The table whose integrity_check starts as soon as it and the calls are in.
CHECKED_DURING_THE_COPY = POST_READS
# Prisma's bookkeeping: no site data in it.
ORM_BOOKKEEPING = "_prisma_migrations"
