"""The legacy calls' recordings: decoded into files beside the new database, with their
durations, while the rest of the copy runs."""

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from calls import audio as call_audio

from . import ImportRefused
from .conversions import decode_data_url_into

# Type names only: tables.py imports this module, and source.py imports tables.py.
if TYPE_CHECKING:
    from .source import LegacySource
    from .tables import LegacyTable


@dataclass
class Recording:
    path: Path
    mime_type: str
    size: int
    duration_seconds: float = 0.0


class Recordings:
    """Every call's recording (the data URL in `column` of `table`) decoded into a file of
    `folder`, with its MIME type and duration, by a thread of its own.

    Started as soon as the run has its snapshot, it works through the data URLs one at a time
    on a connection of its own while the rows are checked and the post reads load, decoding
    each a slice at a time into its file; ffmpeg then describes the files DURATIONS_BATCH at a
    time (see calls.audio.durations). The calls are inserted from these files, so a recording
    is never whole in memory while the other tables are verified, and Postgres sends each one
    once. A recording ffmpeg cannot describe gets the full probe() the site gives uploads; one
    that fails that too keeps 0 and is named in the run's notes. Used as a context manager:
    the folder is removed on leaving.
    """

    def __init__(self, source: "LegacySource", folder: Path, *, table: "LegacyTable", column: str):
        self.folder = folder
        self.table = table
        self.column = column
        self.found: dict[str, Recording] = {}
        self.error: BaseException | None = None
        self.probing = all(
            shutil.which(program) for program in (settings.FFMPEG_BINARY, settings.FFPROBE_BINARY)
        )
        self._source = source
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recordings", daemon=True)
        self._thread.start()

    def __enter__(self) -> "Recordings":
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()  # the thread ends after the recording it is on
        self._thread.join()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self) -> None:
        try:
            shutil.rmtree(self.folder, ignore_errors=True)  # a killed run's leftovers
            self.folder.mkdir()
            with self._source.raw_values(self.table, self.column, skipped_ids=[]) as data_urls:
                pending: list[Recording] = []
                for index, (call_id, url) in enumerate(data_urls):
                    if self._stop.is_set():
                        return
                    recording = self._decode(url, self.folder / str(index))
                    del url
                    if recording is None:
                        continue  # a row the checks reject
                    self.found[call_id] = recording
                    pending.append(recording)
                    if len(pending) == call_audio.DURATIONS_BATCH:
                        self._describe(pending)
                        pending = []
                self._describe(pending)
        except BaseException as error:  # handed to wait(), on the main thread
            self.error = error

    @staticmethod
    def _decode(url: bytes, path: Path) -> Recording | None:
        try:
            with open(path, "wb") as out:
                mime, size = decode_data_url_into(url, out.write)
        except ValueError:
            path.unlink()
            return None
        return Recording(path=path, mime_type=mime, size=size)

    def _describe(self, recordings: list[Recording]) -> None:
        if not (recordings and self.probing):
            return
        # The copy's own work goes first: ffmpeg takes the CPU time the copy leaves idle.
        found = call_audio.durations([recording.path for recording in recordings], nice=19)
        for recording, seconds in zip(recordings, found, strict=True):
            if seconds is None:
                try:
                    seconds = call_audio.probe(recording.path.read_bytes()).duration_seconds
                except (call_audio.NotAudio, call_audio.AudioProcessingError):
                    seconds = 0.0
            recording.duration_seconds = seconds

    def wait(self, *, skipped_ids: list[str], notes: list[str]) -> dict[str, Recording]:
        """The recordings by call id, once every one is decoded and described."""
        self._thread.join()
        if self.error is not None:
            raise self.error
        if not self.probing:
            notes.append(
                f"ffmpeg and ffprobe ({settings.FFMPEG_BINARY}, {settings.FFPROBE_BINARY}) are "
                "not both installed: call durations stay 0."
            )
            return self.found
        skipped = set(skipped_ids)
        unreadable = sorted(
            call_id
            for call_id, recording in self.found.items()
            if not recording.duration_seconds and call_id not in skipped
        )
        if unreadable:
            notes.append(
                f"ffprobe could not read the duration of {len(unreadable)} call(s), kept as 0: "
                + ", ".join(unreadable[:10])
                + (" …" if len(unreadable) > 10 else "")
            )
        return self.found


def with_recordings(rows: Iterator[tuple], *, recordings: dict[str, Recording]):
    """Each call with its recording (see batches.BlobBatch), MIME type and duration."""
    for row in rows:
        recording = recordings.get(row[0])
        if recording is None:
            raise ImportRefused(
                f'Call {row[0]}: its "base64" column was not a recording when it was read; the '
                "source changed during the run."
            )
        yield (*row, recording, recording.mime_type, recording.duration_seconds)
