"""The migrated calls' durations, found by ffmpeg while the rest of the copy runs."""

import os
import shutil
import tempfile
import threading
from contextlib import closing, suppress
from pathlib import Path

from django.conf import settings

from calls import audio as call_audio

from .conversions import decode_data_url
from .source import LegacySource
from .tables import CALLS


class CallDurations:
    """Every recording's duration, found in a thread of its own from the rows in Postgres.

    Started as soon as the run has its snapshot, it works through the recordings one at a time
    on a worker connection (memory stays flat however many there are), writing them to a
    scratch folder for ffmpeg to describe DURATIONS_BATCH at a time (see calls.audio.durations),
    while the rows are checked and the post reads load; the calls are then inserted with their
    durations. A recording ffmpeg cannot describe gets the full probe() the site gives uploads;
    one that fails that too keeps 0 and is named in the run's notes.
    """

    def __init__(self, source: LegacySource):
        self.results: dict[str, float] = {}
        self.error: BaseException | None = None
        self.probing = all(
            shutil.which(program) for program in (settings.FFMPEG_BINARY, settings.FFPROBE_BINARY)
        )
        self._stop = threading.Event()
        # Opened here, in the caller's thread: the snapshot is exported on the main connection.
        self._worker = source.worker() if self.probing else None
        self._thread = threading.Thread(target=self._run, name="call-durations", daemon=True)
        if self.probing:
            self._thread.start()

    def _run(self) -> None:
        # The copy's own work goes first: this thread, and the ffmpeg processes it starts
        # (they inherit its priority), take the CPU time the copy leaves idle.
        with suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        try:
            with (
                closing(self._worker) as worker,
                worker.raw_values(CALLS, "base64", skipped_ids=[]) as data_urls,
                tempfile.TemporaryDirectory(prefix="litesite-durations-") as folder,
            ):
                pending: list[tuple[str, Path]] = []
                for call_id, url in data_urls:
                    if self._stop.is_set():
                        return
                    try:
                        _mime, audio = decode_data_url(url)
                    except ValueError:
                        continue  # a row the checks reject
                    path = Path(folder) / str(len(pending))
                    path.write_bytes(audio)
                    del audio, url
                    pending.append((call_id, path))
                    if len(pending) == call_audio.DURATIONS_BATCH:
                        self._describe(pending)
                        pending = []
                self._describe(pending)
        except BaseException as error:  # handed to wait(), on the main thread
            self.error = error

    def _describe(self, pending: list[tuple[str, Path]]) -> None:
        if not pending:
            return
        found = call_audio.durations([path for _, path in pending])
        for (call_id, path), seconds in zip(pending, found, strict=True):
            if seconds is None:
                try:
                    seconds = call_audio.probe(path.read_bytes()).duration_seconds
                except (call_audio.NotAudio, call_audio.AudioProcessingError):
                    seconds = 0.0
            self.results[call_id] = seconds
            path.unlink()

    def wait(self, *, skipped_ids: list[str], notes: list[str]) -> dict[str, float]:
        """The durations by call id, once every recording is described."""
        if not self.probing:
            notes.append(
                f"ffmpeg and ffprobe ({settings.FFMPEG_BINARY}, {settings.FFPROBE_BINARY}) are "
                "not both installed: call durations stay 0."
            )
            return {}
        self._thread.join()
        if self.error is not None:
            raise self.error
        skipped = set(skipped_ids)
        unreadable = sorted(
            call_id
            for call_id, seconds in self.results.items()
            if not seconds and call_id not in skipped
        )
        if unreadable:
            notes.append(
                f"ffprobe could not read the duration of {len(unreadable)} call(s), kept as 0: "
                + ", ".join(unreadable[:10])
                + (" …" if len(unreadable) > 10 else "")
            )
        return self.results

    def stop(self) -> None:
        """Let the thread end after the recording it is on (when the run stops early)."""
        self._stop.set()
