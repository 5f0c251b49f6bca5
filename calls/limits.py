"""How much a reader may send, and the room the site always keeps for everything else.

Every recording is written into the replicated database and shipped to every machine, whose
volumes are small (1 GB in the README's deployment). So:

- a reader has at most CALLS_MAX_WAITING_PER_READER calls waiting for an answer, and may send at
  most CALLS_DAILY_BYTES_PER_READER bytes of recordings in any 24 hours. Bytes rather than a
  count, because bytes are what fill the disk and cross the network: a count would let a
  10 MB WAV through as cheaply as a 200 KB voice note. Uploads are kept in CallUpload for a day,
  so deleting a call (or having it published) does not give its bytes back;
- nobody's recording is stored while it would leave less than CALLS_MIN_FREE_DISK_BYTES free on
  the volume that holds the site database, so that sessions and post reads always find room.

Views check early, before ffprobe runs, to answer quickly; the check that counts runs again
inside the transaction that inserts. The site database begins every transaction IMMEDIATE
(SQLite's write lock is taken at BEGIN), so two uploads from one reader cannot both pass the
check before either has inserted.
"""

import datetime as dt
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from calls.models import Call, CallUpload

logger = logging.getLogger(__name__)

BUDGET_WINDOW = dt.timedelta(hours=24)


class LimitReached(Exception):
    """A recording that cannot be taken now; the message is for the person sending it."""

    status = 429
    code = "limit"

    def __init__(self, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    def as_validation_error(self) -> ValidationError:
        return ValidationError(self.message, code=self.code)


class TooManyWaiting(LimitReached):
    code = "too_many_waiting"


class DailyBudgetSpent(LimitReached):
    code = "daily_budget"


class CallsClosed(LimitReached):
    """A limit set to 0: the call-in line is closed."""

    code = "closed"


class StorageLow(LimitReached):
    """507 Insufficient Storage, not 503: the cause is the disk, and it does not go away in a
    second (503 + Retry-After is what the replication middleware answers for a missing primary).
    """

    status = 507
    code = "storage_low"


def database_folder() -> Path:
    """The folder of the site database: on Fly, the LiteFS mount, whose statfs() LiteFS
    passes through to the volume under its data directory."""
    return Path(connections["default"].settings_dict["NAME"]).parent


def free_disk_bytes() -> int:
    return shutil.disk_usage(database_folder()).free


def check_storage(*, incoming_bytes: int) -> None:
    """Raise StorageLow when storing `incoming_bytes` more would leave less than the floor free."""
    free = free_disk_bytes()
    if free - incoming_bytes >= settings.CALLS_MIN_FREE_DISK_BYTES:
        return
    log = logger.error if incoming_bytes else logger.warning  # a refused recording, or a page
    log(
        "New recordings refused (this one: %d bytes): %d bytes free beside %s, and "
        "CALLS_MIN_FREE_DISK_BYTES keeps %d. Grow the volume.",
        incoming_bytes,
        free,
        database_folder(),
        settings.CALLS_MIN_FREE_DISK_BYTES,
    )
    raise StorageLow(
        "The site is short of storage space just now, so it cannot take new recordings. "
        "Nothing is lost: please try again later."
    )


@dataclass(frozen=True)
class Allowance:
    """Where a reader stands against the per-reader limits at one moment."""

    waiting: int
    max_waiting: int
    sent_bytes: int
    budget_bytes: int
    # (when, bytes) of each upload still inside the window, oldest first.
    uploads: tuple[tuple[dt.datetime, int], ...]

    @property
    def remaining_bytes(self) -> int:
        return max(0, self.budget_bytes - self.sent_bytes)

    def room_from(self, incoming_bytes: int) -> dt.datetime | None:
        """When enough of today's uploads have left the window for `incoming_bytes` to fit;
        None if it never fits (bigger than the whole budget)."""
        if incoming_bytes > self.budget_bytes:
            return None
        missing = incoming_bytes - self.remaining_bytes
        for sent_at, size in self.uploads:
            missing -= size
            if missing <= 0:
                return sent_at + BUDGET_WINDOW
        return None

    def check(self, *, incoming_bytes: int, now: dt.datetime) -> None:
        """Raise CallsClosed, TooManyWaiting or DailyBudgetSpent when `incoming_bytes` more is
        not allowed now."""
        if not (self.max_waiting and self.budget_bytes):
            raise CallsClosed("We are not taking calls just now. Please come back later.")
        if self.waiting >= self.max_waiting:
            calls = "call" if self.max_waiting == 1 else "calls"
            raise TooManyWaiting(
                f"You have {self.waiting} {calls} waiting for an answer, the most we keep for one "
                f"reader ({self.max_waiting}). Delete one of them below, or wait until we answer "
                "one, to send another."
            )
        if incoming_bytes <= self.remaining_bytes and self.remaining_bytes > 0:
            return
        budget = filesizeformat(self.budget_bytes)
        when = self.room_from(max(incoming_bytes, 1))
        if when is None:
            raise DailyBudgetSpent(
                f"This recording is {filesizeformat(incoming_bytes)}, more than the {budget} "
                "a reader may send in 24 hours. Please send a shorter one."
            )
        wait = max(1, int((when - now).total_seconds()) + 1)
        left = (
            f"{filesizeformat(self.remaining_bytes)} of it is left"
            if self.remaining_bytes
            else "you have used it all"
        )
        this = f"this one ({filesizeformat(incoming_bytes)})" if incoming_bytes else "more"
        raise DailyBudgetSpent(
            f"A reader may send {budget} of recordings in 24 hours, and {left}. You can send "
            f"{this} after {when:%H:%M} UTC on {when.day} {when:%B}, when earlier recordings "
            "stop counting.",
            retry_after=wait,
        )


def allowance(*, user, now: dt.datetime | None = None) -> Allowance:
    now = now or timezone.now()
    uploads = tuple(
        CallUpload.objects.by(user)
        .since(now - BUDGET_WINDOW)
        .order_by("created_at")
        .values_list("created_at", "size_bytes")
    )
    return Allowance(
        waiting=Call.objects.waiting_count(user),
        max_waiting=settings.CALLS_MAX_WAITING_PER_READER,
        sent_bytes=sum(size for _, size in uploads),
        budget_bytes=settings.CALLS_DAILY_BYTES_PER_READER,
        uploads=uploads,
    )


def refusal_for_call(*, user, incoming_bytes: int) -> LimitReached | None:
    """The reason a call of `incoming_bytes` would be refused now, if any: the early answer."""
    try:
        check_storage(incoming_bytes=incoming_bytes)
        allowance(user=user).check(incoming_bytes=incoming_bytes, now=timezone.now())
    except LimitReached as refusal:
        return refusal
    return None


def refusal_for_response(*, incoming_bytes: int) -> StorageLow | None:
    """The reason staff's response of `incoming_bytes` would be refused now, if any."""
    try:
        check_storage(incoming_bytes=incoming_bytes)
    except StorageLow as refusal:
        return refusal
    return None


def store_call(*, user, title: str, description: str, keywords: str, recording) -> Call:
    """Insert a reader's call if every limit allows it, in one IMMEDIATE transaction with the
    checks; raises LimitReached otherwise, with nothing written."""
    size = len(recording.data)
    with transaction.atomic():
        now = timezone.now()
        check_storage(incoming_bytes=size)
        allowance(user=user, now=now).check(incoming_bytes=size, now=now)
        call = Call.objects.create(
            user=user,
            title=title,
            description=description,
            keywords=keywords,
            audio=recording.data,
            audio_mime_type=recording.mime_type,
            duration_seconds=recording.duration_seconds,
        )
        CallUpload.objects.create(user=user, created_at=now, size_bytes=size)
        # Yesterday's uploads no longer count against anyone.
        CallUpload.objects.before(now - BUDGET_WINDOW).delete()
    return call


def store_response(*, call: Call, recording) -> Call:
    """Keep staff's answer on the call, if the disk has room for it (staff have no budget)."""
    with transaction.atomic():
        check_storage(incoming_bytes=len(recording.data))
        call.response_audio = recording.data
        call.response_mime_type = recording.mime_type
        call.response_duration_seconds = recording.duration_seconds
        call.save(
            update_fields=[
                "response_audio",
                "response_mime_type",
                "response_duration_seconds",
                "updated_at",
            ]
        )
    return call
