"""What each table of the old Postgres site becomes in the site's SQLite database.

The legacy schema (legacy-schema.sql beside this module, as Prisma 4 created it) quotes
PascalCase tables and camelCase columns, keeps TEXT uuids as ids, TIMESTAMP(3) WITHOUT TIME ZONE
holding UTC, and Postgres enums for role and team.

Conversions that Postgres can do are written as SQL and run there, in the server's own process:
it formats timestamps exactly as Django stores them in SQLite, so the Python side only moves
tuples. The site's constraints (NOT NULL, lengths, choices, foreign keys) are read from the
models, so a constraint added to a model is checked here too.
"""

from dataclasses import dataclass, field

from django.apps import apps
from django.db import models

# Django stores an aware datetime in SQLite as str() of the naive UTC value: microseconds
# only when non-zero. Both spellings parse, but equality lookups compare text.
_DJANGO_DATETIME = "regexp_replace(to_char({col}, 'YYYY-MM-DD HH24:MI:SS.US'), '\\.000000$', '')"
# Instants compared as whole milliseconds since the epoch, computed independently each side.
_PG_MILLISECONDS = "(extract(epoch from {col}) * 1000)::bigint"
_SQLITE_MILLISECONDS = (
    "(CAST(strftime('%s', {col}) AS INTEGER) * 1000 "
    "+ CAST(substr(strftime('%f', {col}), 4, 3) AS INTEGER))"
)
# Checksummed rows join their columns with US and spell NULL as RS: neither occurs in text.
_SEPARATOR_PG, _NULL_PG = "chr(31)", "chr(30)"
_SEPARATOR_SQLITE, _NULL_SQLITE = "char(31)", "char(30)"

# "data:<mime type, parameters kept>;base64,<canonical base64>": only this shape can be rebuilt
# into the identical string. Canonical means padded, no whitespace, and zero unused bits.
DATA_URL_HEADER = "^data:[^,]+;base64,"
CANONICAL_BASE64 = (
    "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=|[A-Za-z0-9+/][AQgw]==)?$"
)


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
        exprs += [quote(name) for name in self.derived_from]
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
    derived_fields=("audio", "audio_mime_type", "duration_seconds"),
    derived_from=("base64",),
    # The stored audio must rebuild the very same data URL.
    derived_checksums=(('md5("base64")', "md5_data_url(audio_mime_type, audio)"),),
    extra_checks=(
        ('t."base64" IS NULL', sql_string("base64 is missing (NULL)")),
        (
            f't."base64" !~ {sql_string(DATA_URL_HEADER)}',
            sql_string("base64 is not a data:<type>;base64,<data> URL"),
        ),
        (
            "length(split_part(substr(t.\"base64\", 6), ',', 1)) - 7 > 100",
            sql_string("base64's MIME type is longer than 100 characters"),
        ),
        (
            f'substr(t."base64", strpos(t."base64", \',\') + 1) !~ {sql_string(CANONICAL_BASE64)}',
            sql_string("base64's data is not canonical base64 (it could not be rebuilt exactly)"),
        ),
    ),
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

# In load order: parents before the rows that point at them.
LEGACY_TABLES = (USERS, SESSIONS, CALLS, POST_READS)
# Prisma's bookkeeping: no site data in it.
ORM_BOOKKEEPING = "_prisma_migrations"
