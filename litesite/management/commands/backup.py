"""Write a consistent snapshot of the site database to a directory: `manage.py backup DIR`.

LiteFS's backup service (LiteFS Cloud) was retired in October 2024, so backups are the site's
own job. `VACUUM INTO` copies the database inside one read transaction: the snapshot is
consistent even while the site keeps writing, compact, and a plain SQLite file that restores
with `litefs import` (README "Backups"). It only reads, so it runs on the primary or a replica.

The snapshot is written under a temporary name, checked with `PRAGMA integrity_check`, and only
then given its timestamped name, so a failed run never leaves something that looks like a backup.
"""

import sqlite3
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils import timezone


def snapshot_name(*, stem: str, when) -> str:
    return f"{stem}-{when:%Y%m%dT%H%M%SZ}.sqlite3"


class Command(BaseCommand):
    help = (
        "Write a consistent, timestamped snapshot of the site database (VACUUM INTO) to DIR, "
        "e.g. /data/backups. Optionally keep only the newest N snapshots."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", help="Where to write the snapshot (created if missing).")
        parser.add_argument(
            "--database", default="default", help="Database alias to back up (default: default)."
        )
        parser.add_argument(
            "--keep",
            type=int,
            default=0,
            metavar="N",
            help="After a successful backup, delete all but the newest N snapshots (0: keep all).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be written and deleted."
        )

    def handle(self, *args, directory, database, keep, dry_run, **options):
        source = self.source_path(database)
        target_dir = self.target_directory(directory, source=source, dry_run=dry_run)
        if keep < 0:
            raise CommandError(f"--keep must be 0 or more, not {keep}.")
        name = snapshot_name(stem=source.stem, when=timezone.now())
        target = target_dir / name
        if target.exists():
            raise CommandError(f"{target} already exists; run again in a second.")

        if dry_run:
            self.stdout.write(f"Would write a snapshot of {source} to {target}.")
        else:
            self.write_snapshot(database, source=source, target=target)
        self.prune(target_dir, stem=source.stem, keep=keep, dry_run=dry_run, also=name)

    def source_path(self, alias: str) -> Path:
        if alias not in connections:
            raise CommandError(f"There is no database called {alias!r}.")
        settings_dict = connections[alias].settings_dict
        if connections[alias].vendor != "sqlite":
            raise CommandError(f"{alias!r} is not an SQLite database.")
        source = Path(settings_dict["NAME"])
        if not source.is_file():
            raise CommandError(f"The {alias!r} database {source} does not exist yet.")
        return source

    def target_directory(self, directory: str, *, source: Path, dry_run: bool) -> Path:
        target_dir = Path(directory).expanduser().resolve()
        if target_dir.exists() and not target_dir.is_dir():
            raise CommandError(f"{target_dir} is a file, not a directory.")
        if settings.LITEFS_DIR and target_dir.is_relative_to(Path(settings.LITEFS_DIR).resolve()):
            raise CommandError(
                f"{target_dir} is inside the LiteFS mount {settings.LITEFS_DIR}; LiteFS would "
                "treat a snapshot there as a database to replicate. Pick a directory outside it."
            )
        if target_dir == source.parent.resolve():
            raise CommandError("Write backups to their own directory, not next to the database.")
        if not dry_run:
            try:
                target_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CommandError(f"Cannot create {target_dir}: {exc.strerror}.") from None
        return target_dir

    def write_snapshot(self, alias: str, *, source: Path, target: Path) -> None:
        partial = target.with_name(f".{target.name}.partial")
        partial.unlink(missing_ok=True)
        self.stdout.write(f"Writing a snapshot of {source} ...")
        started = time.monotonic()
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("VACUUM INTO %s", [str(partial)])
            self.stdout.write("Checking the snapshot ...")
            problem = self.integrity_problem(partial)
        except Exception as exc:
            partial.unlink(missing_ok=True)
            raise CommandError(f"The backup failed: {exc}") from None
        if problem:
            partial.unlink(missing_ok=True)
            raise CommandError(f"The snapshot failed its integrity check: {problem}")
        partial.rename(target)
        size_mb = target.stat().st_size / 1_000_000
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {target} ({size_mb:.1f} MB) in {time.monotonic() - started:.1f}s."
            )
        )

    @staticmethod
    def integrity_problem(path: Path) -> str | None:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = connection.execute("PRAGMA integrity_check").fetchall()
        finally:
            connection.close()
        return None if rows == [("ok",)] else "; ".join(str(row[0]) for row in rows[:5])

    def prune(self, directory: Path, *, stem: str, keep: int, dry_run: bool, also: str) -> None:
        if not keep:
            return
        names = {p.name for p in directory.glob(f"{stem}-*Z.sqlite3")}
        if dry_run:
            names.add(also)
        for name in sorted(names, reverse=True)[keep:]:
            if dry_run:
                self.stdout.write(f"Would delete the older snapshot {directory / name}.")
            else:
                (directory / name).unlink()
                self.stdout.write(f"Deleted the older snapshot {directory / name}.")
