"""Move the old Postgres site's data into the site's SQLite database: fast, verified, rerunnable.

Why a command of its own: the site this project follows moved its half-million rows with a
row-by-row script that took 75 minutes and verified nothing. This one streams every table
through server-side cursors, writes big transactions into a separate file, proves the copy
(counts and checksums on both sides, foreign_key_check, integrity_check) and only then swaps it
in, so a failure or a kill at any moment leaves the live database as it was, and a rerun picks
up where the kill left off.
The command only reads its arguments: the run is legacy/postgres_import/migration.py's Migration,
and the moving parts live beside it.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from legacy.postgres_import import ImportRefused
from legacy.postgres_import.migration import BATCH_ROWS, Migration


class Command(BaseCommand):
    help = (
        "Copy users, sessions, calls and post reads from the old site's Postgres database into "
        "the site's SQLite database. Builds and verifies a separate file, then swaps it in."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--source",
            default="",
            help="postgresql://USER:PASSWORD@HOST:PORT/DATABASE of the old site "
            "(default: the POSTGRES_DATABASE_URL environment variable).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Connect, check the schema, count rows and report problems; write nothing.",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Replace a target database that already holds site data.",
        )
        parser.add_argument(
            "--skip-invalid",
            metavar="FILE",
            help="Migrate the rows the site accepts and write the rejected ones, whole, to FILE "
            "(JSON lines). Without it, any rejected row stops the run before anything is written.",
        )
        parser.add_argument(
            "--work-dir",
            metavar="DIR",
            help="Where the new database is built (default: beside the live database; under "
            "LiteFS, beside the cache database, outside the FUSE mount).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_ROWS,
            metavar="ROWS",
            help=f"Rows per SQLite transaction (default {BATCH_ROWS}).",
        )

    def handle(self, *args, **options):
        try:
            Migration(
                source_url=options["source"] or settings.POSTGRES_DATABASE_URL,
                dry_run=options["dry_run"],
                replace=options["replace"],
                skip_invalid=options["skip_invalid"],
                work_dir=options["work_dir"],
                batch_rows=options["batch_size"],
                stdout=self.stdout,
                stderr=self.stderr,
                style=self.style,
            ).run()
        except ImportRefused as error:
            raise CommandError(str(error)) from None
        except KeyboardInterrupt:
            raise CommandError(
                "Interrupted. The live database is unchanged; run the command again to resume.",
                returncode=130,
            ) from None
