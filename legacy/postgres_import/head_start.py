"""What a fresh build begins while Postgres checks the rows."""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from pathlib import Path

from .batches import stream_batches
from .build import BuildFile, remove_database_file
from .source import LegacySource
from .tables import LegacyTable


class HeadStart:
    """What a fresh build begins while Postgres checks the rows, so that the copy starts the
    moment the checks are in: the new file's schema, created in a thread (Django's migrate,
    0.3 s of Python), and the first table's query, filtered by that table's own checks, so that
    Postgres sorts it while it checks the others.

    Used as a context manager around the checks and the copy. When the run stops before the
    copy adopts the file (BuildFile.open), the file is removed: nothing is left behind.
    """

    def __init__(self, path: Path, source: LegacySource, *, batch_rows: int):
        self.path = path
        self.source = source
        self.batch_rows = batch_rows
        self.streams: dict[LegacyTable, Iterator] = {}
        self.adopted = False
        self._stack = ExitStack()
        self._began = time.monotonic()
        self._schema = self._stack.enter_context(
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="schema")
        ).submit(self._create)

    def _create(self) -> float:
        BuildFile.create(self.path)
        return time.monotonic() - self._began

    def open_stream(self, table: LegacyTable, *, skipped_users: list[str]) -> None:
        """Start `table`'s query on a worker connection of its own (see stream_batches)."""
        worker = self._stack.enter_context(closing(self.source.worker()))
        self.streams[table] = self._stack.enter_context(
            stream_batches(
                table,
                source=worker,
                skipped_ids=[],
                after_id=None,
                batch_rows=self.batch_rows,
                skipped_users=skipped_users,
            )
        )

    def schema_seconds(self) -> float:
        """How long creating the schema took, once it is done (its error, if it failed)."""
        return self._schema.result()

    def __enter__(self) -> "HeadStart":
        return self

    def __exit__(self, *exc_info) -> None:
        self._stack.close()  # the queries closed, the schema thread waited for
        if not self.adopted:
            remove_database_file(self.path)
