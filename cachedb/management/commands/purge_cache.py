"""Delete expired rows from this machine's cache file, and trim it to CACHEDB_MAX_ENTRIES.

The site purges opportunistically as it writes, so this is for a schedule (a cron on each machine),
after a deploy that changes every key (`--all`), or to look before deleting (`--dry-run`). It only
ever touches the `cache` database, which is never replicated: run it on each machine.
"""

import sys
import time
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from tqdm import tqdm

from cachedb.connection import ALIAS
from cachedb.models import BackendEntry, CacheEntry, CacheLease, ExpiringQuerySet

TABLES: list[tuple[str, type[CacheEntry | BackendEntry | CacheLease]]] = [
    ("cachified entries", CacheEntry),
    ("Django cache entries", BackendEntry),
    ("fetch leases", CacheLease),
]


class Command(BaseCommand):
    help = (
        "Delete expired cache entries (cachified values, Django cache API values, stale fetch "
        "leases) from this machine's cache database, and evict the least recently written "
        "entries above CACHEDB_MAX_ENTRIES."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )
        parser.add_argument(
            "--all",
            action="store_true",
            help="Delete every entry, expired or not (fetches in progress keep their lease).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=1000,
            help="Rows deleted per transaction, so the site's writes are never held up long.",
        )

    def handle(
        self,
        *args: Any,
        dry_run: bool,
        all: bool,
        batch_size: int,
        verbosity: int,
        **options: Any,
    ) -> None:
        if batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1, not {batch_size}.")
        now = time.time()
        try:
            plan = [
                # A live lease is a fetch in progress: even --all leaves it to finish.
                (label, self._doomed(model, now, everything=all and model is not CacheLease))
                for label, model in TABLES
            ]
            counts = [(label, queryset, queryset.count()) for label, queryset in plan]
        except DatabaseError as error:
            raise CommandError(
                f"Cannot read the cache database ({error}). "
                "Run `manage.py migrate --database cache` first."
            ) from error
        over_cap = max(0, CacheEntry.objects.count() - counts[0][2] - settings.CACHEDB_MAX_ENTRIES)
        verb = "Would delete" if dry_run else "Deleting"
        for label, _, count in counts:
            expired = "" if all and label != "fetch leases" else "expired "
            self.stdout.write(f"{verb} {count} {expired}{label}.")
        if over_cap and not all:
            self.stdout.write(
                f"{verb} {over_cap} least recently written cachified entries above the cap of "
                f"{settings.CACHEDB_MAX_ENTRIES}."
            )
        if dry_run:
            self.stdout.write(self.style.WARNING("Dry run: nothing deleted."))
            return
        total = sum(count for _, _, count in counts)
        # The bar is drawn on a terminal's stderr only; stdout keeps the plain summary lines.
        bar_off = verbosity < 1 or not total or not sys.stderr.isatty()
        with tqdm(total=total, unit=" rows", file=sys.stderr, disable=bar_off) as progress:
            for _, queryset, _ in counts:
                self._delete_in_batches(queryset, batch_size, progress)
        evicted = (
            0
            if all
            else CacheEntry.objects.evict_least_recently_written(keep=settings.CACHEDB_MAX_ENTRIES)
        )
        self.stdout.write(self.style.SUCCESS(f"Deleted {total + evicted} rows."))

    @staticmethod
    def _doomed(
        model: type[CacheEntry | BackendEntry | CacheLease], now: float, *, everything: bool
    ) -> ExpiringQuerySet[Any]:
        return model.objects.all() if everything else model.objects.expired(now)

    @staticmethod
    def _delete_in_batches(queryset: QuerySet[Any], batch_size: int, progress: "tqdm[Any]") -> None:
        while True:
            with transaction.atomic(using=ALIAS):
                keys = list(queryset.values_list("pk", flat=True)[:batch_size])
                if not keys:
                    return
                queryset.model.objects.filter(pk__in=keys).delete()
            progress.update(len(keys))
