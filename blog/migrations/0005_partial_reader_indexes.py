"""Smaller indexes on post reads: partial reader indexes, and no separate index on user_id.

The (user, created_at) index serves every look-up by user, so the column's own index only
cost writes and integrity-check time. It is dropped with plain SQL rather than by AlterField,
which on SQLite would copy the whole table to change nothing but an index.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("blog", "0004_standings_version"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(model_name="postread", name="postread_user_created"),
        migrations.RemoveIndex(model_name="postread", name="postread_client_slug_created"),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="postread",
                    name="user",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="post_reads",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "blog_postread_user_id_c516ee10"',
                    reverse_sql='CREATE INDEX "blog_postread_user_id_c516ee10" '
                    'ON "blog_postread" ("user_id")',
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="postread",
            index=models.Index(
                condition=models.Q(("user__isnull", False)),
                fields=["user", "created_at"],
                name="postread_user_created",
            ),
        ),
        migrations.AddIndex(
            model_name="postread",
            index=models.Index(
                condition=models.Q(("client_id__isnull", False)),
                fields=["client_id", "post_slug", "created_at"],
                name="postread_client_slug_created",
            ),
        ),
    ]
