"""Move the old Postgres site's data into the site's SQLite database: fast, verified, rerunnable.

Why a command of its own: the site this project follows moved its half-million rows with a
row-by-row script that took 75 minutes and verified nothing. This one streams every table
through server-side cursors, writes big transactions into a separate file, proves the copy
(counts and checksums on both sides, foreign_key_check, integrity_check) and only then swaps it
in, so a failure or a kill at any moment leaves the live database as it was, and a rerun picks
up where the kill left off.
The moving parts live in legacy/postgres_import/.
"""

import ctypes
import ctypes.util
import gc
import shutil
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from legacy.postgres_import import ImportRefused
from legacy.postgres_import.build import BuildFile, Room, fingerprint
from legacy.postgres_import.head_start import HeadStart
from legacy.postgres_import.install import (
    copy_into_live,
    describe_site_data,
    prepare_rename,
    refuse_site_data,
    replace_by_rename,
    site_data,
)
from legacy.postgres_import.progress import Progress
from legacy.postgres_import.recordings import Recordings
from legacy.postgres_import.source import LegacySource, Problem, write_rejected
from legacy.postgres_import.tables import (
    CALLS,
    CHECKED_DURING_THE_COPY,
    LEGACY_TABLES,
    LOAD_ORDER,
    ORM_BOOKKEEPING,
    USERS,
)
from legacy.postgres_import.verify import check_table_integrity, verify
from litesite import litefs

PROBLEMS_SHOWN = 10


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
            default=100_000,
            metavar="ROWS",
            help="Rows per SQLite transaction (default 100000).",
        )

    def handle(self, *args, **options):
        url = options["source"] or settings.POSTGRES_DATABASE_URL
        if not url:
            raise CommandError(
                "Say where the old database is: --source postgresql://USER:PASSWORD@HOST:PORT/DB "
                "or the POSTGRES_DATABASE_URL environment variable."
            )
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be a positive number of rows.")
        self.target = Path(settings.DATABASES["default"]["NAME"]).resolve()
        self.under_litefs = _inside_litefs(self.target)
        self.work_dir = self._work_dir(options["work_dir"])
        self.skip_file = self._skip_file(options["skip_invalid"])
        started = time.monotonic()
        keep_large_buffers_off_the_heap()
        # Django's own objects (hundreds of thousands, all long-lived) leave the garbage
        # collector's view: its full collections, set off by the copy's many short-lived
        # tuples, would walk them all again and again.
        gc.freeze()
        try:
            source = LegacySource(url)
        except ImportRefused as error:
            raise CommandError(str(error)) from None
        try:
            self._run(source, options, started=started)
        except ImportRefused as error:
            raise CommandError(str(error)) from None
        except KeyboardInterrupt:
            raise CommandError(
                "Interrupted. The live database is unchanged; run the command again to resume.",
                returncode=130,
            ) from None
        finally:
            source.close()

    # --- the run --------------------------------------------------------------------------
    def _run(self, source: LegacySource, options: dict, *, started: float) -> None:
        dry_run, replace = options["dry_run"], options["replace"]
        self.stdout.write(f"Source: {source.description} (PostgreSQL {source.server_version})")
        mode = "one transaction into the live LiteFS database" if self.under_litefs else "rename"
        self.stdout.write(f"Target: {self.target} (swap by {mode})")

        report = source.check_schema()
        if report.bookkeeping_present:
            self.stdout.write(
                f"Ignoring {ORM_BOOKKEEPING}: the old ORM's bookkeeping, no site data."
            )
        if report.ignored_tables:
            names = ", ".join(f'"{name}"' for name in report.ignored_tables)
            self.stdout.write(f"Ignoring unknown table(s) {names}: the site has no place for them.")
        for table, columns in report.ignored_columns.items():
            names = ", ".join(f'"{c}"' for c in columns)
            self.stdout.write(f'Ignoring unknown column(s) {names} of "{table}".')

        blockers = []
        existing = site_data(self.target)
        if existing and not replace:
            if not dry_run:
                refuse_site_data(self.target, existing)
            blockers.append(
                f"the target already holds site data ({describe_site_data(existing)}); "
                "a real run needs --replace"
            )
        if not self._build_path().exists():  # a rerun's copy is partly there already
            room = Room(self.work_dir, needed=source.room_needed())
            self.stdout.write(f"Room: {room}.")
            if room.problem:
                if not dry_run:
                    raise ImportRefused(room.problem[0].upper() + room.problem[1:] + ".")
                blockers.append(room.problem)
        if self.under_litefs and not litefs.is_primary():
            message = (
                "this machine is not the LiteFS primary: run the command in a console on the "
                "primary (fly ssh console, see the README)"
            )
            if not dry_run:
                raise ImportRefused(message[0].upper() + message[1:] + ".")
            blockers.append(message)

        with ExitStack() as stack:
            # A fresh build begins while the rows are checked: the recordings, the schema of
            # the new file and the first table's query (see recordings.py, head_start.py).
            fresh = not dry_run and not self._build_path().exists()
            recordings = head_start = None
            if fresh:
                recordings = stack.enter_context(Recordings(source, self._recordings_folder()))
            # Worker connections share the run's snapshot: the checks of the larger tables run
            # side by side, and Postgres computes its checksums while the copy runs.
            workers = stack.enter_context(source.workers(3))
            if fresh:
                head_start = stack.enter_context(
                    HeadStart(self._build_path(), source, batch_rows=options["batch_size"])
                )
            self._migrate(
                source,
                workers,
                options,
                recordings,
                head_start,
                blockers=blockers,
                started=started,
            )

    def _migrate(
        self, source, workers, options, recordings, head_start, *, blockers, started
    ) -> None:
        """Check every row, copy, verify and swap in (or stop at the check on a dry run)."""
        dry_run, replace = options["dry_run"], options["replace"]
        began = time.monotonic()
        counts, problems = self._check_rows(source, workers, head_start=head_start)
        self.stdout.write(f"Checked every row in {time.monotonic() - began:.1f}s.")
        skipped = _ids_by_table(problems)
        if problems:
            self._report_problems(problems, skipping=bool(self.skip_file), dry_run=dry_run)
            if not self.skip_file:
                blockers.append(
                    f"{len(problems):,} row(s) would be rejected by the site; fix them in "
                    "Postgres, or rerun with --skip-invalid FILE to migrate the rest"
                )
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")
            if blockers:
                raise ImportRefused("A real run would stop: " + "; ".join(blockers) + ".")
            self.stdout.write(self.style.SUCCESS("A real run would go ahead."))
            return
        if problems and not self.skip_file:
            raise ImportRefused(
                f"{len(problems):,} row(s) would be rejected by the site (listed above); nothing "
                "was written. Fix them in Postgres, or rerun with --skip-invalid FILE to migrate "
                "the rest and write those rows to FILE."
            )
        if problems:
            written = write_rejected(self.skip_file, source=source, problems=problems)
            self.stdout.write(f"Wrote the {written:,} rejected row(s) to {self.skip_file}.")

        source_checksums = {
            table.source: workers.submit(
                LegacySource.checksum, table, skipped_ids=skipped.get(table.source, [])
            )
            for table in LEGACY_TABLES
        }
        notes: list[str] = []
        build, checked = self._build(
            source,
            recordings,
            head_start,
            counts=counts,
            skipped=skipped,
            options=options,
            notes=notes,
        )
        self.stdout.write("Verifying ...")
        began = time.monotonic()
        build.release_memory()
        verification = verify(
            source=source,
            path=build.path,
            skipped=skipped,
            source_checksums=source_checksums,
            checked_tables=checked,
        )
        self.stdout.write(f"Verified in {time.monotonic() - began:.1f}s:")
        for line in verification.lines():
            self.stdout.write(f"  {line}")
        if not verification.ok:
            build.discard()
            raise ImportRefused(
                "Verification failed (see the table above); the live database was not touched. "
                "The copy was removed, so the next run starts afresh. If the old site is still "
                "taking writes, stop it first."
            )
        # A refused swap keeps the verified copy with its bookkeeping: a rerun swaps it in
        # after verifying it again, without copying anything.
        if self.under_litefs:
            build.close()
            copy_into_live(build=build.path, target=self.target, replace=replace)
            how = "copied into the live LiteFS database in one transaction"
        else:
            prepare_rename(target=self.target, replace=replace)
            build.finalize()
            replace_by_rename(build=build.path, target=self.target)
            how = "swapped into place"
        for note in notes:
            self.stdout.write(self.style.WARNING(f"Note: {note}"))
        copied = ", ".join(f"{check.copied_rows:,} {check.name}" for check in verification.tables)
        self.stdout.write(
            self.style.SUCCESS(
                f"Migrated {copied}: verified and {how} ({self.target}) "
                f"in {time.monotonic() - started:.1f}s."
            )
        )

    def _check_rows(
        self, source: LegacySource, workers, *, head_start: HeadStart | None
    ) -> tuple[dict[str, int], list[Problem]]:
        """Counts and problem rows of every table. Users first: the other tables' rows whose
        user is rejected are rejected too; then the others side by side. On a fresh build the
        first table to copy has its query started meanwhile, filtered by the same checks."""
        self.stdout.write(f"{'table':<10} {'rows':>10} {'problems':>9}")
        user_problems = source.problems(USERS, skipped_users=[])
        skipped_users = [problem.id for problem in user_problems]
        if head_start is not None:
            head_start.open_stream(LOAD_ORDER[0], skipped_users=skipped_users)
        pending = {
            table: workers.submit(_count_and_problems, table, skipped_users=skipped_users)
            for table in LEGACY_TABLES
            if table is not USERS
        }
        counts: dict[str, int] = {}
        problems: list[Problem] = []
        for table in LEGACY_TABLES:
            if table is USERS:
                count, found = source.count(USERS), user_problems
            else:
                count, found = pending[table].result()
            counts[table.source] = count
            problems += found
            self.stdout.write(f"{table.source:<10} {count:>10,} {len(found):>9,}")
        return counts, problems

    def _report_problems(self, problems: list[Problem], *, skipping: bool, dry_run: bool) -> None:
        if skipping:
            verb = "would skip" if dry_run else "skips"
            self.stdout.write(
                self.style.WARNING(
                    f"The site {verb} {len(problems):,} row(s) it would reject"
                    + ("" if dry_run else f" (written whole to {self.skip_file})")
                    + ":"
                )
            )
            write = self.stdout.write
        else:
            self.stderr.write(f"{len(problems):,} row(s) the site would reject:")
            write = self.stderr.write
        groups: dict[tuple[str, str], list[Problem]] = {}
        for problem in problems:
            groups.setdefault((problem.table, problem.message), []).append(problem)
        for (table, message), items in groups.items():
            shown = ", ".join(
                p.id + (f" ({p.detail})" if p.detail else "") for p in items[:PROBLEMS_SHOWN]
            )
            hidden = len(items) - PROBLEMS_SHOWN
            more = f" and {hidden:,} more" if hidden > 0 else ""
            write(f'  "{table}": {message}: id {shown}{more}')

    def _build_path(self) -> Path:
        suffix = self.target.suffix or ".sqlite3"
        return self.work_dir / f"{self.target.stem}.postgres-import{suffix}"

    def _recordings_folder(self) -> Path:
        return self.work_dir / f"{self.target.stem}.postgres-import-recordings"

    def _build(self, source, recordings, head_start, *, counts, skipped, options, notes):
        """Copy every table into the build file; returns it with the integrity checks already
        under way (see verify.py)."""
        path = self._build_path()
        with ExitStack() as streams:
            began = time.monotonic()
            # On a fresh build the schema was created while the rows were checked.
            created_in = head_start.schema_seconds() if head_start is not None else None
            build = BuildFile.open(
                path,
                fingerprint=fingerprint(source=source, skipped=skipped),
                write=self.stdout.write,
            )
            if head_start is not None:
                head_start.adopted = True
            begun = head_start.streams if head_start is not None else {}
            if created_in is not None:
                self.stdout.write(f"Created the site's schema in {created_in:.1f}s.")
            elif build.adopted:
                self.stdout.write(f"Using the site's schema an earlier run created in {path}.")
            elif not build.resumed:
                self.stdout.write(f"Created the site's schema in {time.monotonic() - began:.1f}s.")
            if build.complete:
                self.stdout.write(f"The copy in {path} is complete; verifying it again.")
                return build, {}
            self.stdout.write(
                f"{'Resuming the interrupted copy' if build.resumed else 'Copying'} into {path}"
            )
            progress = Progress.for_terminal(write=self.stdout.write, stream=sys.stderr)
            if build.state(CALLS)[2]:
                # Copied by an earlier run, killed before it removed the recordings it decoded.
                shutil.rmtree(self._recordings_folder(), ignore_errors=True)
            elif recordings is None:
                recordings = streams.enter_context(Recordings(source, self._recordings_folder()))
            checked = {}
            for table in LOAD_ORDER:
                ids = skipped.get(table.source, [])
                found = None
                if table is CALLS and not build.state(CALLS)[2]:
                    began = time.monotonic()
                    found = recordings.wait(skipped_ids=ids, notes=notes)
                    self.stdout.write(
                        f"Decoded the calls' recordings and found their durations (waited "
                        f"{time.monotonic() - began:.1f}s)."
                    )
                build.load(
                    table,
                    source=source,
                    batches=begun.pop(table, None),
                    expected=counts[table.source] - len(ids),
                    skipped_ids=ids,
                    progress=progress,
                    batch_rows=options["batch_size"],
                    recordings=found,
                )
                began = time.monotonic()
                rebuilt = build.rebuild_indexes(table)
                if rebuilt:
                    self.stdout.write(
                        f"{table.label}: built {rebuilt} index{'es' if rebuilt > 1 else ''} "
                        f"in {time.monotonic() - began:.1f}s."
                    )
                if table is CALLS:  # the post reads and the recordings are in
                    done = CHECKED_DURING_THE_COPY
                    build.release_memory()
                    build.allow_reads_during_writes()
                    checked[done.db_table] = check_table_integrity(build.path, done.db_table)
                    self.stdout.write(
                        f"{done.label}: integrity_check started; it runs while the rest loads."
                    )
        build.mark_complete()
        return build, checked

    # --- options --------------------------------------------------------------------------
    def _work_dir(self, option: str | None) -> Path:
        if option:
            folder = Path(option).resolve()
        elif self.under_litefs:
            folder = Path(settings.DATABASES["cache"]["NAME"]).resolve().parent
        else:
            folder = self.target.parent
        if not folder.is_dir():
            raise CommandError(f"--work-dir {folder} is not a directory.")
        if self.under_litefs and _inside_litefs(folder / "x"):
            raise CommandError(
                f"--work-dir {folder} is inside the LiteFS mount, where every file becomes a "
                "replicated database; choose a folder on the volume outside it."
            )
        return folder

    def _skip_file(self, option: str | None) -> Path | None:
        if not option:
            return None
        path = Path(option).resolve()
        if not path.parent.is_dir():
            raise CommandError(f"--skip-invalid {option}: the folder {path.parent} does not exist.")
        return path


def _count_and_problems(
    source: LegacySource, table, *, skipped_users: list[str]
) -> tuple[int, list[Problem]]:
    return source.count(table), source.problems(table, skipped_users=skipped_users)


def _ids_by_table(problems: list[Problem]) -> dict[str, list[str]]:
    skipped: dict[str, list[str]] = {}
    for problem in problems:
        skipped.setdefault(problem.table, []).append(problem.id)
    return skipped


def _inside_litefs(path: Path) -> bool:
    if not settings.LITEFS_DIR:
        return False
    return path.parent == Path(settings.LITEFS_DIR).resolve()


def keep_large_buffers_off_the_heap() -> None:
    """Give every buffer over 1 MiB back to the system as soon as it is freed.

    Recordings pass through as 10-40 MB strings and bytes. glibc raises its mmap threshold after
    the first such buffer is freed, and later ones then come from the heap, which it does not
    shrink: memory would grow with the number of recordings instead of staying flat. Fixing the
    threshold (M_MMAP_THRESHOLD) keeps them mmapped. Elsewhere than glibc, nothing to do.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_mmap_threshold = -3
    mallopt(m_mmap_threshold, 1024 * 1024)
