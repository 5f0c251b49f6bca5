"""Per-table progress: a tqdm bar with rows per second on a terminal, log lines otherwise."""

import sys
import time
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm


class Progress:
    def __init__(self, *, write, bars: bool):
        """write: a function printing one line (the command's stdout); bars: draw tqdm bars."""
        self.write = write
        self.bars = bars

    @classmethod
    def for_terminal(cls, *, write, stream=None) -> "Progress":
        stream = stream or sys.stderr
        return cls(write=write, bars=stream.isatty())

    @contextmanager
    def table(self, name: str, *, total: int, done: int = 0):
        started = time.monotonic()
        counter = _Counter(self, name, total=total, done=done, started=started)
        if self.bars:
            counter.bar = tqdm(
                total=total,
                initial=done,
                desc=f"{name:>9}",
                unit=" rows",
                unit_scale=True,
                dynamic_ncols=True,
                leave=True,
            )
        elif done:
            self.write(f"{name}: resuming after {done:,} of {total:,} rows")
        try:
            yield counter
        finally:
            if counter.bar is not None:
                counter.bar.close()
        elapsed = max(time.monotonic() - started, 1e-6)
        copied = counter.done - done
        self.write(
            f"{name}: {counter.done:,} rows copied ({copied:,} in {elapsed:.1f}s, "
            f"{copied / elapsed:,.0f} rows/s)"
        )


class _Counter:
    bar: "tqdm[Any] | None" = None

    def __init__(self, progress: Progress, name: str, *, total: int, done: int, started: float):
        self.progress = progress
        self.name = name
        self.total = total
        self.done = done
        self.initial = done
        self.started = started

    def committed(self, rows: int) -> None:
        """Called after each committed batch."""
        self.done += rows
        if self.bar is not None:
            self.bar.update(rows)
            return
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.progress.write(
            f"{self.name}: {self.done:,} of {self.total:,} rows committed "
            f"({(self.done - self.initial) / elapsed:,.0f} rows/s)"
        )
