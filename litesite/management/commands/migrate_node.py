"""Bring this machine's databases up to date as it starts: `manage.py migrate_node`.

gunicorn runs it (gunicorn.conf.py, `when_ready`) once it has bound its port and before it starts
its workers: requests that arrive meanwhile wait in the listen backlog and are answered when the
workers are up, instead of meeting a closed port. That matters on a deploy: LiteFS starts
gunicorn right after promoting this node, and the replicas start sending it writes about a second
later.

- The cache database is this machine's own file: always migrated.
- The site database is replicated: migrated only where LiteFS says this node is the primary
  (standalone, the node is the primary). A replica never writes it; its primary migrates it, and
  LiteFS ships the result. litefs.yml's `promote: true` makes a booting candidate the primary
  before gunicorn starts, so the machine that just booted with new code applies its migrations.
- A database with nothing to apply costs one `migrate --check` (no post-migrate work).
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from litesite import litefs

DATABASES = ("cache", "default")
NAMES = {"cache": "cache database", "default": "site database"}


class Command(BaseCommand):
    help = (
        "Migrate this machine's cache database, and the replicated site database when this node "
        "is the primary. Run by gunicorn at start-up, before its workers."
    )
    # Start-up time is time the port holds requests; gunicorn's workers load the project anyway.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say what would be migrated, and change nothing.",
        )

    def handle(self, *args, dry_run, **options):
        for alias in DATABASES:
            name = NAMES[alias]
            if alias == "default" and not litefs.is_primary():
                primary = litefs.primary_hostname() or "unknown"
                self.stdout.write(
                    f"The {name} is not migrated here: this node is a replica (primary: "
                    f"{primary}), and the primary migrates it."
                )
                continue
            if self.up_to_date(alias):
                self.stdout.write(f"The {name} is up to date.")
                continue
            if dry_run:
                self.stdout.write(f"Would migrate the {name}:")
                call_command("migrate", database=alias, plan=True, stdout=self.stdout)
                continue
            self.stdout.write(f"Migrating the {name} ...")
            call_command(
                "migrate",
                database=alias,
                interactive=False,
                verbosity=options["verbosity"],
                stdout=self.stdout,
            )

    def up_to_date(self, alias: str) -> bool:
        try:
            call_command("migrate", database=alias, check_unapplied=True, verbosity=0)
        except SystemExit:  # `migrate --check` says there is something to apply
            return False
        return True
