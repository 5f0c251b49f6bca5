"""One run of migrate_from_postgres, step by step (see Migration.run).

The command parses its arguments and hands them to a Migration; what the run does, in what
order, and what it says, is here. What a table needs beyond copying its columns is declared on
its description in tables.py and reached through its hooks: nothing here names a table, but for
the users, whose rejected rows reject the rows that name them.
"""

import ctypes
import ctypes.util
import gc
import shutil
import sys
import time
from concurrent.futures import Future
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.conf import settings

from litesite import litefs

from . import ImportRefused
from .build import BuildFile, Room, fingerprint
from .head_start import HeadStart
from .install import (
    copy_into_live,
    describe_site_data,
    prepare_rename,
    refuse_site_data,
    replace_by_rename,
    site_data,
)
from .progress import Progress
from .source import LegacySource, Problem, WorkerPool, write_rejected
from .tables import (
    CHECKED_DURING_THE_COPY,
    LEGACY_TABLES,
    LOAD_ORDER,
    LOADED_BEFORE_THE_CHECK,
    LOADED_WHILE_IT_RUNS,
    ORM_BOOKKEEPING,
    USER_ROWS,
    USERS,
    LegacyTable,
)
from .verify import Verification, check_table_integrity, verify

BATCH_ROWS = 100_000
PROBLEMS_SHOWN = 10
# Worker connections sharing the run's snapshot: the larger tables' checks run side by side, and
# Postgres computes its checksums while the copy runs.
WORKERS = 3


class Migration:
    """migrate_from_postgres: check the source and the target, check every row, copy, verify,
    swap in (a dry run stops after the checks).

    run() calls the steps in order; each writes what it did to `stdout` and leaves what it found
    on the object for the steps after it. A step that must stop the run raises ImportRefused
    with a sentence saying what to fix. Until swap_in(), the live database is not touched.
    """

    def __init__(
        self,
        *,
        source_url: str,
        dry_run: bool = False,
        replace: bool = False,
        skip_invalid: str | None = None,
        work_dir: str | None = None,
        batch_rows: int = BATCH_ROWS,
        stdout,
        stderr,
        style,
    ):
        """Checks what can be checked before connecting. `stdout`/`stderr`/`style` are the
        command's (Django's OutputWrapper and Style)."""
        if not source_url:
            raise ImportRefused(
                "Say where the old database is: --source postgresql://USER:PASSWORD@HOST:PORT/DB "
                "or the POSTGRES_DATABASE_URL environment variable."
            )
        if batch_rows < 1:
            raise ImportRefused("--batch-size must be a positive number of rows.")
        self.source_url = source_url
        self.dry_run = dry_run
        self.replace = replace
        self.batch_rows = batch_rows
        self.stdout = stdout
        self.stderr = stderr
        self.style = style
        self.target = Path(settings.DATABASES["default"]["NAME"]).resolve()
        self.under_litefs = _inside_litefs(self.target)
        self.work_dir = self._work_dir(work_dir)
        self.skip_file = self._skip_file(skip_invalid)
        suffix = self.target.suffix or ".sqlite3"
        self.build_path = self.work_dir / f"{self.target.stem}.postgres-import{suffix}"

        # Found by the steps, for the steps after them (the attributes without a value are set
        # by the step that finds them, before any later step reads them).
        self.source: LegacySource
        self.workers: WorkerPool
        self.head_start: HeadStart | None = None
        self.blockers: list[str] = []  # what would stop a real run, said at a dry run's end
        self.counts: dict[str, int] = {}
        self.problems: list[Problem] = []
        self.skipped: dict[str, list[str]] = {}  # the rejected rows' ids, by legacy table
        self.preparations: dict[LegacyTable, Any] = {}
        self.source_checksums: dict[str, Future] = {}
        self.build: BuildFile
        self.progress: Progress
        self.integrity_checks: dict[str, Future] = {}  # started during the copy, by db table
        self.verification: Verification
        self.notes: list[str] = []  # said at the end, as warnings

    def run(self) -> None:
        started = time.monotonic()
        keep_large_buffers_off_the_heap()
        # Django's own objects (hundreds of thousands, all long-lived) leave the garbage
        # collector's view: its full collections, set off by the copy's many short-lived
        # tuples, would walk them all again and again.
        gc.freeze()
        self.connect()
        try:
            self.check_source()
            self.check_target()
            with ExitStack() as background:
                self.begin_background_work(background)
                self.check_rows()
                if self.dry_run:
                    self.end_dry_run()
                    return
                self.set_aside_rejected_rows()
                self.start_source_checksums()
                self.copy()
                self.verify()
                how = self.swap_in()
                self.report(how, started=started)
        finally:
            self.source.close()

    # --- the steps ----------------------------------------------------------------------------
    def connect(self) -> None:
        """Open the source's snapshot; say what is copied where."""
        self.source = LegacySource(self.source_url)
        self.stdout.write(
            f"Source: {self.source.description} (PostgreSQL {self.source.server_version})"
        )
        mode = "one transaction into the live LiteFS database" if self.under_litefs else "rename"
        self.stdout.write(f"Target: {self.target} (swap by {mode})")

    def check_source(self) -> None:
        """The old site's tables and columns must be there; what the site has no place for is
        named and ignored."""
        report = self.source.check_schema()
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

    def check_target(self) -> None:
        """What the run may not write over or into: site data without --replace, a work folder
        without room, a LiteFS replica. A real run stops at the first; a dry run notes each."""
        existing = site_data(self.target)
        if existing and not self.replace:
            if not self.dry_run:
                refuse_site_data(self.target, existing)
            self.blockers.append(
                f"the target already holds site data ({describe_site_data(existing)}); "
                "a real run needs --replace"
            )
        if not self.build_path.exists():  # a rerun's copy is partly there already
            room = Room(self.work_dir, needed=self.source.room_needed())
            self.stdout.write(f"Room: {room}.")
            if room.problem:
                self._stop_or_note(room.problem)
        if self.under_litefs and not litefs.is_primary():
            self._stop_or_note(
                "this machine is not the LiteFS primary: run the command in a console on the "
                "primary (fly ssh console, see the README)"
            )

    def begin_background_work(self, stack: ExitStack) -> None:
        """Worker connections on the run's snapshot; on a fresh build also what can begin while
        the rows are checked: the tables' preparations (the recordings), the new file's schema
        and the first table's query (see recordings.py, head_start.py)."""
        fresh = not self.dry_run and not self.build_path.exists()
        if fresh:
            self._start_preparations(stack)
        self.workers = stack.enter_context(self.source.workers(WORKERS))
        if fresh:
            self.head_start = stack.enter_context(
                HeadStart(self.build_path, self.source, batch_rows=self.batch_rows)
            )

    def check_rows(self) -> None:
        """Count every table and find the rows the site would reject. The users first: the
        other tables' rows whose user is rejected are rejected too; then the others side by
        side. On a fresh build the first table to copy has its query started meanwhile,
        filtered by the same checks."""
        began = time.monotonic()
        self.stdout.write(f"{'table':<10} {'rows':>10} {'problems':>9}")
        user_problems = self.source.problems(USERS, skipped_users=[])
        skipped_users = [problem.id for problem in user_problems]
        if self.head_start is not None:
            self.head_start.open_stream(LOAD_ORDER[0], skipped_users=skipped_users)
        pending = {
            table: self.workers.submit(_count_and_problems, table, skipped_users=skipped_users)
            for table in USER_ROWS
        }
        self._counted(USERS, self.source.count(USERS), user_problems)
        for table in USER_ROWS:
            self._counted(table, *pending[table].result())
        self.stdout.write(f"Checked every row in {time.monotonic() - began:.1f}s.")
        self.skipped = _ids_by_table(self.problems)
        if self.problems:
            self._report_problems()
            if not self.skip_file:
                self.blockers.append(
                    f"{len(self.problems):,} row(s) would be rejected by the site; fix them in "
                    "Postgres, or rerun with --skip-invalid FILE to migrate the rest"
                )

    def end_dry_run(self) -> None:
        self.stdout.write("Dry run: nothing was written.")
        if self.blockers:
            raise ImportRefused("A real run would stop: " + "; ".join(self.blockers) + ".")
        self.stdout.write(self.style.SUCCESS("A real run would go ahead."))

    def set_aside_rejected_rows(self) -> None:
        """Rows the site rejects stop the run, unless --skip-invalid names a file for them."""
        if not self.problems:
            return
        if not self.skip_file:
            raise ImportRefused(
                f"{len(self.problems):,} row(s) would be rejected by the site (listed above); "
                "nothing was written. Fix them in Postgres, or rerun with --skip-invalid FILE to "
                "migrate the rest and write those rows to FILE."
            )
        written = write_rejected(self.skip_file, source=self.source, problems=self.problems)
        self.stdout.write(f"Wrote the {written:,} rejected row(s) to {self.skip_file}.")

    def start_source_checksums(self) -> None:
        """Postgres's half of the verification, computed in its own process while the copy
        runs."""
        self.source_checksums = {
            table.source: self.workers.submit(
                LegacySource.checksum, table, skipped_ids=self.skipped.get(table.source, [])
            )
            for table in LEGACY_TABLES
        }

    def copy(self) -> None:
        """Every table into the build file, resuming after a killed run's last commit. The
        integrity check of the tables loaded first runs while the last ones load."""
        with ExitStack() as stack:
            self._open_build()
            if self.build.complete:
                self.stdout.write(f"The copy in {self.build.path} is complete; verifying it again.")
                return
            verb = "Resuming the interrupted copy" if self.build.resumed else "Copying"
            self.stdout.write(f"{verb} into {self.build.path}")
            self.progress = Progress.for_terminal(write=self.stdout.write, stream=sys.stderr)
            self._resume_preparations(stack)
            for table in LOADED_BEFORE_THE_CHECK:
                self._copy_table(table)
            self._start_integrity_check(CHECKED_DURING_THE_COPY)
            for table in LOADED_WHILE_IT_RUNS:
                self._copy_table(table)
        self.build.mark_complete()

    def verify(self) -> None:
        """Counts, checksums, foreign_key_check, integrity_check and the tables' copy_checks;
        on any mismatch the copy is deleted and the run stops."""
        self.stdout.write("Verifying ...")
        began = time.monotonic()
        self.build.release_memory()
        self.verification = verification = verify(
            source=self.source,
            path=self.build.path,
            skipped=self.skipped,
            source_checksums=self.source_checksums,
            checked_tables=self.integrity_checks,
        )
        self.stdout.write(f"Verified in {time.monotonic() - began:.1f}s:")
        for line in verification.lines():
            self.stdout.write(f"  {line}")
        if not verification.ok:
            self.build.discard()
            raise ImportRefused(
                "Verification failed (see the table above); the live database was not touched. "
                "The copy was removed, so the next run starts afresh. If the old site is still "
                "taking writes, stop it first."
            )

    def swap_in(self) -> str:
        """The verified copy replaces the live data; returns how. A refused swap keeps the
        verified copy with its bookkeeping: a rerun swaps it in after verifying it again,
        without copying anything."""
        if self.under_litefs:
            self.build.close()
            copy_into_live(build=self.build.path, target=self.target, replace=self.replace)
            return "copied into the live LiteFS database in one transaction"
        prepare_rename(target=self.target, replace=self.replace)
        self.build.finalize()
        replace_by_rename(build=self.build.path, target=self.target)
        return "swapped into place"

    def report(self, how: str, *, started: float) -> None:
        for note in self.notes:
            self.stdout.write(self.style.WARNING(f"Note: {note}"))
        copied = ", ".join(
            f"{check.copied_rows:,} {check.name}" for check in self.verification.tables
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Migrated {copied}: verified and {how} ({self.target}) "
                f"in {time.monotonic() - started:.1f}s."
            )
        )

    # --- parts of the steps -------------------------------------------------------------------
    def _stop_or_note(self, problem: str) -> None:
        """A real run stops on `problem` (a sentence without its capital and full stop); a dry
        run notes it and goes on."""
        if not self.dry_run:
            raise ImportRefused(problem[0].upper() + problem[1:] + ".")
        self.blockers.append(problem)

    def _counted(self, table: LegacyTable, count: int, problems: list[Problem]) -> None:
        self.counts[table.source] = count
        self.problems += problems
        self.stdout.write(f"{table.source:<10} {count:>10,} {len(problems):>9,}")

    def _report_problems(self) -> None:
        problems = self.problems
        if self.skip_file:
            verb = "would skip" if self.dry_run else "skips"
            self.stdout.write(
                self.style.WARNING(
                    f"The site {verb} {len(problems):,} row(s) it would reject"
                    + ("" if self.dry_run else f" (written whole to {self.skip_file})")
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

    def _preparation_folder(self, table: LegacyTable) -> Path:
        assert table.preparation is not None  # asked only for a table with one
        return self.work_dir / f"{self.target.stem}.postgres-import-{table.preparation.folder}"

    def _start_preparations(self, stack: ExitStack) -> None:
        for table in LOAD_ORDER:
            if table.preparation is not None:
                self.preparations[table] = stack.enter_context(
                    table.preparation.start(self.source, self._preparation_folder(table))
                )

    def _resume_preparations(self, stack: ExitStack) -> None:
        """On a resumed build, start the preparations of the tables still to copy (they run
        while the tables before them load); remove the files of those already copied, left by
        a run killed before it removed them."""
        for table in LOAD_ORDER:
            if table.preparation is None:
                continue
            if self.build.state(table).done:
                shutil.rmtree(self._preparation_folder(table), ignore_errors=True)
            elif table not in self.preparations:
                self.preparations[table] = stack.enter_context(
                    table.preparation.start(self.source, self._preparation_folder(table))
                )

    def _open_build(self) -> None:
        began = time.monotonic()
        # On a fresh build the schema was created while the rows were checked.
        created_in = self.head_start.schema_seconds() if self.head_start is not None else None
        self.build = BuildFile.open(
            self.build_path,
            fingerprint=fingerprint(source=self.source, skipped=self.skipped),
            write=self.stdout.write,
        )
        if self.head_start is not None:
            self.head_start.adopted = True
        if created_in is not None:
            self.stdout.write(f"Created the site's schema in {created_in:.1f}s.")
        elif self.build.adopted:
            self.stdout.write(
                f"Using the site's schema an earlier run created in {self.build.path}."
            )
        elif not self.build.resumed:
            self.stdout.write(f"Created the site's schema in {time.monotonic() - began:.1f}s.")

    def _copy_table(self, table: LegacyTable) -> None:
        ids = self.skipped.get(table.source, [])
        prepared = self._wait_for_preparation(table, skipped_ids=ids)
        begun = self.head_start.streams.pop(table, None) if self.head_start is not None else None
        self.build.load(
            table,
            source=self.source,
            batches=begun,
            expected=self.counts[table.source] - len(ids),
            skipped_ids=ids,
            progress=self.progress,
            batch_rows=self.batch_rows,
            prepared=prepared,
        )
        began = time.monotonic()
        rebuilt = self.build.rebuild_indexes(table)
        if rebuilt:
            self.stdout.write(
                f"{table.label}: built {rebuilt} index{'es' if rebuilt > 1 else ''} "
                f"in {time.monotonic() - began:.1f}s."
            )

    def _wait_for_preparation(self, table: LegacyTable, *, skipped_ids: list[str]):
        if table.preparation is None or self.build.state(table).done:
            return None
        began = time.monotonic()
        prepared = self.preparations[table].wait(skipped_ids=skipped_ids, notes=self.notes)
        self.stdout.write(f"{table.preparation.done} (waited {time.monotonic() - began:.1f}s).")
        return prepared

    def _start_integrity_check(self, table: LegacyTable) -> None:
        """integrity_check of `table`, which the copy is done with, while the rest loads."""
        self.build.release_memory()
        self.build.allow_reads_during_writes()
        self.integrity_checks[table.db_table] = check_table_integrity(
            self.build.path, table.db_table
        )
        self.stdout.write(f"{table.label}: integrity_check started; it runs while the rest loads.")

    # --- options ------------------------------------------------------------------------------
    def _work_dir(self, option: str | None) -> Path:
        if option:
            folder = Path(option).resolve()
        elif self.under_litefs:
            folder = Path(settings.DATABASES["cache"]["NAME"]).resolve().parent
        else:
            folder = self.target.parent
        if not folder.is_dir():
            raise ImportRefused(f"--work-dir {folder} is not a directory.")
        if self.under_litefs and _inside_litefs(folder / "x"):
            raise ImportRefused(
                f"--work-dir {folder} is inside the LiteFS mount, where every file becomes a "
                "replicated database; choose a folder on the volume outside it."
            )
        return folder

    @staticmethod
    def _skip_file(option: str | None) -> Path | None:
        if not option:
            return None
        path = Path(option).resolve()
        if not path.parent.is_dir():
            raise ImportRefused(
                f"--skip-invalid {option}: the folder {path.parent} does not exist."
            )
        return path


def _count_and_problems(
    source: LegacySource, table: LegacyTable, *, skipped_users: list[str]
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
